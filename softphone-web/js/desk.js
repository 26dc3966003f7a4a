// The helper desk: the incoming offer, my open items, the item view for
// each channel with the reply editor and wrap-up, the item's history, and
// the contact card. The browser softphone's call panel docks at the top
// of the left column (phoneSlot), where it covers nothing.

import {api} from './api.js';
import {historyCard} from './history.js';
import {h, replace, clock, since, toast} from './dom.js';
import {t, localeTime} from './i18n.js';
import {state} from './state.js';
import {isTyping, sendWhileTyping} from './typing.js';

// fieldName translates the well-known fields of contacts and forms; others
// show as they were collected.
const knownFields = ['name', 'age', 'city', 'wish', 'email', 'phone'];
function fieldName(k) {
  return knownFields.includes(k) ? t('field.' + k) : k;
}

// phoneLike channels are answered by phone: a call panel, no reply editor.
const phoneLike = ['voice', 'callback', 'voicemail'];

// defaultOutcome is the wrap-up outcome offered first for a channel.
function defaultOutcome(ch) {
  if (ch === 'voice') return 'answered';
  return ch === 'callback' || ch === 'voicemail' ? 'called-back' : 'replied';
}

// Channel glyphs from the Dingbats and Arrows blocks, which common system
// fonts cover (no emoji font needed).
const channelIcon = {voice: '☎', voicemail: '✇', callback: '↩', email: '✉', telegram: '✈', chat: '❝', form: '✎'};

class MorozDesk extends HTMLElement {
  connectedCallback() {
    this.offerBox = h('div');
    this.itemsBox = h('div');
    this.queuesBox = h('div');
    this.phoneSlot = h('div', {class: 'phone-slot'});
    this.left = h('section', {class: 'col left'}, this.phoneSlot, this.offerBox, this.itemsBox, this.queuesBox);
    this.center = h('section', {class: 'col center'});
    this.right = h('aside', {class: 'col right'});
    replace(this, h('div', {class: 'desk'}, this.left, this.center, this.right));
    this.onChange = (ev) => this.changed(ev.detail);
    state.addEventListener('change', this.onChange);
    this.onKey = (ev) => this.key(ev);
    document.addEventListener('keydown', this.onKey);
    this.tick = setInterval(() => this.updateClocks(), 1000);
    for (const what of ['offer', 'items', 'queues']) this.renderLeft(what);
    this.renderItem();
  }

  disconnectedCallback() {
    state.removeEventListener('change', this.onChange);
    document.removeEventListener('keydown', this.onKey);
    clearInterval(this.tick);
  }

  changed(what) {
    if (['offer', 'items', 'queues', 'status'].includes(what)) this.renderLeft(what === 'status' ? 'offer' : what);
    if (what === 'selected') this.renderLeft('items');
    if (what === 'selected' || (what === 'items' && this.shown !== state.selected)) this.renderItem();
    if (what === 'items' && this.shown === state.selected && state.selected) this.reloadItem();
    if (what === 'typing') this.showTyping();
  }

  // showTyping marks the chats whose visitor is typing, in the list and
  // under the thread shown.
  showTyping() {
    for (const li of this.querySelectorAll('#my-items li[data-item]')) li.classList.toggle('typing', isTyping(Number(li.dataset.item)));
    if (this.typingNote) this.typingNote.hidden = !isTyping(this.shown);
  }

  // key runs the shortcuts: Alt+A accept, Alt+R reject, Ctrl+Enter send,
  // Alt+W wrap up.
  key(ev) {
    const k = ev.key.toLowerCase();
    if (ev.altKey && (k === 'a' || k === 'ф') && state.offer) { ev.preventDefault(); this.answer('accept'); }
    if (ev.altKey && (k === 'r' || k === 'к') && state.offer) { ev.preventDefault(); this.answer('reject'); }
    if (ev.ctrlKey && ev.key === 'Enter' && this.sendButton) { ev.preventDefault(); this.sendButton.click(); }
    if (ev.altKey && (k === 'w' || k === 'ц') && this.finishButton) { ev.preventDefault(); this.finishButton.click(); }
  }

  updateClocks() {
    for (const el of this.querySelectorAll('[data-since]')) el.textContent = clock(since(el.dataset.since));
    for (const el of this.querySelectorAll('[data-deadline]')) {
      const left = -since(el.dataset.deadline);
      el.textContent = clock(left);
      el.classList.toggle('urgent', left < 10);
    }
  }

  // renderLeft redraws one part of the left column, leaving the others (and
  // the buttons a helper may be about to press) as they are.
  renderLeft(what) {
    if (what === 'offer') replace(this.offerBox, this.offerCard());
    if (what === 'items') replace(this.itemsBox, this.myItems());
    if (what === 'queues') replace(this.queuesBox, this.myQueues());
    this.updateClocks();
  }

