// Settings for supervisors and admins: reply templates, users (admins
// change them), the queues as configured, and the audit log.

import {api} from './api.js';
import {h, replace, toast} from './dom.js';
import {t, localeTime, languages} from './i18n.js';
import {state} from './state.js';

class MorozAdmin extends HTMLElement {
  connectedCallback() {
    this.templatesBox = h('div', {class: 'card', id: 'templates'});
    this.usersBox = h('div', {class: 'card', id: 'users'});
    this.auditBox = h('div', {class: 'card', id: 'audit'});
    replace(this, h('div', {class: 'admin'}, this.templatesBox, this.usersBox, this.auditBox));
    this.load();
  }

  async load() {
    try {
      const [tpl, users, audit] = await Promise.all([api('GET', '/templates'), api('GET', '/users'), api('GET', '/audit')]);
      this.renderTemplates(tpl.templates);
      this.renderUsers(users.users);
      this.renderAudit(audit.entries);
    } catch (e) {
      toast(e.message, 'bad');
    }
  }

  async save(method, path, body, msg) {
    try {
      await api(method, path, body);
      toast(t(msg), 'good');
      this.load();
    } catch (e) {
      toast(e.message, 'bad');
    }
  }

  renderTemplates(list) {
    const name = h('input', {id: 'tpl-name', placeholder: t('admin.tpl_name')});
    const lang = h('select', {id: 'tpl-lang'}, languages.map((l) => h('option', {value: l}, t('lang.' + l))));
    const queue = h('input', {id: 'tpl-queue', placeholder: t('admin.tpl_queue')});
    const subject = h('input', {id: 'tpl-subject', placeholder: t('reply.subject')});
    const body = h('textarea', {id: 'tpl-body', rows: 4, placeholder: t('admin.tpl_body')});
    let editing = 0;
    const fill = (x) => {
      editing = x.id; name.value = x.name; lang.value = x.lang || 'ru'; queue.value = x.queue;
      subject.value = x.subject; body.value = x.body;
    };
    const submit = () => {
      const b = {name: name.value, lang: lang.value, queue: queue.value, subject: subject.value, body: body.value};
      if (editing) this.save('PUT', `/templates/${editing}`, b, 'admin.saved');
      else this.save('POST', '/templates', b, 'admin.saved');
    };
    replace(this.templatesBox, h('h3', null, t('admin.templates')),
      h('table', {class: 'grid-table'},
        h('thead', null, h('tr', null, ['tpl_name', 'tpl_lang', 'tpl_queue', 'tpl_uses', ''].map((k) => h('th', null, k ? t('admin.' + k) : '')))),
        h('tbody', null, list.map((x) => h('tr', null, h('td', null, x.name), h('td', null, x.lang), h('td', null, x.queue || t('admin.all_queues')),
          h('td', {class: 'num'}, x.uses),
          h('td', {class: 'actions'}, h('button', {class: 'small', onclick: () => fill(x)}, t('admin.edit')),
            h('button', {class: 'small danger', onclick: () => this.save('DELETE', `/templates/${x.id}`, undefined, 'admin.deleted')}, t('admin.delete'))))))),
      h('div', {class: 'form-grid'}, name, lang, queue, subject, body,
        h('p', {class: 'muted small'}, t('reply.vars_hint')),
        h('button', {class: 'primary', id: 'tpl-save', onclick: submit}, t('admin.save'))));
  }

  renderUsers(list) {
    const admin = state.me.role === 'admin';
    const roles = ['helper', 'supervisor', 'admin'];
    const rows = list.map((u) => h('tr', {class: u.disabled ? 'disabled' : ''},
      h('td', null, u.login), h('td', null, u.name),
      h('td', null, admin ? h('select', {onchange: (ev) => this.save('PATCH', `/users/${u.id}`, {role: ev.target.value}, 'admin.saved')},
        roles.map((r) => h('option', {value: r, selected: u.role === r}, t('role.' + r)))) : t('role.' + u.role)),
      h('td', null, u.disabled ? t('admin.disabled') : t('admin.active')),
      h('td', {class: 'actions'}, admin && u.id !== state.me.user_id ? h('button', {class: 'small',
        onclick: () => this.save('PATCH', `/users/${u.id}`, {disabled: !u.disabled}, 'admin.saved')},
        u.disabled ? t('admin.enable') : t('admin.disable')) : null)));
    const login = h('input', {id: 'user-login', placeholder: t('login.login')});
    const uname = h('input', {id: 'user-name', placeholder: t('admin.user_name')});
    const pass = h('input', {id: 'user-password', type: 'password', placeholder: t('login.password'), autocomplete: 'new-password'});
    const role = h('select', {id: 'user-role'}, roles.map((r) => h('option', {value: r}, t('role.' + r))));
    replace(this.usersBox, h('h3', null, t('admin.users')),
      h('table', {class: 'grid-table'},
        h('thead', null, h('tr', null, ['login', 'user_name', 'role', 'state', ''].map((k) => h('th', null, k ? t('admin.col_' + k) : '')))),
        h('tbody', null, rows)),
      admin ? h('div', {class: 'form-grid'}, login, uname, pass, role,
        h('button', {class: 'primary', id: 'user-create', onclick: () => this.save('POST', '/users',
          {login: login.value, name: uname.value, password: pass.value, role: role.value}, 'admin.saved')}, t('admin.create_user'))) :
        h('p', {class: 'muted small'}, t('admin.admins_only')));
  }

  renderAudit(entries) {
    replace(this.auditBox, h('h3', null, t('admin.audit')),
      entries.length === 0 ? h('p', {class: 'muted'}, t('admin.audit_empty')) :
        h('table', {class: 'grid-table'}, h('tbody', null, entries.slice(0, 100).map((e) =>
          h('tr', null, h('td', null, localeTime(e.at)), h('td', null, e.login), h('td', null, e.action), h('td', {class: 'muted'}, e.detail))))));
  }
}

customElements.define('moroz-admin', MorozAdmin);
