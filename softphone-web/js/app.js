// The app's shell: login, the top bar (status, language, logout), the
// tabs, and the websocket that feeds the state.

import {api, ApiError, Socket} from './api.js';
import {h, replace, toast} from './dom.js';
import {load, t, languages, lang} from './i18n.js';
import {state} from './state.js';
import './desk.js';
import './board.js';
import './admin.js';
import {phone} from './softphone.js';
import {monitor} from './monitor.js';
import './callpanel.js';
import {visitorTyping} from './typing.js';

class MorozApp extends HTMLElement {
  async connectedCallback() {
    state.addEventListener('change', (ev) => {
      if (ev.detail === 'status' || ev.detail === 'conn') this.renderBar();
    });
    try {
      state.me = await api('GET', '/me');
    } catch (err) {
      await load('ru');
      return this.renderLogin(err instanceof ApiError && err.status === 401 ? '' : t('error.unavailable'));
    }
    await this.start();
  }

  async start() {
    await load(state.me.lang || 'ru');
    this.tab = state.isSupervisor() ? 'board' : 'desk';
    this.socket = new Socket((m) => this.onMessage(m), (s) => {
      state.conn = s;
      state.changed('conn');
      if (s === 'revoked') this.restart();
      if (s === 'open') phone.open();
    });
    phone.attach(this.socket);
    window.moroz = {socket: this.socket, state, phone, monitor};
    this.renderShell();
    this.socket.open();
  }

  onMessage(m) {
    if (m.type === 'revoked') return; // the socket closes with 4003 next
    if (m.type === 'softphone') return phone.onMessage(m.data);
    if (m.type === 'typing') return visitorTyping(m.data);
    state.apply(m);
  }

  // restart starts over after the account changed: with the new role if
  // the session still holds, at the login otherwise.
  async restart() {
    this.socket.close();
    state.reset();
    try {
      state.me = await api('GET', '/me');
      await this.start();
    } catch {
      this.renderLogin(t('login.revoked'));
    }
  }

  renderLogin(message) {
    const err = h('p', {class: 'login-error', role: 'alert'}, message || '');
    const loginIn = h('input', {name: 'login', autocomplete: 'username', required: true, autofocus: true});
    const passIn = h('input', {name: 'password', type: 'password', autocomplete: 'current-password', required: true});
    const form = h('form', {class: 'login-card', onsubmit: async (ev) => {
      ev.preventDefault();
      try {
        await api('POST', '/session', {login: loginIn.value, password: passIn.value});
        state.reset();
        state.me = await api('GET', '/me');
        await this.start();
      } catch (e) {
        err.textContent = e.status === 429 ? t('login.limited') : e.status === 401 ? t('login.failed') : t('error.unavailable');
      }
    }},
      h('div', {class: 'brand big'}, h('span', {class: 'logo'}, '❄'), ' Moroz'),
      h('p', {class: 'muted'}, t('login.title')),
      h('label', null, t('login.login'), loginIn),
      h('label', null, t('login.password'), passIn),
      err,
      h('button', {type: 'submit', class: 'primary', id: 'login-submit'}, t('login.submit')));
    replace(this, h('main', {class: 'login'}, form));
  }

  renderShell() {
    this.bar = h('header', {class: 'topbar'});
    this.main = h('main', {class: 'content'});
    this.callPanel = document.createElement('moroz-callpanel');
    replace(this, this.bar, this.main, this.callPanel);
    this.renderBar();
    this.renderTab();
  }

  renderBar() {
    if (!this.bar || !state.me) return;
    const tabs = [['desk', t('tab.desk')]];
    if (state.isSupervisor()) tabs.push(['board', t('tab.board')], ['admin', t('tab.admin')]);
    const status = h('select', {id: 'status', 'aria-label': t('status.label'), class: `status-select ${state.status.status}`,
      onchange: (ev) => this.setStatus(ev.target.value)},
      ['available', 'away', 'offline'].map((s) =>
        h('option', {value: s, selected: state.status.status === s}, t('status.' + s))));
    const langSel = h('select', {id: 'lang', 'aria-label': t('lang.label'), onchange: (ev) => this.setLang(ev.target.value)},
      languages.map((l) => h('option', {value: l, selected: lang() === l}, t('lang.' + l))));
    replace(this.bar,
      h('div', {class: 'brand'}, h('span', {class: 'logo'}, '❄'), ' Moroz'),
      h('nav', {class: 'tabs'}, tabs.map(([id, label]) =>
        h('button', {class: id === this.tab ? 'tab active' : 'tab', id: 'tab-' + id,
          onclick: () => { this.tab = id; this.renderBar(); this.renderTab(); }}, label))),
      h('div', {class: 'spacer'}),
      h('span', {class: 'conn ' + state.conn, title: t('conn.' + state.conn)}, t('conn.' + state.conn)),
      state.status.wrapup ? h('span', {class: 'pill wrapup'}, t('status.wrapup')) : null,
      status, langSel,
      h('span', {class: 'who'}, state.me.name || state.me.login, h('small', null, t('role.' + state.me.role))),
      h('button', {class: 'ghost', id: 'logout', onclick: () => this.logout()}, t('login.logout')));
  }

  renderTab() {
    const el = {desk: 'moroz-desk', board: 'moroz-board', admin: 'moroz-admin'}[this.tab];
    const view = document.createElement(el);
    view.socket = this.socket;
    replace(this.main, view);
    // The call panel docks in the desk's left column, where it covers
    // neither the item nor the contact card; on the other tabs it floats.
    (view.phoneSlot || this).append(this.callPanel);
  }

  async setStatus(s) {
    try {
      await this.socket.request('status', {status: s});
    } catch (e) {
      toast(t('error.' + e.message), 'bad');
    }
  }

  async setLang(l) {
    await api('PATCH', '/me', {lang: l});
    state.me.lang = l;
    await load(l);
    this.renderBar();
    this.renderTab();
  }

  async logout() {
    this.socket.close();
    await api('DELETE', '/session').catch(() => {});
    state.reset();
    this.renderLogin('');
  }
}

customElements.define('moroz-app', MorozApp);
