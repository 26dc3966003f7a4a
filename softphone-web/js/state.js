// The app's state, fed by the websocket. Views listen for 'change' events
// whose detail names what changed: 'me', 'status', 'offer', 'items',
// 'queues', 'board', 'conn', 'selected'; for 'mailing' events whose
// detail is a mailing's new state and counts; and for 'history' events
// whose detail is {item_id, type}: an item's history grew outside the
// router (a reply given up), after the item was read again.

import {api} from './api.js';

class State extends EventTarget {
  constructor() {
    super();
    this.reset();
  }

  reset() {
    this.me = null;
    this.status = {status: 'offline', active: []};
    this.offer = null;      // {item, deadline}
    this.items = new Map(); // my open items by id
    this.queues = new Map();
    this.board = null;
    this.conn = 'closed';
    this.selected = 0;
    this.closed = new Set(); // items whose closed event came
  }

  changed(what) {
    this.dispatchEvent(new CustomEvent('change', {detail: what}));
  }

  isSupervisor() {
    return this.me && (this.me.role === 'supervisor' || this.me.role === 'admin');
  }

  // apply takes one server message.
  apply(m) {
    switch (m.type) {
      case 'snapshot': return this.applySnapshot(m.snapshot);
      case 'event': return this.applyEvent(m.event);
      case 'queue': this.queues.set(m.queue.name, m.queue); return this.changed('queues');
      case 'board': this.board = m.board; return this.changed('board');
      case 'mailing': return this.dispatchEvent(new CustomEvent('mailing', {detail: m.data}));
      case 'history': return this.applyHistory(m.data);
    }
  }

  applySnapshot(s) {
    this.me = {...this.me, ...s.me};
    this.status = s.status || {status: 'offline', active: []};
    this.offer = s.offer;
    this.items = new Map(s.items.map((it) => [it.id, it]));
    this.queues = new Map(s.queues.map((q) => [q.name, q]));
    if (s.board) this.board = s.board;
    if (!this.items.has(this.selected)) this.selected = this.items.size ? [...this.items.keys()][0] : 0;
    for (const what of ['status', 'offer', 'items', 'queues', 'board', 'selected']) this.changed(what);
  }

  applyEvent(e) {
    const mine = this.me && e.helper_id === this.me.user_id;
    if (mine) this.applyStatusEvent(e);
    if (!mine && !this.items.has(e.item_id) && !(this.offer && this.offer.item.id === e.item_id)) {
      this.changed('event');
      return;
    }
    this.applyItemEvent(e);
    this.changed('event');
  }

  applyStatusEvent(e) {
    const s = {...this.status};
    switch (e.type) {
      case 'logged_in': case 'resumed': s.status = 'available'; s.reason = ''; break;
      case 'paused': s.status = 'away'; s.reason = e.reason; break;
      case 'logged_out': s.status = 'offline'; s.reason = ''; break;
      case 'completed': s.wrapup = e.state === 'wrapup'; break;
      case 'wrapup_ended': s.wrapup = false; break;
      default: return;
    }
    s.since = e.at;
    this.status = s;
    this.changed('status');
  }

  async applyItemEvent(e) {
    switch (e.type) {
      case 'offered':
        this.offer = {item: await api('GET', `/items/${e.item_id}`), deadline: e.deadline};
        return this.changed('offer');
      case 'rejected': case 'timed_out': case 'withdrawn':
        if (this.offer && this.offer.item.id === e.item_id) this.offer = null;
        return this.changed('offer');
      case 'closed':
        this.closed.add(e.item_id);
        this.items.delete(e.item_id);
        if (this.selected === e.item_id) this.selected = 0;
        this.changed('items');
        return this.changed('selected');
      case 'accepted':
        this.offer = null;
        this.changed('offer');
        this.selected = e.item_id;
        await this.refresh(e.item_id);
        return this.changed('selected');
      case 'completed':
        if (e.state !== 'wrapup') return; // closed follows at once
        return this.refresh(e.item_id);
      default:
        return this.refresh(e.item_id);
    }
  }

  // applyHistory reads one of my items again when its history grew
  // outside the router, so that its marks show.
  async applyHistory(d) {
    if (this.items.has(d.item_id)) await this.refresh(d.item_id);
    this.dispatchEvent(new CustomEvent('history', {detail: d}));
  }

  // refresh reloads one of my items, dropping it when it is no longer mine;
  // an answer that comes back after the item's closed event is ignored.
  async refresh(id) {
    try {
      const it = await api('GET', `/items/${id}`);
      if (this.closed.has(id)) return;
      if (it.helper_id === this.me.user_id && it.state !== 'closed') this.items.set(id, it);
      else this.items.delete(id);
    } catch {
      this.items.delete(id);
    }
    this.changed('items');
  }
}

export const state = new State();
