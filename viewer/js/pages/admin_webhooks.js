/**
 * Admin page for outbound webhooks (issue 18): the registered endpoints, each one's
 * recent deliveries (event, state, attempts), a delivery's log — every attempt with
 * its time, HTTP status, latency, error and whether it was sent by hand — and
 * "Send again" (a manual redelivery: the same delivery id and body, signed anew).
 * Registering endpoints stays in the API (the secret is shown once there).
 * @module pages/admin_webhooks
 */

import * as api from '../api.js';
import { h, clear, chip, when, toast } from '../dom.js';
import { t, fmtNumber } from '../i18n.js';
import { adminTabs } from './users.js';

/** Tone of a delivery's state. */
// i18n-keys: webhooks.status.pending webhooks.status.delivered webhooks.status.dead
const STATUS_TONE = Object.freeze({ pending: 'warn', delivered: 'ok', dead: 'danger' });

/**
 * Render the webhooks page.
 * @param {HTMLElement} root
 * @param {Record<string, string>} _params
 * @param {any} app
 * @returns {() => void}
 */
export function renderAdminWebhooks(root, _params, app) {
  const endpoints = h('tbody', { id: 'webhooks-body' });
  const deliveries = h('tbody', { id: 'deliveries-body' });
  const attempts = h('tbody', { id: 'attempts-body' });
  const deliveriesTitle = h('h2', { id: 'deliveries-title', text: t('webhooks.deliveries.title.none') });
  const attemptsTitle = h('h2', { id: 'attempts-title', text: t('webhooks.attempts.title.none') });
  const filter = h('select', { id: 'deliveries-filter' },
    // i18n-keys: webhooks.filter.all
    ['', 'pending', 'delivered', 'dead'].map((s) => h('option', { value: s, text: s ? t(`webhooks.status.${s}`) : t('webhooks.filter.all') })));
  let stopped = false;
  /** @type {any} */ let endpoint = null;
  /** @type {string|null} */ let openDelivery = null;

  const statusChip = (status) => {
    const c = chip(t(`webhooks.status.${status}`), STATUS_TONE[status] || 'muted');
    c.dataset.status = status;
    return c;
  };

  const showAttempts = async (delivery) => {
    openDelivery = delivery.id;
    try {
      const data = await api.webhookDelivery(endpoint.id, delivery.id);
      if (stopped) return;
      attemptsTitle.textContent = t('webhooks.attempts.title', { event: delivery.event_type, id: delivery.id.slice(0, 8) });
      clear(attempts);
      const rows = api.listOf(data, 'attempts');
      if (!rows.length) attempts.appendChild(h('tr', {}, h('td', { colspan: '6', class: 'muted', text: t('webhooks.attempts.none') })));
      for (const a of rows) {
        attempts.appendChild(h('tr', { class: 'attempt-row', dataset: { attempt: String(a.attempt), manual: a.manual ? '1' : '' } },
          h('th', { scope: 'row', text: String(a.attempt) }),
          h('td', { text: when(a.at) }),
          h('td', {}, a.status === null ? chip(t('webhooks.no_answer'), 'danger')
            : chip(String(a.status), a.status >= 200 && a.status < 300 ? 'ok' : 'danger')),
          h('td', { text: t('webhooks.latency', { ms: fmtNumber(a.latency_ms) }) }),
          h('td', { class: 'small', text: a.error || '—' }),
          h('td', { text: a.manual ? t('webhooks.manual.yes') : t('webhooks.manual.no') })));
      }
    } catch (e) { app.fail(e); }
  };

  const redeliver = async (delivery) => {
    try {
      await api.redeliverWebhook(endpoint.id, delivery.id);
      toast(t('webhooks.redelivered', { event: delivery.event_type }), 'ok');
      await loadDeliveries();
      if (openDelivery === delivery.id) await showAttempts(delivery);
    } catch (e) { app.fail(e); }
  };

  const loadDeliveries = async () => {
    if (!endpoint) return;
    try {
      const data = await api.webhookDeliveries(endpoint.id, filter.value ? { status: filter.value } : {});
      if (stopped) return;
      clear(deliveries);
      const rows = api.listOf(data, 'deliveries');
      if (!rows.length) deliveries.appendChild(h('tr', {}, h('td', { colspan: '6', class: 'muted', text: t('webhooks.deliveries.none') })));
      for (const d of rows) {
        deliveries.appendChild(h('tr', { class: 'delivery-row', dataset: { delivery: d.id, status: d.status } },
          h('th', { scope: 'row' }, h('code', { text: d.event_type })),
          h('td', {}, statusChip(d.status)),
          h('td', { text: String(d.attempts) }),
          h('td', { text: when(d.created_at) }),
          h('td', { class: 'small', text: d.last_error || (d.last_status ? String(d.last_status) : '—') }),
          h('td', { class: 'row-actions' },
            h('button', { type: 'button', class: 'btn btn-sm btn-ghost delivery-log', text: t('webhooks.log'),
              'aria-label': t('webhooks.log.aria', { event: d.event_type, id: d.id.slice(0, 8) }), on: { click: () => showAttempts(d) } }),
            h('button', { type: 'button', class: 'btn btn-sm delivery-redeliver', text: t('webhooks.redeliver'),
              'aria-label': t('webhooks.redeliver.aria', { event: d.event_type, id: d.id.slice(0, 8) }), on: { click: () => redeliver(d) } }))));
      }
    } catch (e) { app.fail(e); }
  };

  const choose = async (e) => {
    endpoint = e;
    openDelivery = null;
    deliveriesTitle.textContent = t('webhooks.deliveries.title', { url: e.url });
    attemptsTitle.textContent = t('webhooks.attempts.title.none');
    clear(attempts);
    for (const row of endpoints.querySelectorAll('tr[data-webhook]')) {
      row.classList.toggle('selected', row.getAttribute('data-webhook') === e.id);
    }
    await loadDeliveries();
  };

  const load = async () => {
    try {
      const data = await api.webhooks();
      if (stopped) return;
      clear(endpoints);
      const rows = api.listOf(data, 'webhooks');
      if (!rows.length) endpoints.appendChild(h('tr', {}, h('td', { colspan: '4', class: 'muted', text: t('webhooks.none') })));
      for (const e of rows) {
        endpoints.appendChild(h('tr', { class: 'webhook-row', dataset: { webhook: e.id } },
          h('th', { scope: 'row' }, h('code', { text: e.url })),
          h('td', { text: t('webhooks.events.count', { count: e.events.length }), title: e.events.join(', ') }),
          h('td', { text: e.description || '—' }),
          h('td', { class: 'row-actions' },
            h('button', { type: 'button', class: 'btn btn-sm btn-ghost webhook-deliveries', text: t('webhooks.deliveries'),
              'aria-label': t('webhooks.deliveries.aria', { url: e.url }), on: { click: () => choose(e) } }))));
      }
      if (rows.length && !endpoint) await choose(rows[0]);
    } catch (e) { app.fail(e); }
  };

  filter.addEventListener('change', () => loadDeliveries());

  const table = (cls, caption, cols, body) => h('section', { class: 'panel table-wrap' },
    h('table', { class: `table ${cls}` },
      h('caption', { class: 'visually-hidden', text: caption }),
      h('thead', {}, h('tr', {}, cols.map((c) => h('th', { scope: 'col', text: t(c) })))),
      body));

  root.appendChild(h('section', { class: 'page admin-webhooks' },
    h('div', { class: 'page-head' }, h('div', {}, h('h1', { text: t('webhooks.title') }), h('p', { class: 'muted', text: t('webhooks.subtitle') }))),
    adminTabs('webhooks'),
    // i18n-keys: webhooks.col.url webhooks.col.events webhooks.col.description webhooks.col.actions
    table('webhooks', t('webhooks.title'), ['webhooks.col.url', 'webhooks.col.events', 'webhooks.col.description', 'webhooks.col.actions'], endpoints),
    h('div', { class: 'panel-head' }, deliveriesTitle,
      h('div', { class: 'field field-inline' }, h('label', { for: 'deliveries-filter', text: t('webhooks.filter') }), filter)),
    // i18n-keys: webhooks.dcol.event webhooks.dcol.status webhooks.dcol.attempts webhooks.dcol.created webhooks.dcol.last webhooks.dcol.actions
    table('deliveries', t('webhooks.deliveries.caption'), ['webhooks.dcol.event', 'webhooks.dcol.status', 'webhooks.dcol.attempts', 'webhooks.dcol.created', 'webhooks.dcol.last', 'webhooks.dcol.actions'], deliveries),
    attemptsTitle,
    // i18n-keys: webhooks.acol.attempt webhooks.acol.at webhooks.acol.status webhooks.acol.latency webhooks.acol.error webhooks.acol.manual
    table('attempts', t('webhooks.attempts.caption'), ['webhooks.acol.attempt', 'webhooks.acol.at', 'webhooks.acol.status', 'webhooks.acol.latency', 'webhooks.acol.error', 'webhooks.acol.manual'], attempts)));
  load();
  return () => { stopped = true; };
}
