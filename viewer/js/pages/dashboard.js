/**
 * Service dashboard (issue 19): SLA met %, time to answer and time to resolve per
 * organisation, engineer or skill group over a date range, from `GET /reports/sla`.
 * Charts are plain SVG (no library); each has a text alternative for screen readers
 * (its title and description, and the table below repeats every figure). CSV export.
 * @module pages/dashboard
 */

import * as api from '../api.js';
import { h, clear, duration } from '../dom.js';
import { t, language } from '../i18n.js';

const SVG = 'http://www.w3.org/2000/svg';
const BAR_H = 22;
const GAP = 8;
const LABEL_W = 160;
const CHART_W = 560;

/**
 * An SVG element.
 * @param {string} tag
 * @param {Record<string, string|number>} attrs
 * @param {...(Node|string)} children
 */
function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  for (const c of children) el.append(c);
  return el;
}

/** @param {number} n */
const num = (n) => new Intl.NumberFormat(language()).format(n);

/**
 * A horizontal bar chart with an accessible name and description (the values in words).
 * @param {string} id
 * @param {string} title
 * @param {{label: string, value: number|null, text: string}[]} bars
 * @param {number} max the value of a full bar
 * @returns {HTMLElement}
 */
export function barChart(id, title, bars, max) {
  const height = Math.max(1, bars.length) * (BAR_H + GAP) + GAP;
  const desc = bars.map((b) => `${b.label}: ${b.text}`).join('; ') || t('dashboard.empty');
  const svg = s('svg', { id, class: 'chart', viewBox: `0 0 ${LABEL_W + CHART_W + 80} ${height}`, role: 'img', 'aria-labelledby': `${id}-title ${id}-desc`, width: '100%' },
    s('title', { id: `${id}-title` }, title),
    s('desc', { id: `${id}-desc` }, desc));
  bars.forEach((b, i) => {
    const y = GAP + i * (BAR_H + GAP);
    const w = b.value === null || !max ? 0 : Math.max(2, (b.value / max) * CHART_W);
    svg.append(
      s('text', { x: LABEL_W - 8, y: y + BAR_H * 0.7, 'text-anchor': 'end', class: 'chart-label' }, b.label),
      s('rect', { x: LABEL_W, y, width: CHART_W, height: BAR_H, class: 'chart-track', rx: 3 }),
      s('rect', { x: LABEL_W, y, width: w, height: BAR_H, class: 'chart-bar', rx: 3, 'data-value': b.value === null ? '' : b.value }),
      s('text', { x: LABEL_W + CHART_W + 8, y: y + BAR_H * 0.7, class: 'chart-value' }, b.text));
  });
  return h('figure', { class: 'chart-figure' }, h('figcaption', { class: 'chart-caption', text: title }), svg);
}

/**
 * Render the dashboard page.
 * @param {HTMLElement} root
 * @param {Record<string, string>} params
 * @param {any} app
 * @returns {() => void} cleanup
 */
