/**
 * Admin page for the SLA workflow (issue 19, docs/workflow.md): each tier's contract —
 * calendar (or 24×7), which waits pause the clocks, when a ticket is at risk, response
 * and resolution targets per priority, the escalation chain level by level — the
 * business-hours calendars, each organisation's closure rules and the staff e-mail
 * addresses escalations go to.
 * @module pages/admin_sla
 */

import * as api from '../api.js';
import { h, clear, toast } from '../dom.js';
import { t } from '../i18n.js';
import { adminTabs } from './users.js';

const PRIORITIES = ['urgent', 'high', 'normal', 'low'];
const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];
const PAUSES = ['waiting_for_client', 'pending_vendor'];
const CLOCKS = ['response', 'resolution'];
const TARGETS = ['assignee', 'supervisor', 'owner', 'group'];

/** A labelled form field. @param {string} id @param {string} label @param {HTMLElement} input */
const field = (id, label, input, hint) => h('div', { class: 'field' },
  h('label', { for: id, text: label }), input, hint ? h('span', { class: 'muted small', text: hint }) : null);

/** @param {number} s @returns {string} seconds as hours, e.g. "1.5" */
const hours = (s) => String(Math.round((s / 3600) * 100) / 100);

/**
 * One level of the chain in words: "Resolution 80 % → supervisor".
 * i18n-keys: sla.clock.response sla.clock.resolution sla.to.assignee sla.to.supervisor sla.to.owner sla.to.group
 * @param {{clock: string, at: number, to: string, skill?: string}} lv
 */
export function levelText(lv) {
  const to = lv.to === 'group' ? t('sla.to.group_named', { skill: lv.skill || '' }) : t(`sla.to.${lv.to}`);
  return t('sla.level', { clock: t(`sla.clock.${lv.clock}`), pct: String(Math.round(lv.at * 100)), to });
}

/**
 * Render the SLA page.
 * @param {HTMLElement} root
 * @param {Record<string, string>} _params
 * @param {any} app
 * @returns {() => void}
 */
