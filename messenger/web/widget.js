// Moroz chat widget. A site embeds it with
//   <script src="https://MOROZ/chat/widget.js" defer></script>
// It opens a chat with Moroz over a websocket (the visitor is known by a
// cookie Moroz sets), reconnects when the line drops, shows the place in
// line and the expected wait, shows when the helper is typing (and tells
// the helper when the visitor is), and offers the letter form when nobody
// is on duty.
(function () {
  "use strict";

  const script = document.currentScript;
  const base = new URL(script ? script.src : "/chat/widget.js", location.href);
  const wsURL = base.origin.replace(/^http/, "ws") + "/chat/ws";
  const formURL = base.origin + "/api/v1/forms/letter";

  const allTexts = {
    ru: {
      title: "Дед Мороз",
      placeholder: "Напишите сообщение…",
      send: "Отправить",
      connecting: "Соединяемся…",
      position: (p, w) => `Вы в очереди: ${p}-й` + (w > 0 ? `, ожидание около ${minutes(w)} мин.` : ""),
      withHelper: "Помощник Деда Мороза на связи",
      typing: "Помощник печатает…",
      letter: "Написать письмо",
      fields: { name: "Имя", age: "Возраст", city: "Город", email: "Email", wish: "Желание" },
      letterSent: (id) => `Письмо получено, номер ${id}. Спасибо!`,
      letterFailed: "Письмо не отправилось, попробуйте ещё раз.",
    },
    be: {
      title: "Дзед Мароз",
      placeholder: "Напішыце паведамленне…",
      send: "Адправіць",
      connecting: "Злучаемся…",
      position: (p, w) => `Вы ў чарзе: ${p}-і` + (w > 0 ? `, чаканне каля ${minutes(w)} хв.` : ""),
      withHelper: "Памочнік Дзеда Мароза на сувязі",
      typing: "Памочнік піша…",
      letter: "Напісаць ліст",
      fields: { name: "Імя", age: "Узрост", city: "Горад", email: "Email", wish: "Жаданне" },
      letterSent: (id) => `Ліст атрыманы, нумар ${id}. Дзякуй!`,
      letterFailed: "Ліст не адправіўся, паспрабуйце яшчэ раз.",
    },
    en: {
      title: "Ded Moroz",
      placeholder: "Write a message…",
      send: "Send",
      connecting: "Connecting…",
      position: (p, w) => `You are number ${p} in line` + (w > 0 ? `, about ${minutes(w)} min.` : ""),
      withHelper: "A helper of Ded Moroz is here",
      typing: "The helper is typing…",
      letter: "Write a letter",
      fields: { name: "Name", age: "Age", city: "City", email: "Email", wish: "Wish" },
      letterSent: (id) => `Letter received, number ${id}. Thank you!`,
      letterFailed: "The letter was not sent; please try again.",
    },
  };
  const minutes = (seconds) => Math.max(1, Math.round(seconds / 60));
  const lang = (document.documentElement.lang || "ru").slice(0, 2);
  const texts = allTexts[lang] || allTexts.ru;

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") e.className = v;
      else e.setAttribute(k, v);
    }
    for (const c of children) e.append(c);
    return e;
  }

  const style = el("style", {}, `
    .moroz-chat { position: fixed; right: 16px; bottom: 16px; width: 320px; max-height: min(520px, calc(100vh - 32px)); overflow-y: auto;
      display: flex; flex-direction: column; font: 14px/1.4 sans-serif; background: #fff;
      border: 1px solid #b9c6d8; border-radius: 8px; box-shadow: 0 4px 16px rgba(0,0,0,.15); z-index: 2147483000; }
    .moroz-chat header { background: #1f4e8c; color: #fff; padding: 8px 12px; border-radius: 8px 8px 0 0; font-weight: bold; }
    .moroz-chat .moroz-log { flex: 1; overflow-y: auto; padding: 8px; min-height: 80px; }
    .moroz-chat .moroz-msg { margin: 4px 0; padding: 6px 8px; border-radius: 6px; max-width: 85%; white-space: pre-wrap; }
    .moroz-chat .moroz-visitor { background: #dbe8ff; margin-left: auto; }
    .moroz-chat .moroz-bot { background: #f1f1f1; }
    .moroz-chat .moroz-helper { background: #e2f5e2; }
    .moroz-chat .moroz-status { padding: 4px 8px; color: #555; font-size: 12px; min-height: 16px; }
    .moroz-chat .moroz-typing { padding: 0 8px; color: #1f4e8c; font-size: 12px; font-style: italic; }
    .moroz-chat form { display: flex; gap: 4px; padding: 8px; border-top: 1px solid #e3e3e3; }
    .moroz-chat form.moroz-letter { flex-direction: column; }
    .moroz-chat input, .moroz-chat textarea { flex: 1; padding: 4px; font: inherit; }
    .moroz-chat .moroz-hidden { display: none; }
  `);

  const log = el("div", { class: "moroz-log", "aria-live": "polite" });
  const status = el("div", { class: "moroz-status" }, texts.connecting);
  const typingNote = el("div", { class: "moroz-typing moroz-hidden", "aria-live": "polite" }, texts.typing);
  const input = el("input", { type: "text", name: "text", placeholder: texts.placeholder, maxlength: "4096", autocomplete: "off" });
  const chatForm = el("form", { class: "moroz-input" }, input, el("button", { type: "submit" }, texts.send));
  const letterForm = buildLetterForm();
  const box = el("div", { class: "moroz-chat", role: "dialog", "aria-label": texts.title },
    el("header", {}, texts.title), log, typingNote, status, chatForm, letterForm);

  function buildLetterForm() {
    const f = el("form", { class: "moroz-letter moroz-hidden" }, el("strong", {}, texts.letter));
    const fields = [["name", "text", true], ["age", "number", false], ["city", "text", false], ["email", "email", false]];
    for (const [name, type, required] of fields) {
      const label = texts.fields[name];
      const i = el("input", { name, type, placeholder: label, "aria-label": label });
      if (required) i.required = true;
      f.append(i);
    }
    const wish = el("textarea", { name: "wish", placeholder: texts.fields.wish, "aria-label": texts.fields.wish, rows: "3" });
    wish.required = true;
    // The honeypot: hidden from people, filled by spam robots.
    const trap = el("input", { name: "website", type: "text", tabindex: "-1", autocomplete: "off", class: "moroz-hidden" });
    f.append(wish, trap, el("button", { type: "submit" }, texts.letter));
    return f;
  }

  function show(from, text) {
    log.append(el("div", { class: "moroz-msg moroz-" + from, "data-from": from }, text));
    log.scrollTop = log.scrollHeight;
  }

  let ws = null;
  let retry = 500;
  let seq = 0;
  const pending = new Map(); // id -> text, sent but not echoed yet
  let withHelper = false; // a helper has the chat: typing is worth telling
  let typingSent = 0; // when the visitor's last typing indicator went
  let typingTimer = 0;

  // The helper's indicator shows for a while after each one the server
  // passes on (it sends one every few seconds while the helper types).
  function helperTyping(on) {
    clearTimeout(typingTimer);
    typingNote.classList.toggle("moroz-hidden", !on);
    if (on) typingTimer = setTimeout(() => helperTyping(false), 6000);
  }

  function connect() {
    status.textContent = texts.connecting;
    log.replaceChildren();
    ws = new WebSocket(wsURL);
    ws.onopen = () => {
      retry = 500;
      status.textContent = "";
      for (const [id, text] of pending) ws.send(JSON.stringify({ type: "message", id, text }));
    };
    ws.onmessage = (ev) => handle(JSON.parse(ev.data));
    ws.onclose = () => {
      status.textContent = texts.connecting;
      setTimeout(connect, retry);
      retry = Math.min(retry * 2, 15000);
    };
  }

  function handle(f) {
    switch (f.type) {
      case "message":
        if (f.id) pending.delete(f.id);
        show(f.from, f.text);
        if (f.from === "helper") {
          status.textContent = texts.withHelper;
          box.dataset.position = "";
          withHelper = true;
          helperTyping(false);
        }
        break;
      case "queue":
        status.textContent = f.with_helper ? texts.withHelper : texts.position(f.position, f.wait_seconds || 0);
        box.dataset.position = f.with_helper ? "" : String(f.position);
        withHelper = !!f.with_helper;
        break;
      case "typing":
        helperTyping(true);
        break;
      case "offline":
        letterForm.classList.remove("moroz-hidden");
        break;
      case "ack":
        pending.delete(f.id);
        break;
      case "error":
        status.textContent = f.text;
        break;
    }
  }

  input.addEventListener("input", () => {
    const now = Date.now();
    if (!withHelper || !input.value || now - typingSent < 3000 || !ws || ws.readyState !== WebSocket.OPEN) return;
    typingSent = now;
    ws.send(JSON.stringify({ type: "typing" }));
  });

  chatForm.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    const id = Date.now().toString(36) + "-" + (seq++);
    pending.set(id, text);
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: "message", id, text }));
    input.value = "";
  });

  letterForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const body = {};
    for (const [k, v] of new FormData(letterForm)) if (v !== "") body[k] = v;
    if (!letterForm.dataset.key) letterForm.dataset.key = crypto.randomUUID ? crypto.randomUUID() : String(Date.now());
    try {
      const resp = await fetch(formURL, {
        method: "POST",
        headers: { "Content-Type": "application/json", "Idempotency-Key": letterForm.dataset.key },
        body: JSON.stringify(body),
      });
      const answer = await resp.json();
      if (!resp.ok) throw new Error(answer.error || resp.statusText);
      show("bot", texts.letterSent(answer.id));
      letterForm.reset();
      delete letterForm.dataset.key;
      letterForm.classList.add("moroz-hidden");
    } catch (e) {
      status.textContent = texts.letterFailed;
    }
  });

  function start() {
    document.head.append(style);
    document.body.append(box);
    connect();
  }
  if (document.body) start();
  else document.addEventListener("DOMContentLoaded", start);
})();
