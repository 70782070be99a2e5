/**
 * Admin page for customer organisations: add one with its contract's SLA tier, change
 * the tier, set its policy flags (whether the signed session summary sent to the help
 * desk carries the chat), disable an organisation whose contract ended (no new tickets
 * or client requests may name it; its history stays) and enable it again. The SLA tiers
 * themselves (and, when they exist, contracts and calendars) have their own page.
 * @module pages/organisations
 */

import * as api from '../api.js';
import { h, clear, chip, toast } from '../dom.js';
import { t } from '../i18n.js';
import { adminTabs } from './users.js';

/**
 * Render the organisations page.
 * @param {HTMLElement} root
 * @param {Record<string, string>} _params
 * @param {any} app
 * @returns {() => void}
 */
export function renderAdminOrganisations(root, _params, app) {
  const body = h('tbody', { id: 'orgs-body' });
  const name = h('input', { id: 'org-name-new', required: true, maxlength: '200', autocomplete: 'off' });
  const tier = h('select', { id: 'org-tier-new', required: true });
  let tiers = [];
  let stopped = false;

  const tierOptions = (select, current) => {
    clear(select);
    for (const tr of tiers) select.appendChild(h('option', { value: tr.name, text: tr.name }));
    if (current) select.value = current;
  };

  const put = async (org, changes, done) => {
    try {
      await api.putOrganisation(org.name, { tier: org.tier, disabled: org.disabled, ...changes });
      toast(done, 'ok');
      await load();
    } catch (e) { app.fail(e); }
  };

  const load = async () => {
    try {
      const [orgs, tierData] = await Promise.all([api.organisations(), api.slaTiers()]);
      // The policy flags that exist per organisation (issue 18: the chat in the summary).
      const policies = await Promise.all(api.listOf(orgs, 'organisations').map((o) => api.organisationPolicy(o.name).catch(() => null)));
      if (stopped) return;
      tiers = api.listOf(tierData, 'tiers');
      tierOptions(tier, tier.value);
      clear(body);
      const rows = api.listOf(orgs, 'organisations');
      if (!rows.length) body.appendChild(h('tr', {}, h('td', { colspan: '5', class: 'muted', text: t('orgs.none') })));
      rows.forEach((o, i) => {
        const rowTier = h('select', { class: 'org-tier', 'aria-label': t('orgs.tier.aria', { name: o.name }) });
        tierOptions(rowTier, o.tier);
        rowTier.addEventListener('change', () => put(o, { tier: rowTier.value }, t('orgs.tier.saved', { name: o.name, tier: rowTier.value })));
        const toggle = o.disabled
          ? h('button', { type: 'button', class: 'btn btn-sm btn-ghost org-enable', text: t('orgs.enable'), 'aria-label': t('orgs.enable.aria', { name: o.name }),
            on: { click: () => put(o, { disabled: false }, t('orgs.enabled', { name: o.name })) } })
          : h('button', { type: 'button', class: 'btn btn-sm btn-ghost org-disable', text: t('orgs.disable'), 'aria-label': t('orgs.disable.aria', { name: o.name }),
            on: { click: () => put(o, { disabled: true }, t('orgs.disabled', { name: o.name })) } });
        const policy = policies[i];
        const chat = h('input', { type: 'checkbox', class: 'org-summary-chat', checked: Boolean(policy && policy.summary_includes_chat), 'aria-label': t('orgs.policy.chat.aria', { name: o.name }) });
        chat.addEventListener('change', async () => {
          try {
            await api.putOrganisationPolicy(o.name, { summary_includes_chat: chat.checked });
            toast(chat.checked ? t('orgs.policy.chat.on', { name: o.name }) : t('orgs.policy.chat.off', { name: o.name }), 'ok');
          } catch (e) { chat.checked = !chat.checked; app.fail(e); }
        });
        body.appendChild(h('tr', { class: 'org-row', dataset: { org: o.name, disabled: o.disabled ? '1' : '' } },
          h('th', { scope: 'row', text: o.name }),
          h('td', {}, rowTier),
          h('td', {}, h('label', { class: 'check' }, chat, ' ', t('orgs.policy.chat'))),
          h('td', {}, o.disabled ? chip(t('orgs.status.disabled'), 'danger') : chip(t('orgs.status.active'), 'ok')),
          h('td', { class: 'row-actions' }, toggle)));
      });
    } catch (e) { app.fail(e); }
  };

  const form = h('form', { class: 'panel user-form', id: 'org-form' },
    h('h2', { text: t('orgs.add.title') }),
    h('div', { class: 'field' }, h('label', { for: 'org-name-new', text: t('orgs.field.name') }), name),
    h('div', { class: 'field' }, h('label', { for: 'org-tier-new', text: t('orgs.field.tier') }), tier,
      h('span', { class: 'muted small', text: t('orgs.tier.hint') })),
    h('div', { class: 'field field-submit' }, h('button', { type: 'submit', class: 'btn btn-primary', id: 'org-add', text: t('orgs.add') })));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const n = name.value.trim();
    if (!n) return;
    try {
      await api.putOrganisation(n, { tier: tier.value, disabled: false });
      toast(t('orgs.added', { name: n }), 'ok');
      name.value = '';
      await load();
    } catch (e) { app.fail(e); }
  });

  root.appendChild(h('section', { class: 'page admin-orgs' },
    h('div', { class: 'page-head' }, h('div', {}, h('h1', { text: t('orgs.title') }), h('p', { class: 'muted', text: t('orgs.subtitle') }),
      h('p', { class: 'muted small' }, h('a', { href: '#/admin/sla', id: 'orgs-sla-link', text: t('orgs.sla_link') })))),
    adminTabs('organisations'),
    form,
    h('section', { class: 'panel table-wrap' },
      h('table', { class: 'table orgs' },
        h('caption', { class: 'visually-hidden', text: t('orgs.title') }),
        // i18n-keys: orgs.col.name orgs.col.tier orgs.col.policy orgs.col.status orgs.col.actions
        h('thead', {}, h('tr', {}, ['name', 'tier', 'policy', 'status', 'actions'].map((c) => h('th', { scope: 'col', text: t(`orgs.col.${c}`) })))),
        body))));
  load();
  return () => { stopped = true; };
}
