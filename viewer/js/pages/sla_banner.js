/**
 * The escalations banner on the queue page (issue 19): the open levels of SLA
 * escalation chains — every one for supervisors, one's own for engineers — each with
 * its ticket, what was reached ("Resolution 80 % → supervisor"), when the clock runs
 * out, and Acknowledge (the level stops; the broker keeps who and when).
 * @module pages/sla_banner
 */

import * as api from '../api.js';
import { h, clear, toast } from '../dom.js';
import { t, fmtDate } from '../i18n.js';
import { levelText } from './admin_sla.js';

const POLL_MS = 15000;

/**
 * The banner element and a stop function (its polling ends).
 * @param {any} app
 * @returns {{el: HTMLElement, stop: () => void}}
 */
export function escalationBanner(app) {
  const list = h('ul', { class: 'sla-escalation-list', id: 'sla-escalations' });
  const heading = h('h2', { id: 'sla-escalations-title' });
  const el = h('section', { class: 'panel sla-banner', 'aria-labelledby': 'sla-escalations-title', hidden: true },
    heading, list);
  let stopped = false;
  let timer = null;

  const paint = (items) => {
    el.hidden = !items.length;
    heading.textContent = t('sla.banner.title', { count: items.length });
    clear(list);
    for (const e of items) {
      const ack = h('button', { type: 'button', class: 'btn btn-sm btn-primary sla-ack', text: t('sla.banner.ack'),
        'aria-label': t('sla.banner.ack.aria', { title: e.title }) });
      ack.addEventListener('click', async () => {
        ack.disabled = true;
        try {
          await api.acknowledgeEscalation(e.id);
          toast(t('sla.banner.acked', { title: e.title }), 'ok');
          await load();
        } catch (err) { ack.disabled = false; app.fail(err); }
      });
      list.appendChild(h('li', { class: 'sla-escalation', dataset: { escalation: e.id } },
        h('a', { href: `#/ticket/${encodeURIComponent(e.ticket_id)}`, text: e.title }),
        ' ', h('span', { class: 'chip chip-danger', text: levelText(e) }),
        ' ', h('span', { class: 'muted small', text: e.due ? t('sla.banner.due', { when: fmtDate(Date.parse(e.due)) }) : t('sla.banner.no_due') }),
        ' ', ack));
    }
  };

  const load = async () => {
    clearTimeout(timer);
    try {
      const data = await api.slaEscalations({ open: 'true' });
      if (!stopped) paint(api.listOf(data, 'escalations'));
    } catch (e) {
      if (!stopped) app.fail(e);
    }
    if (!stopped) timer = setTimeout(load, POLL_MS);
  };
  load();
  return { el, stop: () => { stopped = true; clearTimeout(timer); } };
}
