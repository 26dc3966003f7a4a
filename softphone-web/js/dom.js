// Small helpers to build DOM without innerHTML, so that no text from a
// letter or a contact can ever become markup.

// h builds an element: h('div', {class: 'x', onclick: f}, child, ...).
// Children are nodes, strings, numbers, arrays of them, or null (skipped).
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'value') el.value = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : String(c));
  }
}

// svg builds an SVG element the same way.
export function svg(tag, attrs, ...children) {
  const el = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
  append(el, children);
  return el;
}

// replace puts children in place of everything el holds.
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
}

// seconds formats a duration in seconds as m:ss or h:mm:ss.
export function clock(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const hh = Math.floor(s / 3600), mm = Math.floor((s % 3600) / 60), ss = s % 60;
  const pad = (n) => String(n).padStart(2, '0');
  return hh > 0 ? `${hh}:${pad(mm)}:${pad(ss)}` : `${mm}:${pad(ss)}`;
}

// since returns the seconds from an RFC 3339 time to now.
export function since(t) {
  return t ? (Date.now() - Date.parse(t)) / 1000 : 0;
}

// toast shows a short message at the bottom of the page.
export function toast(message, kind) {
  let box = document.getElementById('toasts');
  if (!box) {
    box = h('div', {id: 'toasts', role: 'status'});
    document.body.append(box);
  }
  const el = h('div', {class: 'toast ' + (kind || '')}, message);
  box.append(el);
  setTimeout(() => el.remove(), 4000);
}