  offerCard() {
    const o = state.offer;
    if (!o && state.status.wrapup) {
      return h('div', {class: 'card offer wrapping'}, h('h3', null, t('status.wrapup')),
        h('p', null, t('wrapup.running')),
        h('button', {class: 'primary', id: 'end-wrapup',
          onclick: () => this.socket.request('end_wrapup', {}).catch((e) => toast(t('error.' + e.message), 'bad'))}, t('wrapup.end')));
    }
    if (!o) {
      const idle = state.status.status === 'available' ? t('desk.waiting_offer') : t('desk.not_available');
      return h('div', {class: 'card offer empty'}, h('p', {class: 'muted'}, idle));
    }
    const it = o.item;
    return h('div', {class: 'card offer ringing', id: 'offer'},
      h('div', {class: 'offer-head'}, h('span', {class: 'chan big'}, channelIcon[it.channel] || '•'),
        h('div', null, h('div', {class: 'label'}, t('desk.incoming')), h('strong', null, t('channel.' + it.channel)))),
      h('p', {class: 'subject'}, it.subject || t('item.no_subject')),
      it.send_failed ? this.failedNote(it) : null,
      h('dl', {class: 'facts'},
        h('dt', null, t('desk.queue')), h('dd', null, it.queue),
        h('dt', null, t('desk.waiting')), h('dd', {'data-since': it.created_at}, ''),
        o.deadline ? [h('dt', null, t('desk.answer_in')), h('dd', {class: 'countdown', 'data-deadline': o.deadline}, '')] : null),
      h('div', {class: 'actions'},
        h('button', {class: 'primary', id: 'accept', onclick: () => this.answer('accept')}, t('desk.accept'), h('kbd', null, 'Alt+A')),
        h('button', {class: 'danger', id: 'reject', onclick: () => this.answer('reject')}, t('desk.reject'), h('kbd', null, 'Alt+R'))));
  }

  async answer(kind) {
    if (!state.offer) return;
    try {
      await this.socket.request(kind, {item_id: state.offer.item.id});
    } catch (e) {
      toast(t('error.' + e.message), 'bad');
    }
  }

  myItems() {
    const items = [...state.items.values()];
    return h('div', {class: 'card'},
      h('h3', null, t('desk.my_items'), h('span', {class: 'count'}, items.length)),
      items.length === 0 ? h('p', {class: 'muted'}, t('desk.no_items')) :
        h('ul', {class: 'list', id: 'my-items'}, items.map((it) =>
          h('li', {class: (it.id === state.selected ? 'selected' : '') + (isTyping(it.id) ? ' typing' : ''), 'data-item': it.id,
            onclick: () => { state.selected = it.id; state.changed('selected'); }},
            h('span', {class: 'chan'}, channelIcon[it.channel] || '•'),
            h('span', {class: 'grow'}, it.subject || t('item.no_subject')),
            it.send_failed ? this.failedMark() : null,
            h('span', {class: 'state ' + it.state}, t('state.' + it.state))))));
  }

  // failedNote says how many of an item's replies were not delivered.
  failedNote(it, id) {
    return h('p', {class: 'send-failed', id, role: 'alert'}, '⚠ ', t('item.send_failed', {n: it.send_failed}));
  }

  // failedMark flags an item one of whose replies was not delivered.
  failedMark() {
    const what = t('item.send_failed_mark');
    return h('span', {class: 'send-failed-mark', title: what, 'aria-label': what, role: 'img'}, '⚠');
  }

  myQueues() {
    const qs = [...state.queues.values()];
    return h('div', {class: 'card'},
      h('h3', null, t('desk.my_queues')),
      h('table', {class: 'mini'}, qs.map((q) => h('tr', null,
        h('td', null, q.name), h('td', {class: 'num'}, q.waiting),
        h('td', {class: 'num muted'}, q.waiting && q.oldest ? h('span', {'data-since': q.oldest}, '') : '—')))));
  }

  async renderItem() {
    this.shown = state.selected;
    this.sendButton = this.finishButton = null;
    this.replyBox = this.wrapBox = null;
    this.formsFor = 0;
    if (!state.selected) {
      replace(this.center, h('div', {class: 'card placeholder'}, h('p', {class: 'muted'}, t('desk.pick_item'))));
      replace(this.right);
      return;
    }
    await this.reloadItem();
  }

