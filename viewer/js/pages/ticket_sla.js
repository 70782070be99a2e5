/**
 * The ticket page's SLA panel (issue 19): the priority (and the client's e-mail for
 * progress mail), the response and resolution clocks in words — running, paused while
 * waiting, met, or breached — and the escalation levels raised for the ticket, with
 * who acknowledged each.
 * @module pages/ticket_sla
 */

import * as api from '../api.js';
import { h, clear, duration, toast } from '../dom.js';
import { t, fmtDate } from '../i18n.js';
import { levelText } from './admin_sla.js';

const PRIORITIES = ['urgent', 'high', 'normal', 'low'];

/**
 * One clock in words.
 * @param {{clock: string, state: string, remaining_s: number, due: string|null, breached: boolean, breached_at: string|null}} c
 * @returns {string}
 */
export function clockText(c) {
  const name = t(`sla.clock.${c.clock}`);
  if (c.breached) return t('sla.clock.breached', { clock: name, when: fmtDate(Date.parse(c.breached_at || '')) });
  if (c.state === 'stopped') return t('sla.clock.met', { clock: name });
  const left = duration(Math.max(0, c.remaining_s) * 1000);
  if (c.state === 'paused') return t('sla.clock.paused', { clock: name, left });
  return t('sla.clock.running', { clock: name, left, when: c.due ? fmtDate(Date.parse(c.due)) : '—' });
}

/**
 * The panel for ticket ``ticketId``; ``canEdit``: engineers, supervisors and admins
 * may change the priority and the client's e-mail.
 * @param {string} ticketId
 * @param {any} app
 * @param {boolean} canEdit
 * @returns {HTMLElement}
 */
export function slaPanel(ticketId, app, canEdit) {
  const clocks = h('ul', { class: 'plain sla-clocks', id: 'ticket-sla-clocks' });
  const levels = h('ul', { class: 'plain', id: 'ticket-sla-escalations' });
  const priority = h('select', { id: 'ticket-priority', disabled: !canEdit },
    // i18n-keys: sla.priority.urgent sla.priority.high sla.priority.normal sla.priority.low
    PRIORITIES.map((p) => h('option', { value: p, text: t(`sla.priority.${p}`) })));
  const email = h('input', { id: 'ticket-client-email', type: 'email', maxlength: '254', autocomplete: 'off', disabled: !canEdit });
  const save = h('button', { type: 'button', class: 'btn btn-sm btn-secondary', id: 'ticket-sla-save', text: t('sla.ticket.save'), hidden: !canEdit });
  const panel = h('section', { class: 'panel', id: 'ticket-sla' },
    h('h2', { text: t('sla.ticket.title') }),
    h('div', { class: 'user-form' },
      h('div', { class: 'field' }, h('label', { for: 'ticket-priority', text: t('sla.ticket.priority') }), priority),
      h('div', { class: 'field' }, h('label', { for: 'ticket-client-email', text: t('sla.ticket.email') }), email,
        h('span', { class: 'muted small', text: t('sla.ticket.email.hint') })),
      h('div', { class: 'field field-submit' }, save)),
    clocks,
    h('h3', { text: t('sla.ticket.escalations') }),
    levels);

  const paint = (data) => {
    priority.value = data.priority;
    email.value = data.client_email || '';
    clear(clocks);
    for (const c of data.clocks) {
      clocks.appendChild(h('li', { class: `sla-clock${c.breached ? ' breached' : ''}`, dataset: { clock: c.clock, state: c.state }, text: clockText(c) }));
    }
    clear(levels);
    if (!data.escalations.length) levels.appendChild(h('li', { class: 'muted', text: t('sla.ticket.no_escalations') }));
    for (const e of data.escalations) {
      const ack = e.acknowledged_at
        ? t('sla.ticket.acked', { name: e.acknowledged_by_name || '—', when: fmtDate(Date.parse(e.acknowledged_at)) })
        : t('sla.ticket.open');
      levels.appendChild(h('li', { dataset: { escalation: e.id } },
        `${levelText(e)} · ${fmtDate(Date.parse(e.raised_at))} · ${ack}`));
    }
  };

  const load = async () => {
    try { paint(await api.ticketSla(ticketId)); } catch (e) { app.fail(e); }
  };
  save.addEventListener('click', async () => {
    try {
      paint(await api.putTicketSla(ticketId, { priority: priority.value, client_email: email.value.trim() }));
      toast(t('sla.ticket.saved'), 'ok');
    } catch (e) { app.fail(e); }
  });
  load();
  return panel;
}
