// The supervisor wallboard: today's counts, queues, helpers (with force
// away and log out), missed calls with their callback, charts and
// mailings.

import {api} from './api.js';
import {h, replace, clock, since, toast} from './dom.js';
import {t, localeTime, awayReason} from './i18n.js';
import {state} from './state.js';
import {bars, hourly} from './chart.js';
import './livecalls.js';
import './mailings.js';

const counts = ['offered', 'answered', 'missed', 'abandoned', 'voicemail', 'open_callbacks', 'unanswered'];

class MorozBoard extends HTMLElement {
  connectedCallback() {
    this.tiles = h('section', {class: 'tiles', id: 'counts'});
    this.queuesBox = h('div', {class: 'card'});
    this.helpersBox = h('div', {class: 'card'});
    this.missedBox = h('div', {class: 'card'});
    this.charts = h('div', {class: 'card charts'});
    this.liveBox = document.createElement('moroz-livecalls');
    this.mailingsBox = document.createElement('moroz-mailings');
    replace(this, h('div', {class: 'board'}, this.tiles,
      h('div', {class: 'board-grid'}, this.liveBox, this.queuesBox, this.helpersBox, this.missedBox, this.charts, this.mailingsBox)));
    this.onChange = (ev) => {
      if (ev.detail === 'board') this.render();
      if (ev.detail === 'event') this.soon();
    };
    state.addEventListener('change', this.onChange);
    this.tick = setInterval(() => this.updateClocks(), 1000);
    this.slow = setInterval(() => this.loadHistory(), 15000);
    this.render();
    this.loadHistory();
  }

  disconnectedCallback() {
    state.removeEventListener('change', this.onChange);
    clearInterval(this.tick);
    clearInterval(this.slow);
    clearTimeout(this.pending);
  }

  // soon reloads the missed calls and charts a little after events settle.
  soon() {
    clearTimeout(this.pending);
    this.pending = setTimeout(() => this.loadHistory(), 1500);
  }

  updateClocks() {
    for (const el of this.querySelectorAll('[data-since]')) el.textContent = clock(since(el.dataset.since));
  }

  render() {
    const b = state.board;
    if (!b) return;
    const today = b.live.today || {};
    replace(this.tiles, counts.map((k) => h('div', {class: 'tile ' + k, 'data-count': k},
      h('div', {class: 'tile-num'}, today[k] || 0), h('div', {class: 'tile-label'}, t('count.' + k)))));
    this.renderQueues(b);
    this.renderHelpers(b);
    this.updateClocks();
  }

  renderQueues(b) {
    const longest = new Map((b.live.queues || []).map((q) => [q.name, q.longest_wait]));
    replace(this.queuesBox, h('h3', null, t('board.queues')),
      h('table', {class: 'grid-table', id: 'queues'},
        h('thead', null, h('tr', null, ['queue', 'waiting', 'longest', 'sl', 'free'].map((k) => h('th', null, t('board.col_' + k))))),
        h('tbody', null, b.queues.map((q) => h('tr', {class: q.waiting ? 'hot' : ''},
          h('td', null, q.name, q.open ? null : h('span', {class: 'pill'}, t('board.closed'))),
          h('td', {class: 'num'}, q.waiting),
          h('td', {class: 'num'}, q.waiting ? clock(longest.get(q.name) || 0) : '—'),
          h('td', {class: 'num'}, q.service_level == null ? '—' : Math.round(q.service_level * 100) + '%'),
          h('td', {class: 'num'}, `${q.free}/${q.logged_in}`))))),
      h('p', {class: 'muted small'}, t('board.queues_from_config')));
  }

  renderHelpers(b) {
    replace(this.helpersBox, h('h3', null, t('board.helpers')),
      h('table', {class: 'grid-table', id: 'helpers'},
        h('thead', null, h('tr', null, ['helper', 'status', 'item', 'time', 'actions'].map((k) => h('th', null, t('board.col_' + k))))),
        h('tbody', null, b.helpers.map((x) => h('tr', {'data-helper': x.helper_id},
          h('td', null, x.name || x.login),
          h('td', null, h('span', {class: 'dot ' + (x.busy ? 'busy' : x.status)}), x.busy ? t('status.busy') : t('status.' + x.status),
            x.wrapup ? h('span', {class: 'pill wrapup'}, t('status.wrapup')) : null,
            x.reason ? h('div', {class: 'muted small'}, awayReason(x.reason)) : null),
          h('td', null, x.active.length ? '#' + x.active.join(', #') : x.offer ? t('board.offered', {id: x.offer}) : '—'),
          h('td', {class: 'num'}, x.since ? h('span', {'data-since': x.since}, '') : '—'),
          h('td', {class: 'actions'}, x.status === 'offline' ? null : [
            h('button', {class: 'small', onclick: () => this.force(x.helper_id, 'away')}, t('board.force_away')),
            h('button', {class: 'small danger', onclick: () => this.force(x.helper_id, 'offline')}, t('board.force_out'))]))))));
  }

  async force(id, status) {
    try {
      await this.socket.request('force_status', {helper_id: id, status});
      toast(t('board.forced'), 'good');
    } catch (e) {
      toast(t('error.' + e.message), 'bad');
    }
  }

  async loadHistory() {
    const midnight = new Date();
    midnight.setHours(0, 0, 0, 0);
    try {
      const [calls, missed, callbacks, items] = await Promise.all([
        api('GET', '/calls?since=' + encodeURIComponent(midnight.toISOString())),
        api('GET', '/calls?missed=true'),
        api('GET', '/items?channel=callback&limit=1000'),
        api('GET', '/items?limit=1000')]);
      this.renderMissed(missed.calls, callbacks.items);
      this.renderCharts(calls.calls, items.items);
    } catch {
      // the next tick retries
    }
  }

  renderMissed(calls, callbacks) {
    const byParent = new Map(callbacks.map((c) => [c.parent_id, c]));
    replace(this.missedBox, h('h3', null, t('board.missed'), h('span', {class: 'count'}, calls.length)),
      calls.length === 0 ? h('p', {class: 'muted'}, t('board.no_missed')) :
        h('table', {class: 'grid-table', id: 'missed'},
          h('thead', null, h('tr', null, ['from', 'when', 'reason', 'callback'].map((k) => h('th', null, t('board.col_' + k))))),
          h('tbody', null, calls.slice(0, 50).map((c) => {
            const cb = byParent.get(c.item_id);
            return h('tr', null, h('td', null, c.from), h('td', null, localeTime(c.arrived_at)),
              h('td', null, c.reason ? t('reason.' + c.reason) : '—'),
              h('td', null, cb ? h('span', {class: 'state ' + cb.state}, t('state.' + cb.state)) : h('span', {class: 'muted'}, t('board.no_callback'))));
          }))));
  }

  renderCharts(calls, items) {
    const answered = calls.filter((c) => c.connected_at).map((c) => c.arrived_at);
    const missed = calls.filter((c) => !c.connected_at && c.ended_at).map((c) => c.arrived_at);
    replace(this.charts,
      bars(t('board.chart_volume'), [{label: t('board.chart_items'), cls: 's1', values: hourly(items.map((i) => i.created_at))}]),
      bars(t('board.chart_calls'), [
        {label: t('board.chart_answered'), cls: 's2', values: hourly(answered)},
        {label: t('board.chart_missed'), cls: 's3', values: hourly(missed)}]));
  }
}

customElements.define('moroz-board', MorozBoard);
