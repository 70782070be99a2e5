/**
 * Small DOM helpers. Text is always set with textContent / text nodes, never innerHTML,
 * so ticket titles, chat and names containing markup show as text (strict CSP too).
 * @module dom
 */

import { t, fmtDate, fmtTime } from './i18n.js';

/**
 * Create an element. Attributes: `class`, `text` (textContent), `dataset` (object),
 * `on` (object of event → handler), `hidden`, `disabled`, any other attribute by name.
 * Children: nodes, strings (become text nodes), arrays, null/false (skipped).
 * @param {string} tag
 * @param {Record<string, any>} [attrs]
 * @param {...any} children
 * @returns {HTMLElement}
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = String(v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'on') for (const [ev, fn] of Object.entries(v)) el.addEventListener(ev, fn);
    else if (k === 'hidden' || k === 'disabled' || k === 'checked' || k === 'required' || k === 'autofocus') el[k] = Boolean(v);
    else if (k === 'value') el.value = v;
    else if (k.startsWith('on')) throw new Error('use the `on` attribute for handlers');
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

/**
 * Append children (nodes or text) to an element.
 * @param {Node} el
 * @param {any[]} children
 */
export function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/**
 * Remove every child of an element.
 * @param {Node} el
 */
export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
}

/**
 * The first defined value among several field names (tolerates API shape variations).
 * @param {any} obj
 * @param {...string} names dotted paths allowed
 * @returns {any}
 */
export function pick(obj, ...names) {
  for (const n of names) {
    let v = obj;
    for (const part of n.split('.')) v = v === null || v === undefined ? undefined : v[part];
    if (v !== undefined && v !== null) return v;
  }
  return undefined;
}

/**
 * Milliseconds since the epoch from a number (ms or s) or an ISO string.
 * @param {any} v
 * @returns {number|null}
 */
export function toMs(v) {
  if (v === undefined || v === null || v === '') return null;
  if (typeof v === 'number') return v < 1e11 ? v * 1000 : v;
  const t = Date.parse(String(v));
  return Number.isNaN(t) ? null : t;
}

/**
 * "4m 05s" style duration.
 * @param {number} ms
 * @returns {string}
 */
export function duration(ms) {
  const s = Math.max(0, Math.round(Math.abs(ms) / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  if (h) return t('time.hm', { h: String(h), m: String(m).padStart(2, '0') });
  if (m) return t('time.ms', { m: String(m), s: String(sec).padStart(2, '0') });
  return t('time.s', { s: String(sec) });
}

/**
 * Local date and time for people.
 * @param {any} v
 * @returns {string}
 */
export function when(v) {
  const ms = toMs(v);
  if (ms === null) return '—';
  return fmtDate(ms);
}

/**
 * Local time of day (HH:MM:SS).
 * @param {any} v
 * @returns {string}
 */
export function clock(v) {
  const ms = toMs(v);
  if (ms === null) return '';
  return fmtTime(ms);
}

/**
 * A status chip.
 * @param {string} text
 * @param {string} [tone] ok|warn|danger|info|muted|accent
 * @returns {HTMLElement}
 */
export function chip(text, tone = 'muted') {
  return h('span', { class: `chip chip-${tone}`, text });
}

/** Tone and label key of a SPEC §5 session state. */
// i18n-keys: state.requested state.waiting state.consent_pending state.live state.paused state.ended
export const STATE_LOOK = Object.freeze({
  requested: ['state.requested', 'muted'],
  waiting: ['state.waiting', 'warn'],
  consent_pending: ['state.consent_pending', 'info'],
  live: ['state.live', 'ok'],
  paused: ['state.paused', 'warn'],
  ended: ['state.ended', 'muted'],
});

/**
 * Chip for a session state.
 * @param {string} state
 * @returns {HTMLElement}
 */
export function stateChip(state) {
  const [key, tone] = STATE_LOOK[state] || [null, 'muted'];
  const c = chip(key ? t(key) : state || t('state.unknown'), tone);
  c.dataset.state = state || '';
  return c;
}

/**
 * Show a transient message.
 * @param {string} text
 * @param {'info'|'error'|'ok'} [tone]
 */
export function toast(text, tone = 'info') {
  const box = document.getElementById('toasts');
  if (!box) return;
  const t = h('div', { class: `toast toast-${tone}`, text });
  box.appendChild(t);
  setTimeout(() => t.classList.add('toast-out'), 4000);
  setTimeout(() => t.remove(), 4600);
}
