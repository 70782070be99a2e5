/**
 * The review page (`#/review`): sessions to review (filters: engineer, ticket, date,
 * outcome, rating), a score form per session, and the dashboard — per-engineer figures
 * (sessions, time to answer, duration, client rating, reviewer scores) drawn as SVG bar
 * charts built with createElementNS (no libraries, no inline script or style).
 * @module pages/review
 */

import * as api from '../api.js';
import { h, clear, duration, when, toast, chip } from '../dom.js';
import { t, fmtNumber } from '../i18n.js';
import { outcomeChip } from './tickets.js';

const SVG = 'http://www.w3.org/2000/svg';

/**
 * An SVG element.
 * @param {string} tag
 * @param {Record<string, any>} [attrs]
 * @param {...Node} children
 * @returns {SVGElement}
 */
function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'text') el.textContent = String(v);
    else el.setAttribute(k, String(v));
  }
  for (const c of children) if (c) el.appendChild(c);
  return el;
}

/**
 * A horizontal bar chart: one bar per engineer.
 * @param {string} id
 * @param {string} title
 * @param {{label: string, value: number|null}[]} rows
 * @param {(v: number) => string} fmt
 * @param {number} [max] the scale's end (default: the largest value)
 * @returns {HTMLElement}
 */
export function barChart(id, title, rows, fmt, max) {
  const rowH = 26;
  const labelW = 120;
  const width = 420;
  const barW = width - labelW - 70;
  const top = Math.max(1e-9, max || Math.max(0, ...rows.map((r) => r.value || 0)));
  const svg = s('svg', { viewBox: `0 0 ${width} ${rows.length * rowH + 8}`, class: 'chart', role: 'img', 'aria-label': title, id });
  rows.forEach((r, i) => {
    const y = i * rowH + 4;
    const w = r.value === null ? 0 : Math.max(1, (barW * r.value) / top);
    svg.appendChild(s('text', { x: 0, y: y + 16, class: 'chart-label', text: r.label }));
    svg.appendChild(s('rect', { x: labelW, y: y + 3, width: w, height: rowH - 8, rx: 3, class: 'chart-bar', 'data-value': r.value === null ? '' : r.value }));
    svg.appendChild(s('text', { x: labelW + w + 6, y: y + 16, class: 'chart-value', text: r.value === null ? '—' : fmt(r.value) }));
  });
  // The same figures as a table for screen readers (the SVG is the picture of it).
  const table = h('table', { class: 'visually-hidden' },
    h('caption', { text: title }),
    h('tbody', {}, rows.map((r) => h('tr', {}, h('th', { scope: 'row', text: r.label }), h('td', { text: r.value === null ? '—' : fmt(r.value) })))));
  return h('figure', { class: 'card chart-card' }, h('figcaption', { text: title }), svg, table);
}

function ensureCss() {
  if (!document.querySelector('link[data-review-css]')) {
    document.head.appendChild(h('link', { rel: 'stylesheet', href: 'css/review.css', dataset: { reviewCss: '1' } }));
  }
}

const one = { minimumFractionDigits: 1, maximumFractionDigits: 1 };
const OUTCOMES = ['', 'ended_by_engineer', 'killed_by_client', 'denied', 'timed_out', 'failed', 'broker_shutdown'];

/**
 * Render the review page.
 * @param {HTMLElement} root
 * @param {Record<string, string>} params
 * @param {any} app
 * @returns {() => void}
 */
