// The call panel: the ringing call (answer, reject) and the call in
// progress (timer, level meter, mute, hold, keypad, hang up, microphone).

import {api} from './api.js';
import {h, replace, clock, since} from './dom.js';
import {t} from './i18n.js';
import {phone} from './softphone.js';
import {state} from './state.js';

const keys = ['1', '2', '3', '4', '5', '6', '7', '8', '9', '*', '0', '#'];

class MorozCallPanel extends HTMLElement {
  connectedCallback() {
    this.onChange = () => this.render();
    phone.addEventListener('change', this.onChange);
    this.tick = setInterval(() => this.update(), 100);
    this.render();
  }

  disconnectedCallback() {
    phone.removeEventListener('change', this.onChange);
    clearInterval(this.tick);
  }

  render() {
    const calls = [...phone.calls.values()];
    this.hidden = calls.length === 0 && !phone.error;
    replace(this, phone.error ? h('p', {class: 'phone-error', role: 'alert'}, t(phone.error)) : null,
      calls.map((c) => c.state === 'talking' ? this.talking(c) : this.ringing(c)));
  }

  ringing(c) {
    const busy = c.state === 'connecting';
    return h('div', {class: 'card call ringing', 'data-call': c.id},
      h('h3', null, '☎ ', t(busy ? 'phone.connecting' : 'phone.incoming')),
      h('p', {class: 'call-from'}, c.from),
      h('div', {class: 'actions'},
        h('button', {class: 'primary', id: 'phone-answer', disabled: busy, onclick: () => phone.answer(c.id)}, t('phone.answer')),
        h('button', {class: 'danger', id: 'phone-reject', disabled: busy, onclick: () => phone.reject(c.id)}, t('phone.reject'))));
  }

  talking(c) {
    return h('div', {class: 'card call talking' + (c.held ? ' held' : ''), 'data-call': c.id},
      h('h3', null, '☎ ', t(c.held ? 'phone.on_hold' : 'phone.talking'),
        h('span', {class: 'call-timer', 'data-since': c.since || ''}, clock(since(c.since)))),
      h('p', {class: 'call-from'}, c.from),
      h('div', {class: 'meter', title: t('phone.level')}, h('div', {class: 'meter-bar'})),
      h('div', {class: 'actions'},
        h('button', {id: 'phone-mute', 'aria-pressed': String(c.muted), onclick: () => phone.mute(c.id, !c.muted)},
          t(c.muted ? 'phone.unmute' : 'phone.mute')),
        h('button', {id: 'phone-hold', 'aria-pressed': String(c.held), onclick: () => phone.hold(c.id, !c.held)},
          t(c.held ? 'phone.resume' : 'phone.hold')),
        h('button', {class: 'danger', id: 'phone-hangup', onclick: () => phone.hangup(c.id)}, t('phone.hangup'))),
      h('div', {class: 'keypad', 'aria-label': t('phone.keypad')},
        keys.map((k) => h('button', {class: 'key', 'data-key': k, onclick: () => phone.dtmf(c.id, k)}, k))),
      this.transferChoice(c),
      this.deviceChoice());
  }

  // transferChoice offers the helper's queues and the other helpers.
  transferChoice(c) {
    if (!this.helpers) {
      this.helpers = [];
      api('GET', '/helpers').then((r) => { this.helpers = r.helpers; this.render(); }).catch(() => {});
    }
    const me = state.me ? state.me.user_id : 0;
    const sel = h('select', {id: 'phone-transfer-to', 'aria-label': t('phone.transfer_to')},
      h('optgroup', {label: t('phone.queues')},
        [...state.queues.keys()].map((q) => h('option', {value: 'q:' + q}, q))),
      h('optgroup', {label: t('phone.helpers')},
        this.helpers.filter((x) => x.user_id !== me).map((x) =>
          h('option', {value: 'h:' + x.user_id}, x.name || x.login))));
    const go = () => {
      const [kind, v] = [sel.value.slice(0, 1), sel.value.slice(2)];
      if (v) phone.transfer(c.id, kind === 'q' ? {queue: v} : {helper_id: Number(v)});
    };
    return h('div', {class: 'transfer'}, sel, h('button', {id: 'phone-transfer', onclick: go}, t('phone.transfer')));
  }

  deviceChoice() {
    if (phone.devices.length < 2) return null;
    const cur = phone.selectedDevice();
    return h('label', {class: 'device'}, t('phone.microphone'),
      h('select', {id: 'phone-mic', onchange: (ev) => phone.chooseDevice(ev.target.value)},
        phone.devices.map((d, i) => h('option', {value: d.deviceId, selected: d.deviceId === cur},
          d.label || t('phone.microphone') + ' ' + (i + 1)))));
  }

  update() {
    for (const el of this.querySelectorAll('[data-since]')) el.textContent = clock(since(el.dataset.since));
    for (const card of this.querySelectorAll('.call.talking')) {
      const call = phone.calls.get(card.dataset.call);
      const bar = card.querySelector('.meter-bar');
      if (call && bar) bar.style.width = Math.round(phone.level(call) * 100) + '%';
    }
  }
}

customElements.define('moroz-callpanel', MorozCallPanel);
