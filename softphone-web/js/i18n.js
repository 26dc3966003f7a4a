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

// localeTime formats an RFC 3339 time as the hour and minute.
export function localeTime(ts) {
  if (!ts) return '';
  const tag = current === 'be' ? 'be-BY' : current === 'en' ? 'en-GB' : 'ru-RU';
  return new Date(ts).toLocaleString(tag, {day: '2-digit', month: '2-digit', hour: '2-digit', minute: '2-digit'});
}

// awayReason translates the reasons the server sets; a reason a person
// typed shows as it is.
const reasons = {supervisor: 'away.supervisor', disconnected: 'away.disconnected', 'missed offers': 'away.missed_offers'};
export function awayReason(r) {
  return reasons[r] ? t(reasons[r]) : r;
}
