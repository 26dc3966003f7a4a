// The supervisor's mailings: each one's state, how many of its letters
// have gone out (a progress bar the websocket's mailing messages move),
// and start, pause and resume.

import {api} from './api.js';
import {h, replace, toast} from './dom.js';
import {t} from './i18n.js';
import {state} from './state.js';

// actions names the buttons each state offers.
const actions = {draft: ['start'], running: ['pause'], paused: ['resume'], done: []};

class MorozMailings extends HTMLElement {
  connectedCallback() {
    this.classList.add('card');
    this.id = 'mailings';
    this.mailings = new Map(); // by id
    this.onMailing = (ev) => this.put(ev.detail);
    state.addEventListener('mailing', this.onMailing);
    this.render();
    this.load();
  }

  disconnectedCallback() {
    state.removeEventListener('mailing', this.onMailing);
  }

  async load() {
    try {
      const res = await api('GET', '/mailings');
      // A message that came while the list was on its way is newer.
      for (const m of res.mailings) if (!this.mailings.has(m.id)) this.mailings.set(m.id, m);
      this.render();
    } catch {
      toast(t('mailings.not_loaded'), 'bad');
    }
  }

  // put takes a mailing's new state and counts; counts never go back.
  put(m) {
    const old = this.mailings.get(m.id);
    if (old && old.state === m.state && old.sent > m.sent) return;
    this.mailings.set(m.id, m);
    this.render();
  }

  async act(m, action) {
    try {
      const res = await api('POST', `/mailings/${m.id}/${action}`);
      this.put(res.mailing);
    } catch (e) {
      toast(t('mailings.action_failed', {error: e.message}), 'bad');
    }
  }

  render() {
    const ms = [...this.mailings.values()].sort((a, b) => b.id - a.id);
    replace(this, h('h3', null, t('mailings.title'), h('span', {class: 'count'}, ms.length)),
      ms.length === 0 ? h('p', {class: 'muted'}, t('mailings.none')) :
        h('table', {class: 'grid-table'},
          h('thead', null, h('tr', null, ['name', 'state', 'progress', 'actions'].map((k) => h('th', null, t('mailings.col_' + k))))),
          h('tbody', null, ms.map((m) => this.row(m)))));
  }

  row(m) {
    const pct = m.total > 0 ? Math.floor(100 * m.sent / m.total) : (m.state === 'done' ? 100 : 0);
    return h('tr', {'data-mailing': m.id, 'data-state': m.state},
      h('td', null, m.name),
      h('td', null, h('span', {class: 'pill mailing-' + m.state}, t('mailings.state_' + m.state))),
      h('td', {class: 'mailing-progress'},
        h('progress', {max: Math.max(m.total, 1), value: m.sent, 'aria-label': t('mailings.progress', {name: m.name})}),
        h('span', {class: 'num small', 'data-sent': m.sent, 'data-total': m.total},
          t('mailings.sent_of', {sent: m.sent, total: m.total, pct}))),
      h('td', {class: 'actions'}, (actions[m.state] || []).map((a) =>
        h('button', {class: 'small', 'data-op': a, onclick: () => this.act(m, a)}, t('mailings.' + a)))));
  }
}

customElements.define('moroz-mailings', MorozMailings);
