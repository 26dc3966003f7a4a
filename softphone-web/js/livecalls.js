// The wallboard's live calls: who talks to whom, in which queue, for how
// long, and the supervisor's listen, whisper, barge and leave.

import {h, replace, clock, since, toast} from './dom.js';
import {t} from './i18n.js';
import {state} from './state.js';
import {monitor, modes} from './monitor.js';

// refreshMs is how often the list is asked for while the wallboard shows.
const refreshMs = 2000;

class MorozLiveCalls extends HTMLElement {
  connectedCallback() {
    this.classList.add('card');
    this.id = 'livecalls';
    this.calls = [];
    this.onChange = () => this.render();
    this.onEvent = (ev) => { if (ev.detail === 'event') this.load(); };
    monitor.addEventListener('change', this.onChange);
    state.addEventListener('change', this.onEvent);
    this.poll = setInterval(() => this.load(), refreshMs);
    this.tick = setInterval(() => this.updateClocks(), 1000);
    this.render();
    this.load();
  }

  disconnectedCallback() {
    monitor.removeEventListener('change', this.onChange);
    state.removeEventListener('change', this.onEvent);
    clearInterval(this.poll);
    clearInterval(this.tick);
  }

  async load() {
    try {
      this.calls = await monitor.calls();
      this.render();
    } catch {
      // not connected yet, or no softphone here: the next poll retries
    }
  }

  updateClocks() {
    for (const el of this.querySelectorAll('[data-since]')) el.textContent = clock(since(el.dataset.since));
  }

  helperName(id) {
    const x = ((state.board && state.board.helpers) || []).find((hp) => hp.helper_id === id);
    return x ? x.name || x.login : '#' + id;
  }

  render() {
    if (monitor.error) toast(t(monitor.error), 'bad');
    monitor.error = '';
    replace(this, h('h3', null, t('monitor.title'), h('span', {class: 'count'}, this.calls.length)),
      this.calls.length === 0 ? h('p', {class: 'muted'}, t('monitor.none')) :
        h('table', {class: 'grid-table'},
          h('thead', null, h('tr', null, ['helper', 'from', 'queue', 'time', 'monitor'].map((k) => h('th', null, t('monitor.col_' + k))))),
          h('tbody', null, this.calls.map((c) => this.row(c)))));
    this.updateClocks();
  }

  row(c) {
    const mine = monitor.active && monitor.active.call === c.call ? monitor.active : null;
    const other = !mine && c.monitor && c.monitor.supervisor_id !== state.me.user_id;
    const mode = mine ? mine.mode : null;
    return h('tr', {'data-call': c.call, class: mine ? 'monitored' : ''},
      h('td', null, this.helperName(c.helper_id), c.held ? h('span', {class: 'pill'}, t('phone.on_hold')) : null,
        c.desk ? h('span', {class: 'pill', 'data-desk': ''}, t('monitor.desk_phone')) : null,
        c.callback ? h('span', {class: 'pill', 'data-callback': ''}, t('monitor.callback')) : null),
      h('td', null, c.from),
      h('td', null, c.queue || '—', c.item_id ? h('div', {class: 'muted small'}, '#' + c.item_id) : null),
      h('td', {class: 'num'}, h('span', {'data-since': c.since}, '')),
      h('td', {class: 'actions monitor-actions'},
        other ? h('span', {class: 'pill'}, t('monitor.by_other', {mode: t('monitor.' + c.monitor.mode)})) : [
          modes.map((m) => h('button', {class: 'small' + (mode === m ? ' active' : ''), 'data-mode': m,
            'aria-pressed': String(mode === m), disabled: mine && mine.state === 'connecting',
            onclick: () => monitor.start(c.call, m)}, t('monitor.' + m))),
          mine ? h('button', {class: 'small danger', 'data-op': 'leave', onclick: () => monitor.leave()}, t('monitor.leave')) : null]));
  }
}

customElements.define('moroz-livecalls', MorozLiveCalls);