export function renderReview(root, params, app) {
  ensureCss();
  const isReviewer = app.user && ['reviewer', 'supervisor', 'admin'].includes(app.user.role);
  const engineer = h('select', { id: 'review-engineer', 'aria-label': t('review.col.engineer'), hidden: !isReviewer },
    h('option', { value: '', text: t('review.any_engineer') }));
  let engineersListed = false;
  const ticket = h('input', { id: 'review-ticket', placeholder: t('review.ticket_id'), 'aria-label': t('review.ticket_id'), value: params.ticket_id || '' });
  const since = h('input', { id: 'review-since', type: 'date', 'aria-label': t('review.since') });
  const until = h('input', { id: 'review-until', type: 'date', 'aria-label': t('review.until') });
  const outcome = h('select', { id: 'review-outcome', 'aria-label': t('review.col.outcome') }, OUTCOMES.map((o) => h('option', { value: o, text: o ? t(`outcome.${o}`) : t('review.any_outcome') })));
  const rating = h('select', { id: 'review-rating', 'aria-label': t('review.col.rating') }, ['', '1', '2', '3', '4', '5'].map((r) => h('option', { value: r, text: r ? t('review.rating_at_least', { n: r }) : t('review.any_rating') })));
  const body = h('tbody', { id: 'review-sessions' });
  const charts = h('div', { class: 'charts', id: 'review-charts' });
  let stopped = false;

  const dateMs = (input, endOfDay) => {
    if (!input.value) return undefined;
    const ms = Date.parse(`${input.value}T00:00:00`);
    return Number.isNaN(ms) ? undefined : ms + (endOfDay ? 86_400_000 : 0);
  };

  const scoreForm = (sess) => {
    const overall = h('select', { class: 'score-overall', 'aria-label': t('review.overall') }, [1, 2, 3, 4, 5].map((n) => h('option', { value: String(n), text: t('review.overall_n', { n }) })));
    const competence = h('select', { class: 'score-competence', 'aria-label': t('review.competence') }, [1, 2, 3, 4, 5].map((n) => h('option', { value: String(n), text: t('review.competence_n', { n }) })));
    const notes = h('input', { class: 'score-notes', placeholder: t('review.notes'), 'aria-label': t('review.notes'), maxlength: '4000' });
    overall.value = '3';
    competence.value = '3';
    return h('form', { class: 'score-form', dataset: { session: sess.id }, on: { submit: async (ev) => {
      ev.preventDefault();
      try {
        await api.request('POST', `/review/sessions/${encodeURIComponent(sess.id)}/reviews`, {
          overall: Number(overall.value), competence: Number(competence.value), notes: notes.value,
        });
        toast(t('review.saved'), 'ok');
        load();
      } catch (e) { app.fail(e); }
    } } }, overall, competence, notes, h('button', { type: 'submit', class: 'btn', text: t('review.score') }));
  };

  let loadSeq = 0;
  const load = async () => {
    const mine = ++loadSeq; // a slower, older answer must not overwrite a newer one
    const q = new URLSearchParams();
    const put = (k, v) => { if (v !== undefined && v !== '') q.set(k, String(v)); };
    put('engineer_id', engineer.value);
    put('ticket_id', ticket.value.trim());
    put('since', dateMs(since, false));
    put('until', dateMs(until, true));
    put('outcome', outcome.value);
    put('min_rating', rating.value);
    try {
      const data = await api.request('GET', `/review/sessions${q.toString() ? `?${q}` : ''}`);
      if (stopped || mine !== loadSeq) return;
      clear(body);
      for (const sess of data.sessions) {
        const scores = (sess.reviews || []).map((r) => t('review.score_line', { name: r.reviewer_name, overall: r.overall, competence: r.competence }) + (r.notes ? ` “${r.notes}”` : '')).join('; ');
        const answered = Boolean(sess.engineer_id);
        body.appendChild(h('tr', { dataset: { session: sess.id } },
          h('td', { text: when(sess.created_at) }),
          h('td', { text: sess.engineer_name || (answered ? sess.engineer_id : t('review.nobody')) }),
          h('td', { class: 'client-cell', text: sess.client_name || '—' }),
          h('td', { class: 'ticket-cell' },
            h('a', { href: `#/ticket/${encodeURIComponent(sess.ticket_id)}`, title: sess.ticket_id, text: sess.title || String(sess.ticket_id).slice(0, 8) }),
            h('span', { class: 'muted small ticket-ref', text: ` ${String(sess.ticket_id).slice(0, 8)}` })),
          h('td', {}, sess.outcome ? outcomeChip(sess) : '—'),
          h('td', { text: sess.rating ? '★'.repeat(sess.rating.score) : '—', 'aria-label': sess.rating ? t('rating.of5', { score: sess.rating.score }) : t('rating.none') }),
          h('td', { text: scores || '—' }),
          h('td', {}, sess.has_recording
            ? h('a', { class: 'btn btn-small replay-link', href: `#/replay/${encodeURIComponent(sess.id)}`, text: t('review.replay') })
            : h('span', { class: 'muted', text: t('review.no_recording') })),
          // A session nobody answered (killed or timed out in the queue) has no work to score.
          h('td', {}, isReviewer && answered ? scoreForm(sess) : isReviewer ? chip(t('review.not_scorable'), 'muted') : null)));
      }
      if (!data.sessions.length) body.appendChild(h('tr', {}, h('td', { colspan: '9', class: 'muted', text: t('review.none') })));
    } catch (e) { app.fail(e); }
    if (!isReviewer) return;
    try {
      const dash = await api.request('GET', `/review/dashboard${q.has('since') || q.has('until') ? `?${new URLSearchParams([...q].filter(([k]) => k === 'since' || k === 'until'))}` : ''}`);
      if (stopped || mine !== loadSeq) return;
      clear(charts);
      if (!engineersListed) {
        engineersListed = true;
        for (const e of dash.engineers) engineer.appendChild(h('option', { value: e.engineer_id, text: e.name }));
        if (params.engineer_id) engineer.value = params.engineer_id;
      }
      const rows = (key) => dash.engineers.map((e) => ({ label: e.name, value: e[key] }));
      charts.append(
        barChart('chart-sessions', t('review.chart.sessions'), rows('sessions'), (v) => fmtNumber(v)),
        barChart('chart-answer', t('review.chart.answer'), rows('avg_time_to_answer_s'), (v) => duration(v * 1000)),
        barChart('chart-duration', t('review.chart.duration'), rows('avg_duration_s'), (v) => duration(v * 1000)),
        barChart('chart-rating', t('review.chart.rating'), rows('avg_rating'), (v) => fmtNumber(v, one), 5),
        barChart('chart-overall', t('review.chart.overall'), rows('avg_overall'), (v) => fmtNumber(v, one), 5),
        barChart('chart-competence', t('review.chart.competence'), rows('avg_competence'), (v) => fmtNumber(v, one), 5),
      );
    } catch (e) { app.fail(e); }
  };

  const filters = h('form', { class: 'filters', id: 'review-filters', on: { submit: (ev) => { ev.preventDefault(); load(); } } },
    engineer, ticket, since, until, outcome, rating, h('button', { type: 'submit', class: 'btn', text: t('review.filter') }));
  // i18n-keys: review.col.date review.col.engineer review.col.client review.col.ticket review.col.outcome
  // i18n-keys: review.col.rating review.col.scores review.col.recording review.col.score
  const cols = ['date', 'engineer', 'client', 'ticket', 'outcome', 'rating', 'scores', 'recording', 'score'];
  root.appendChild(h('section', { class: 'page review-page', id: 'review-page' },
    h('h1', { text: t('review.title') }),
    h('p', { class: 'muted', text: t('review.subtitle') }),
    filters,
    h('div', { class: 'panel table-wrap' }, h('table', { class: 'table review-table' },
      h('thead', {}, h('tr', {}, cols.map((c) => h('th', { scope: 'col', text: t(`review.col.${c}`) })))),
      body)),
    isReviewer ? h('h2', { text: t('review.dashboard') }) : null,
    isReviewer ? charts : null));
  load();
  return () => { stopped = true; };
}