export function renderAdminSla(root, _params, app) {
  let stopped = false;
  let calendars = [];
  let contracts = [];
  const contractsBody = h('tbody', { id: 'sla-contracts-body' });
  const calendarsBody = h('tbody', { id: 'sla-calendars-body' });
  const closureBody = h('tbody', { id: 'sla-closure-body' });
  const addressBody = h('tbody', { id: 'sla-addresses-body' });

  // --- the contract form -------------------------------------------------------------
  const cTier = h('select', { id: 'sla-c-tier' });
  const cCal = h('select', { id: 'sla-c-calendar' });
  const cRisk = h('input', { id: 'sla-c-risk', type: 'number', min: '1', max: '100', step: '1', required: true });
  const cRemind = h('input', { id: 'sla-c-remind', type: 'number', min: '0', max: '10080', step: '1', required: true });
  const cPause = Object.fromEntries(PAUSES.map((p) => [p, h('input', { type: 'checkbox', id: `sla-c-pause-${p}` })]));
  const cTargets = Object.fromEntries(PRIORITIES.map((p) => [p, {
    response: h('input', { type: 'number', min: '1', step: '1', id: `sla-c-${p}-response`, 'aria-label': t('sla.target.response.aria', { priority: t(`sla.priority.${p}`) }) }),
    resolution: h('input', { type: 'number', min: '0.1', step: '0.1', id: `sla-c-${p}-resolution`, 'aria-label': t('sla.target.resolution.aria', { priority: t(`sla.priority.${p}`) }) }),
  }]));
  const chainList = h('ol', { class: 'sla-chain', id: 'sla-c-chain' });

  const levelRow = (lv) => {
    const n = chainList.children.length + 1;
    const clockSel = h('select', { class: 'lv-clock', 'aria-label': t('sla.chain.clock.aria', { n: String(n) }) },
      CLOCKS.map((c) => h('option', { value: c, text: t(`sla.clock.${c}`) })));
    const pct = h('input', { class: 'lv-at', type: 'number', min: '1', max: '200', step: '1', 'aria-label': t('sla.chain.at.aria', { n: String(n) }) });
    const toSel = h('select', { class: 'lv-to', 'aria-label': t('sla.chain.to.aria', { n: String(n) }) },
      TARGETS.map((x) => h('option', { value: x, text: t(`sla.to.${x}`) })));
    const skill = h('input', { class: 'lv-skill', maxlength: '64', 'aria-label': t('sla.chain.skill.aria', { n: String(n) }) });
    const remove = h('button', { type: 'button', class: 'btn btn-sm btn-ghost', text: t('sla.chain.remove'), 'aria-label': t('sla.chain.remove.aria', { n: String(n) }) });
    clockSel.value = lv.clock; pct.value = String(Math.round(lv.at * 100)); toSel.value = lv.to; skill.value = lv.skill || '';
    const syncSkill = () => { skill.hidden = toSel.value !== 'group'; };
    toSel.addEventListener('change', syncSkill);
    syncSkill();
    const li = h('li', { class: 'sla-level' }, clockSel, pct, h('span', { text: '%' }), toSel, skill, remove);
    remove.addEventListener('click', () => li.remove());
    chainList.appendChild(li);
  };

  const fillContract = (tier) => {
    const c = contracts.find((x) => x.tier === tier);
    if (!c) return;
    cTier.value = c.tier;
    cCal.value = c.calendar || '';
    cRisk.value = String(Math.round(c.at_risk_fraction * 100));
    cRemind.value = String(Math.round(c.remind_after_s / 60));
    for (const p of PAUSES) cPause[p].checked = c.pause_statuses.includes(p);
    for (const p of PRIORITIES) {
      const tg = c.targets[p];
      cTargets[p].response.value = tg ? String(Math.round(tg.response_s / 60)) : '';
      cTargets[p].resolution.value = tg ? hours(tg.resolution_s) : '';
    }
    clear(chainList);
    for (const lv of c.chain) levelRow(lv);
  };
  cTier.addEventListener('change', () => fillContract(cTier.value));

  const contractForm = h('form', { class: 'panel user-form', id: 'sla-contract-form' },
    h('h2', { text: t('sla.contract.title') }),
    field('sla-c-tier', t('sla.contract.tier'), cTier),
    field('sla-c-calendar', t('sla.contract.calendar'), cCal, t('sla.contract.calendar.hint')),
    h('fieldset', { class: 'field' }, h('legend', { text: t('sla.contract.pause') }),
      // i18n-keys: sla.pause.waiting_for_client sla.pause.pending_vendor
      PAUSES.map((p) => h('label', { class: 'check', for: `sla-c-pause-${p}` }, cPause[p], t(`sla.pause.${p}`)))),
    field('sla-c-risk', t('sla.contract.risk'), cRisk, t('sla.contract.risk.hint')),
    field('sla-c-remind', t('sla.contract.remind'), cRemind, t('sla.contract.remind.hint')),
    h('table', { class: 'table sla-targets' },
      h('caption', { text: t('sla.targets.caption') }),
      h('thead', {}, h('tr', {},
        h('th', { scope: 'col', text: t('sla.targets.priority') }),
        h('th', { scope: 'col', text: t('sla.targets.response') }),
        h('th', { scope: 'col', text: t('sla.targets.resolution') }))),
      // i18n-keys: sla.priority.urgent sla.priority.high sla.priority.normal sla.priority.low
      h('tbody', {}, PRIORITIES.map((p) => h('tr', {},
        h('th', { scope: 'row', text: t(`sla.priority.${p}`) }),
        h('td', {}, cTargets[p].response), h('td', {}, cTargets[p].resolution))))),
    h('fieldset', { class: 'field' }, h('legend', { text: t('sla.chain.title') }),
      h('p', { class: 'muted small', text: t('sla.chain.hint') }), chainList,
      h('button', { type: 'button', class: 'btn btn-sm btn-secondary', id: 'sla-c-add-level', text: t('sla.chain.add'),
        on: { click: () => levelRow({ clock: 'resolution', at: 0.8, to: 'supervisor' }) } })),
    h('div', { class: 'field field-submit' }, h('button', { type: 'submit', class: 'btn btn-primary', id: 'sla-c-save', text: t('sla.contract.save') })));

  contractForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const targets = {};
    for (const p of PRIORITIES) {
      const r = Number(cTargets[p].response.value);
      const s = Number(cTargets[p].resolution.value);
      if (cTargets[p].response.value && cTargets[p].resolution.value) {
        targets[p] = { response_s: Math.round(r * 60), resolution_s: Math.round(s * 3600) };
      }
    }
    const chain = [...chainList.querySelectorAll('.sla-level')].map((li) => {
      const lv = { clock: li.querySelector('.lv-clock').value, at: Number(li.querySelector('.lv-at').value) / 100, to: li.querySelector('.lv-to').value };
      if (lv.to === 'group') lv.skill = li.querySelector('.lv-skill').value.trim();
      return lv;
    });
    const body = {
      pause_statuses: PAUSES.filter((p) => cPause[p].checked),
      at_risk_fraction: Number(cRisk.value) / 100,
      remind_after_s: Math.round(Number(cRemind.value) * 60),
      chain,
      targets,
    };
    if (cCal.value) body.calendar = cCal.value;
    try {
      await api.putSlaContract(cTier.value, body);
      toast(t('sla.contract.saved', { tier: cTier.value }), 'ok');
      await load(cTier.value);
    } catch (e) { app.fail(e); }
  });

  // --- the calendar form -------------------------------------------------------------
  const kName = h('input', { id: 'sla-k-name', required: true, maxlength: '64', pattern: '[a-z0-9._\\-]{1,64}', autocomplete: 'off' });
  const kZone = h('input', { id: 'sla-k-zone', required: true, maxlength: '64', value: 'Europe/Moscow', autocomplete: 'off' });
  const kAlways = h('input', { type: 'checkbox', id: 'sla-k-always' });
  const kDays = Object.fromEntries(DAYS.map((d) => [d, h('input', { type: 'checkbox', id: `sla-k-day-${d}`, checked: !['sat', 'sun'].includes(d) })]));
  const kFrom = h('input', { id: 'sla-k-from', type: 'time', value: '09:00', required: true });
  const kTo = h('input', { id: 'sla-k-to', type: 'time', value: '18:00', required: true });
  const kHolidays = h('textarea', { id: 'sla-k-holidays', rows: '3' });
  const calendarForm = h('form', { class: 'panel user-form', id: 'sla-calendar-form' },
    h('h2', { text: t('sla.calendar.title') }),
    field('sla-k-name', t('sla.calendar.name'), kName, t('sla.calendar.name.hint')),
    field('sla-k-zone', t('sla.calendar.zone'), kZone, t('sla.calendar.zone.hint')),
    h('div', { class: 'field' }, h('label', { class: 'check', for: 'sla-k-always' }, kAlways, t('sla.calendar.always'))),
    h('fieldset', { class: 'field' }, h('legend', { text: t('sla.calendar.days') }),
      // i18n-keys: sla.day.mon sla.day.tue sla.day.wed sla.day.thu sla.day.fri sla.day.sat sla.day.sun
      DAYS.map((d) => h('label', { class: 'check', for: `sla-k-day-${d}` }, kDays[d], t(`sla.day.${d}`)))),
    field('sla-k-from', t('sla.calendar.from'), kFrom),
    field('sla-k-to', t('sla.calendar.to'), kTo, t('sla.calendar.to.hint')),
    field('sla-k-holidays', t('sla.calendar.holidays'), kHolidays, t('sla.calendar.holidays.hint')),
    h('div', { class: 'field field-submit' }, h('button', { type: 'submit', class: 'btn btn-primary', id: 'sla-k-save', text: t('sla.calendar.save') })));
  calendarForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const end = kTo.value === '00:00' ? '24:00' : kTo.value;
    const body = {
      timezone: kZone.value.trim(),
      always: kAlways.checked,
      hours: Object.fromEntries(DAYS.filter((d) => kDays[d].checked).map((d) => [d, [[kFrom.value, end]]])),
      holidays: kHolidays.value.split(/\s+/).filter(Boolean),
    };
    try {
      await api.putSlaCalendar(kName.value.trim(), body);
      toast(t('sla.calendar.saved', { name: kName.value.trim() }), 'ok');
      await load(cTier.value);
    } catch (e) { app.fail(e); }
  });

  // --- closure rules and addresses ------------------------------------------------------
  const oName = h('input', { id: 'sla-o-name', required: true, maxlength: '200', autocomplete: 'off' });
  const oHours = h('input', { id: 'sla-o-hours', type: 'number', min: '1', max: '2160', step: '1', value: '72', required: true });
  const oMail = h('input', { type: 'checkbox', id: 'sla-o-mail' });
  const closureForm = h('form', { class: 'panel user-form', id: 'sla-closure-form' },
    h('h2', { text: t('sla.closure.title') }),
    h('p', { class: 'muted small', text: t('sla.closure.hint') }),
    field('sla-o-name', t('sla.closure.organisation'), oName),
    field('sla-o-hours', t('sla.closure.hours'), oHours),
    h('div', { class: 'field' }, h('label', { class: 'check', for: 'sla-o-mail' }, oMail, t('sla.closure.mail'))),
    h('div', { class: 'field field-submit' }, h('button', { type: 'submit', class: 'btn btn-primary', id: 'sla-o-save', text: t('sla.closure.save') })));
  closureForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      await api.putSlaClosure(oName.value.trim(), { auto_close_after_s: Math.round(Number(oHours.value) * 3600), email_client: oMail.checked });
      toast(t('sla.closure.saved', { name: oName.value.trim() }), 'ok');
      await load(cTier.value);
    } catch (e) { app.fail(e); }
  });

  const aUser = h('select', { id: 'sla-a-user', required: true });
  const aMail = h('input', { id: 'sla-a-email', type: 'email', maxlength: '254', autocomplete: 'off' });
  const addressForm = h('form', { class: 'panel user-form', id: 'sla-address-form' },
    h('h2', { text: t('sla.address.title') }),
    field('sla-a-user', t('sla.address.user'), aUser),
    field('sla-a-email', t('sla.address.email'), aMail, t('sla.address.email.hint')),
    h('div', { class: 'field field-submit' }, h('button', { type: 'submit', class: 'btn btn-primary', id: 'sla-a-save', text: t('sla.address.save') })));
  addressForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      await api.putSlaAddress(aUser.value, aMail.value.trim());
      toast(t('sla.address.saved'), 'ok');
      await load(cTier.value);
    } catch (e) { app.fail(e); }
  });

  // --- tables ------------------------------------------------------------------------
  const paint = (closure, addresses, users) => {
    clear(contractsBody);
    for (const c of contracts) {
      const normal = c.targets.normal;
      contractsBody.appendChild(h('tr', { dataset: { tier: c.tier } },
        h('th', { scope: 'row', text: c.tier }),
        h('td', { text: c.calendar || t('sla.always') }),
        h('td', { text: c.pause_statuses.length ? c.pause_statuses.map((p) => t(`sla.pause.${p}`)).join(', ') : t('sla.pause.none') }),
        h('td', { text: t('sla.targets.summary', { response: String(Math.round(normal.response_s / 60)), resolution: hours(normal.resolution_s) }) }),
        h('td', {}, h('ul', { class: 'plain' }, c.chain.map((lv) => h('li', { text: levelText(lv) })))),
        h('td', { class: 'row-actions' }, h('button', { type: 'button', class: 'btn btn-sm btn-ghost sla-edit', text: t('sla.contract.edit'),
          'aria-label': t('sla.contract.edit.aria', { tier: c.tier }), on: { click: () => { fillContract(c.tier); cTier.focus(); } } }))));
    }
    clear(calendarsBody);
    if (!calendars.length) calendarsBody.appendChild(h('tr', {}, h('td', { colspan: '5', class: 'muted', text: t('sla.calendar.none') })));
    for (const k of calendars) {
      const days = DAYS.filter((d) => k.hours[d]).map((d) => `${t(`sla.day.${d}`)} ${k.hours[d].map((p) => p.join('–')).join(', ')}`);
      const del = h('button', { type: 'button', class: 'btn btn-sm btn-ghost sla-cal-delete', text: t('sla.calendar.delete'), 'aria-label': t('sla.calendar.delete.aria', { name: k.name }) });
      del.addEventListener('click', async () => {
        try {
          await api.deleteSlaCalendar(k.name);
          toast(t('sla.calendar.deleted', { name: k.name }), 'ok');
          await load(cTier.value);
        } catch (e) { app.fail(e); }
      });
      calendarsBody.appendChild(h('tr', { dataset: { calendar: k.name } },
        h('th', { scope: 'row', text: k.name }),
        h('td', { text: k.timezone }),
        h('td', { text: k.always ? t('sla.always') : days.join('; ') }),
        h('td', { text: k.holidays.join(', ') || '—' }),
        h('td', { class: 'row-actions' }, del)));
    }
    clear(closureBody);
    closureBody.appendChild(h('tr', {},
      h('th', { scope: 'row', text: t('sla.closure.default') }),
      h('td', { text: hours(closure.default.auto_close_after_s) }),
      h('td', { text: closure.default.email_client ? t('sla.yes') : t('sla.no') })));
    for (const o of closure.organisations) {
      closureBody.appendChild(h('tr', { dataset: { org: o.organisation } },
        h('th', { scope: 'row', text: o.organisation }),
        h('td', { text: hours(o.auto_close_after_s) }),
        h('td', { text: o.email_client ? t('sla.yes') : t('sla.no') })));
    }
    const names = Object.fromEntries(users.map((u) => [u.id, u.name]));
    clear(addressBody);
    if (!addresses.length) addressBody.appendChild(h('tr', {}, h('td', { colspan: '2', class: 'muted', text: t('sla.address.none') })));
    for (const a of addresses) {
      addressBody.appendChild(h('tr', { dataset: { user: a.user_id } },
        h('th', { scope: 'row', text: names[a.user_id] || a.user_id }), h('td', { text: a.email })));
    }
    const chosen = aUser.value;
    clear(aUser);
    for (const u of users.filter((x) => !x.disabled && x.role !== 'integration')) aUser.appendChild(h('option', { value: u.id, text: `${u.name} (${u.username})` }));
    if (chosen) aUser.value = chosen;
  };

  const load = async (tier) => {
    try {
      const [c, k, o, a, u] = await Promise.all([api.slaContracts(), api.slaCalendars(), api.slaClosure(), api.slaAddresses(), api.users()]);
      if (stopped) return;
      contracts = api.listOf(c, 'contracts');
      calendars = api.listOf(k, 'calendars');
      clear(cTier);
      for (const x of contracts) cTier.appendChild(h('option', { value: x.tier, text: x.tier }));
      clear(cCal);
      cCal.appendChild(h('option', { value: '', text: t('sla.always') }));
      for (const x of calendars) cCal.appendChild(h('option', { value: x.name, text: x.name }));
      paint(o, api.listOf(a, 'addresses'), api.listOf(u, 'users'));
      if (contracts.length) fillContract(tier && contracts.some((x) => x.tier === tier) ? tier : contracts[0].tier);
    } catch (e) { app.fail(e); }
  };

  const table = (id, caption, cols, body) => h('section', { class: 'panel table-wrap' },
    h('table', { class: 'table', id },
      h('caption', { text: caption }),
      h('thead', {}, h('tr', {}, cols.map((c) => h('th', { scope: 'col', text: c })))),
      body));

  root.appendChild(h('section', { class: 'page admin-sla', id: 'sla-page' },
    h('div', { class: 'page-head' }, h('div', {}, h('h1', { text: t('sla.title') }), h('p', { class: 'muted', text: t('sla.subtitle') }))),
    adminTabs('sla'),
    table('sla-contracts', t('sla.contracts.caption'),
      [t('sla.col.tier'), t('sla.col.calendar'), t('sla.col.pause'), t('sla.col.targets'), t('sla.col.chain'), t('sla.col.actions')], contractsBody),
    contractForm,
    table('sla-calendars', t('sla.calendars.caption'),
      [t('sla.col.name'), t('sla.col.zone'), t('sla.col.hours'), t('sla.col.holidays'), t('sla.col.actions')], calendarsBody),
    calendarForm,
    table('sla-closure', t('sla.closure.caption'), [t('sla.col.organisation'), t('sla.col.auto_close'), t('sla.col.mail')], closureBody),
    closureForm,
    table('sla-addresses', t('sla.address.caption'), [t('sla.col.user'), t('sla.col.email')], addressBody),
    addressForm));
  load('');
  return () => { stopped = true; };
}