  async reloadItem() {
    const id = state.selected;
    let it, history;
    try {
      // A history that cannot be read leaves the item's view without it.
      [it, history] = await Promise.all([api('GET', `/items/${id}`),
        api('GET', `/items/${id}/history`).then((r) => r.history, () => null)]);
    } catch {
      return;
    }
    if (id !== state.selected) return;
    this.item = it;
    // The same item's reply and wrap-up forms are kept across a reload
    // (replyEditor, wrapUp), so what the helper is typing, the template
    // chosen, the caret and the focus stay.
    if (this.formsFor !== id) this.replyBox = this.wrapBox = null;
    this.formsFor = id;
    const focused = document.activeElement;
    const caret = focused && 'selectionStart' in focused ? [focused.selectionStart, focused.selectionEnd] : null;
    replace(this.center, this.itemView(it), history ? historyCard(history) : null);
    if (focused && focused !== document.activeElement && this.center.contains(focused)) {
      focused.focus();
      if (caret && caret[0] !== null) focused.setSelectionRange(caret[0], caret[1]);
    }
    this.renderContact(it);
    this.updateClocks();
  }

  itemView(it) {
    const live = phoneLike.includes(it.channel);
    return h('div', {class: 'card item', id: 'item-view', 'data-channel': it.channel},
      h('div', {class: 'item-head'},
        h('span', {class: 'chan big'}, channelIcon[it.channel] || '•'),
        h('div', {class: 'grow'}, h('h2', null, it.subject || t('item.no_subject')),
          h('div', {class: 'muted'}, t('channel.' + it.channel), ' · ', it.queue, ' · ', localeTime(it.created_at))),
        h('span', {class: 'state ' + it.state}, t('state.' + it.state))),
      it.send_failed ? this.failedNote(it, 'send-failed') : null,
      live ? this.callPanel(it) : null,
      it.channel === 'form' ? this.formFields(it) : null,
      live && !it.messages.length ? null : this.thread(it),
      this.typingLine(it),
      !live && it.state === 'active' ? this.replyEditor(it) : null,
      it.state === 'active' ? this.wrapUp(it) : null);
  }

  typingLine(it) {
    this.typingNote = null;
    if (it.channel !== 'chat' && it.channel !== 'telegram') return null;
    this.typingNote = h('p', {class: 'typing-note', id: 'typing-note', hidden: !isTyping(it.id)}, t('typing.visitor'));
    return this.typingNote;
  }

  callPanel(it) {
    const from = (it.data && (it.data.from || it.data.caller)) || '';
    const secs = it.data && it.data.duration_ms ? Math.round(it.data.duration_ms / 1000) : 0;
    return h('div', {class: 'call-panel'},
      h('div', {class: 'call-number'}, from || t('call.unknown_number')),
      it.channel === 'voicemail' ? h('p', null, t('call.voicemail', {s: secs})) : null,
      it.voicemail_id ? h('audio', {controls: true, preload: 'none', class: 'voicemail-audio',
        src: `/api/v1/voicemails/${it.voicemail_id}/audio`}) : null,
      h('p', {class: 'muted'}, t('call.desk_phone')));
  }

  // formFields lists a form item's fields: the messenger keeps them under
  // data.fields (beside the form's name); older items have them flat.
  formFields(it) {
    const data = it.data && typeof it.data === 'object' ? it.data : {};
    const fields = Object.entries(data.fields && typeof data.fields === 'object' ? data.fields : data);
    return h('dl', {class: 'facts form-fields'}, fields.map(([k, v]) =>
      [h('dt', null, fieldName(k)), h('dd', null, typeof v === 'string' ? v : JSON.stringify(v))]));
  }

  thread(it) {
    const chat = it.channel === 'chat' || it.channel === 'telegram';
    if (!it.messages.length) return h('p', {class: 'muted'}, t('item.no_messages'));
    return h('div', {class: chat ? 'thread chat' : 'thread'}, it.messages.map((m) =>
      h('article', {class: 'msg ' + m.direction},
        h('header', null, h('strong', null, m.direction === 'in' ? (m.from || t('item.contact')) : t('item.we')),
          h('span', {class: 'muted'}, localeTime(m.created_at))),
        m.subject && !chat ? h('div', {class: 'msg-subject'}, m.subject) : null,
        h('div', {class: 'msg-text'}, m.text))));
  }

