// An item's history (GET /api/v1/items/{id}/history) as the desk shows
// it: one line per event, oldest first, in the helper's language.

import {clock, h} from './dom.js';
import {has, localeTime, t} from './i18n.js';

// failed are the events a helper must notice: what the item's contact
// did not get, or a call that did not go through.
const failed = ['send_failed', 'callback_unanswered', 'callback_unreachable', 'timed_out', 'abandoned'];

// tOr translates key, or shows fallback when the catalogue has no such
// key (a cause or reason a newer server sends).
function tOr(key, fallback, vars) {
  return has(key) ? t(key, vars) : fallback;
}

// keyOf picks the message of an entry: some events read differently with
// a reason, a helper or a retry.
function keyOf(e) {
  if (e.type === 'rejected' && e.reason === 'busy') return 'history.rejected_busy';
  if (e.type === 'transferred' && e.helper_id) return 'history.transferred_helper';
  if (e.type === 'callback_unanswered' && e.retry_at) return 'history.callback_unanswered_retry';
  if (e.type === 'missed' && e.reason) return 'history.missed_reason';
  return 'history.' + e.type;
}

// entryText is one entry as a sentence; an event the catalogue does not
// know shows its type.
export function entryText(e) {
  const vars = {
    helper: e.helper || (e.helper_id ? '#' + e.helper_id : t('history.someone')),
    queue: e.queue || '—',
    from_queue: e.from_queue || '—',
    outcome: e.outcome ? tOr('outcome.' + e.outcome, e.outcome) : '—',
    reason: e.reason ? tOr('history.reason.' + e.reason, e.reason) : '',
    cause: e.cause ? tOr('history.cause.' + e.cause, e.cause) : '',
    error: e.error || '',
    attempt: e.attempt || 1,
    attempts: e.attempts || 0,
    wait: clock(e.seconds || 0),
    retry: localeTime(e.retry_at),
  };
  return tOr(keyOf(e), e.type, vars);
}

// historyCard lists the entries; the failed ones stand out.
export function historyCard(entries) {
  return h('div', {class: 'card history-card', id: 'item-history'},
    h('h3', null, t('history.title'), h('span', {class: 'count'}, entries.length)),
    entries.length === 0 ? h('p', {class: 'muted'}, t('history.empty')) :
      h('ol', {class: 'timeline'}, entries.map((e) =>
        h('li', {class: failed.includes(e.type) ? 'bad' : '', 'data-type': e.type},
          h('time', {datetime: e.at, class: 'muted small'}, localeTime(e.at, true)),
          h('span', {class: 'what'}, entryText(e),
            e.note ? h('div', {class: 'muted small'}, t('history.note', {note: e.note})) : null)))));
}
