// Message catalogues: every string the app shows comes from
// /i18n/{lang}.json. Russian is the default.

export const languages = ['ru', 'be', 'en'];
let messages = {};
let current = 'ru';

// load fetches the catalogue of lang (ru when unknown).
export async function load(lang) {
  if (!languages.includes(lang)) lang = 'ru';
  const res = await fetch(`/i18n/${lang}.json`);
  messages = await res.json();
  current = lang;
  document.documentElement.lang = lang;
}

export function lang() { return current; }

// t returns the message of key with {name} placeholders filled from vars.
export function t(key, vars) {
  let s = messages[key];
  if (s === undefined) return key;
  for (const [k, v] of Object.entries(vars || {})) s = s.replaceAll(`{${k}}`, String(v));
  return s;
}

// has reports whether the catalogue has key.
export function has(key) {
  return messages[key] !== undefined;
}

// localeTime formats an RFC 3339 time as the day, hour and minute, and
// the second too when seconds is true.
export function localeTime(ts, seconds) {
  if (!ts) return '';
  const tag = current === 'be' ? 'be-BY' : current === 'en' ? 'en-GB' : 'ru-RU';
  const opts = {day: '2-digit', month: '2-digit', hour: '2-digit', minute: '2-digit'};
  if (seconds) opts.second = '2-digit';
  return new Date(ts).toLocaleString(tag, opts);
}

// awayReason translates the reasons the server sets; a reason a person
// typed shows as it is.
const reasons = {supervisor: 'away.supervisor', disconnected: 'away.disconnected', 'missed offers': 'away.missed_offers'};
export function awayReason(r) {
  return reasons[r] ? t(reasons[r]) : r;
}