  replyEditor(it) {
    if (this.replyBox) return this.replyBox;
    const subject = h('input', {class: 'subject-in', 'aria-label': t('reply.subject'), placeholder: t('reply.subject'),
      value: it.channel === 'email' ? 'Re: ' + (it.subject || '') : ''});
    this.editor = h('textarea', {id: 'reply-text', rows: 7, placeholder: t('reply.placeholder')});
    if (it.channel === 'chat' || it.channel === 'telegram') sendWhileTyping(this.editor, this.socket, it.id);
    this.templateID = 0;
    const picker = h('select', {id: 'template', 'aria-label': t('reply.template'), onchange: (ev) => this.insertTemplate(ev.target.value)},
      h('option', {value: ''}, t('reply.template_pick')));
    this.loadTemplates(picker, it);
    this.sendButton = h('button', {class: 'primary', id: 'send', onclick: async () => {
      try {
        await this.socket.request('send', {item_id: it.id, text: this.editor.value,
          subject: subject.value, template_id: this.templateID});
        this.editor.value = '';
        this.templateID = 0;
        picker.value = '';
        toast(t('reply.sent'), 'good');
        this.reloadItem();
      } catch (e) {
        toast(t('error.' + e.message), 'bad');
      }
    }}, t('reply.send'), h('kbd', null, 'Ctrl+Enter'));
    this.replyBox = h('div', {class: 'reply'},
      h('div', {class: 'reply-tools'}, picker, h('span', {class: 'muted small'}, t('reply.vars_hint'))),
      it.channel === 'email' || it.channel === 'form' ? subject : null,
      this.editor,
      h('div', {class: 'actions'}, this.sendButton));
    return this.replyBox;
  }

  async loadTemplates(picker, it) {
    const {templates} = await api('GET', '/templates');
    this.templates = templates;
    for (const tpl of templates.filter((x) => !x.queue || x.queue === it.queue)) {
      picker.append(h('option', {value: tpl.id}, tpl.name + (tpl.lang ? ` (${tpl.lang})` : '')));
    }
  }

  // insertTemplate puts a template into the editor with its variables
  // filled from the contact card; unknown ones stay for the helper to edit.
  insertTemplate(id) {
    const tpl = (this.templates || []).find((x) => String(x.id) === id);
    if (!tpl) return;
    const c = this.contact || {fields: {}};
    const vars = {...c.fields, name: c.name || '', helper: state.me.name || state.me.login};
    this.editor.value = tpl.body.replace(/\{\{\s*(\w+)\s*\}\}/g, (all, k) => (vars[k] ? vars[k] : all));
    this.templateID = tpl.id;
    this.editor.focus();
  }

  wrapUp(it) {
    if (this.wrapBox) return this.wrapBox;
    const outcome = h('select', {id: 'outcome', 'aria-label': t('wrapup.outcome')},
      ['replied', 'answered', 'called-back', 'spam', 'duplicate'].map((o) =>
        h('option', {value: o, selected: o === defaultOutcome(it.channel)}, t('outcome.' + o))));
    const note = h('input', {id: 'note', placeholder: t('wrapup.note'), 'aria-label': t('wrapup.note')});
    this.finishButton = h('button', {id: 'finish', onclick: async () => {
      try {
        await this.socket.request('complete', {item_id: it.id, outcome: outcome.value, note: note.value});
        toast(t('wrapup.done'), 'good');
      } catch (e) {
        toast(t('error.' + e.message), 'bad');
      }
    }}, t('wrapup.finish'), h('kbd', null, 'Alt+W'));
    this.wrapBox = h('div', {class: 'wrapup-box'}, h('h3', null, t('wrapup.title')), h('div', {class: 'row'}, outcome, note, this.finishButton));
    return this.wrapBox;
  }

  async renderContact(it) {
    this.contact = null;
    if (!it.contact_id) {
      replace(this.right, h('div', {class: 'card'}, h('h3', null, t('contact.title')), h('p', {class: 'muted'}, t('contact.unknown'))));
      return;
    }
    let c;
    try {
      c = await api('GET', `/contacts/${it.contact_id}`);
    } catch {
      return;
    }
    this.contact = c;
    replace(this.right, h('div', {class: 'card contact', id: 'contact'},
      h('h3', null, t('contact.title')),
      h('div', {class: 'contact-name'}, c.name || t('contact.no_name')),
      h('ul', {class: 'ids'}, c.identities.map((i) => h('li', null, h('span', {class: 'muted'}, t('identity.' + i.kind)), ' ', i.value))),
      h('dl', {class: 'facts'}, Object.entries(c.fields).map(([k, v]) => [h('dt', null, fieldName(k)), h('dd', null, v)])),
      h('h4', null, t('contact.history')),
      h('ul', {class: 'list history'}, c.items.map((x) => h('li', {class: x.id === it.id ? 'selected' : ''},
        h('span', {class: 'chan'}, channelIcon[x.channel] || '•'),
        h('span', {class: 'grow'}, x.subject || t('item.no_subject'), h('div', {class: 'muted small'}, localeTime(x.created_at))),
        h('span', {class: 'state ' + x.state}, x.outcome ? t('outcome.' + x.outcome) : t('state.' + x.state)))))));
  }
}

customElements.define('moroz-desk', MorozDesk);