export function renderDashboard(root, params, app) {
  const today = new Date();
  const iso = (d) => d.toISOString().slice(0, 10);
  const from = h('input', { type: 'date', id: 'report-from', value: params.from || iso(new Date(today.getTime() - 29 * 86400000)) });
  const to = h('input', { type: 'date', id: 'report-to', value: params.to || iso(today) });
  // i18n-keys: dashboard.by.organisation dashboard.by.engineer dashboard.by.group
  const by = h('select', { id: 'report-by' }, ['organisation', 'engineer', 'group'].map((g) => h('option', { value: g, text: t(`dashboard.by.${g}`) })));
  by.value = params.by || 'organisation';
  const csv = h('a', { class: 'btn btn-ghost', id: 'report-csv', text: t('dashboard.csv'), download: '' });
  const charts = h('div', { class: 'charts', id: 'report-charts' });
  const table = h('tbody', { id: 'report-rows' });
  const totalLine = h('p', { class: 'report-total', id: 'report-total', role: 'status' });
  const cols = ['label', 'sessions', 'sla_met_pct', 'answer_avg_s', 'resolved', 'resolve_avg_s', 'resolution_met_pct'];
  root.appendChild(h('section', { class: 'page', id: 'dashboard-page' },
    h('div', { class: 'page-head' },
      h('div', {}, h('h1', { text: t('dashboard.title') }), h('p', { class: 'muted', text: t('dashboard.subtitle') })),
      h('div', { class: 'head-tools' }, csv)),
    h('form', { class: 'filters', id: 'report-form' },
      h('label', { for: 'report-from', text: t('dashboard.from') }), from,
      h('label', { for: 'report-to', text: t('dashboard.to') }), to,
      h('label', { for: 'report-by', text: t('dashboard.by') }), by,
      h('button', { type: 'submit', class: 'btn btn-primary', id: 'report-show', text: t('dashboard.show') })),
    totalLine,
    h('section', { class: 'panel' }, charts),
    h('section', { class: 'panel table-wrap' },
      h('h2', { text: t('dashboard.table') }),
      h('table', { class: 'table', id: 'report-table' },
        // i18n-keys: dashboard.col.label dashboard.col.sessions dashboard.col.sla_met_pct dashboard.col.answer_avg_s dashboard.col.resolved dashboard.col.resolve_avg_s dashboard.col.resolution_met_pct
        h('thead', {}, h('tr', {}, cols.map((c) => h('th', { scope: 'col', text: t(`dashboard.col.${c}`) })))),
        table))));
  let stopped = false;
  const secs = (v) => (v === null ? '—' : duration(v * 1000));
  const pct = (v) => (v === null ? '—' : `${num(v)} %`);
  const label = (r) => (r.key === '' ? t(`dashboard.empty_key.${by.value}`) : r.label); // i18n-keys: dashboard.empty_key.organisation dashboard.empty_key.engineer dashboard.empty_key.group
  const load = async () => {
    const query = `from=${encodeURIComponent(from.value)}&to=${encodeURIComponent(to.value)}&by=${by.value}`;
    csv.href = `/api/v1/reports/sla?${query}&format=csv`;
    let data;
    try {
      data = await api.request('GET', `/reports/sla?${query}`);
    } catch (e) {
      totalLine.textContent = e.message;
      if (e.status === 401) app.fail(e);
      return;
    }
    if (stopped) return;
    const rows = data.rows;
    const tot = data.total;
    totalLine.textContent = t('dashboard.total', { sessions: num(tot.sessions), pct: pct(tot.sla_met_pct), answer: secs(tot.answer_avg_s), resolve: secs(tot.resolve_avg_s) });
    clear(charts);
    charts.append(
      barChart('chart-sla', t('dashboard.chart.sla'), rows.map((r) => ({ label: label(r), value: r.sla_met_pct, text: pct(r.sla_met_pct) })), 100),
      barChart('chart-resolution-sla', t('dashboard.chart.resolution_sla'), rows.map((r) => ({ label: label(r), value: r.resolution_met_pct, text: pct(r.resolution_met_pct) })), 100),
      barChart('chart-answer', t('dashboard.chart.answer'), rows.map((r) => ({ label: label(r), value: r.answer_avg_s, text: secs(r.answer_avg_s) })),
        Math.max(0, ...rows.map((r) => r.answer_avg_s || 0))),
      barChart('chart-resolve', t('dashboard.chart.resolve'), rows.map((r) => ({ label: label(r), value: r.resolve_avg_s, text: secs(r.resolve_avg_s) })),
        Math.max(0, ...rows.map((r) => r.resolve_avg_s || 0))));
    clear(table);
    if (!rows.length) table.appendChild(h('tr', {}, h('td', { colspan: String(cols.length), class: 'muted', text: t('dashboard.empty') })));
    for (const r of [...rows, { ...tot, label: t('dashboard.total_row'), key: null }]) {
      table.appendChild(h('tr', { dataset: { key: r.key === null ? 'total' : r.key } },
        h('th', { scope: 'row', text: r.key === null ? r.label : label(r) }),
        h('td', { text: num(r.sessions) }),
        h('td', { text: pct(r.sla_met_pct) }),
        h('td', { text: secs(r.answer_avg_s) }),
        h('td', { text: num(r.resolved) }),
        h('td', { text: secs(r.resolve_avg_s) }),
        h('td', { text: pct(r.resolution_met_pct) })));
    }
    charts.dataset.loaded = '1';
  };
  root.querySelector('#report-form').addEventListener('submit', (ev) => { ev.preventDefault(); load(); });
  load();
  return () => { stopped = true; };
}
