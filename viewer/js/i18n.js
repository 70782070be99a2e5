/**
 * The viewer's languages: message catalogues (`/i18n/<lang>.json`, plain JSON loaded by
 * the page, no build step), looked up by key with `t(key, params)`.
 *
 * - A value is a string with `{name}` placeholders, or, for counts, an object of
 *   Intl.PluralRules categories (`one`, `few`, `many`, `other`) chosen by `params.count`.
 * - Numbers in params are formatted for the locale; `fmtDate`/`fmtTime`/`fmtNumber`
 *   format the rest.
 * - The language comes from the saved choice (localStorage), else the browser
 *   (`navigator.languages`), else English; `setLanguage` switches and saves it.
 * - Static HTML carries `data-i18n="key"` (text) and `data-i18n-attr="attr:key;…"`;
 *   `translateDom` fills them in.
 * How to add a string: docs/i18n.md.
 * @module i18n
 */

export const LANGUAGES = Object.freeze({ en: 'English', ru: 'Русский' });
const STORE_KEY = 'clearpane.lang';

/** One page's language state (a page speaks one language at a time). */
const state = {
  lang: 'en',
  /** @type {Record<string, any>} */
  messages: {},
  /** @type {Record<string, any>} English, for keys a catalogue lacks */
  fallback: {},
  /** @type {Intl.PluralRules|null} */
  plural: null,
};

/**
 * The language to use: saved choice, else the browser's first supported one.
 * @returns {string}
 */
export function preferredLanguage() {
  let saved = null;
  try { saved = localStorage.getItem(STORE_KEY); } catch (e) { /* storage disabled */ }
  if (saved && saved in LANGUAGES) return saved;
  for (const tag of navigator.languages || [navigator.language || 'en']) {
    const code = String(tag).toLowerCase().split('-')[0];
    if (code in LANGUAGES) return code;
  }
  return 'en';
}

/**
 * @param {string} lang
 * @returns {Promise<Record<string, any>>}
 */
async function fetchCatalogue(lang) {
  const base = new URL('../i18n/', import.meta.url);
  const res = await fetch(new URL(`${lang}.json`, base), { credentials: 'same-origin' });
  if (!res.ok) throw new Error(`catalogue ${lang}: HTTP ${res.status}`);
  return res.json();
}

/**
 * Load a language's catalogue (and English as the fallback) and make it current.
 * @param {string} [lang] defaults to `preferredLanguage()`
 * @returns {Promise<string>} the language in use
 */
export async function loadLanguage(lang) {
  let code = lang && lang in LANGUAGES ? lang : preferredLanguage();
  if (!Object.keys(state.fallback).length) state.fallback = await fetchCatalogue('en');
  let messages = state.fallback;
  if (code !== 'en') {
    try { messages = await fetchCatalogue(code); } catch (e) { code = 'en'; }
  }
  state.lang = code;
  state.messages = messages;
  state.plural = new Intl.PluralRules(code);
  document.documentElement.lang = code;
  return code;
}

/**
 * Switch the language, remember it and re-translate the static page; listeners of the
 * `languagechange` event on `document` re-render what they built.
 * @param {string} lang
 */
export async function setLanguage(lang) {
  try { localStorage.setItem(STORE_KEY, lang); } catch (e) { /* storage disabled */ }
  await loadLanguage(lang);
  translateDom(document);
  document.dispatchEvent(new CustomEvent('clearpane:language', { detail: { lang: state.lang } }));
}

/** @returns {string} the language in use, e.g. `ru` */
export function language() {
  return state.lang;
}

/**
 * Translate a key. Unknown keys show as the key itself (the i18n test catches them).
 * @param {string} key dotted, e.g. `queue.title`
 * @param {Record<string, any>} [params] `{name}` values; `count` picks the plural form
 * @returns {string}
 */
export function t(key, params = {}) {
  let value = key in state.messages ? state.messages[key] : state.fallback[key];
  if (value === undefined) return key;
  if (value && typeof value === 'object') {
    const n = Number(params.count ?? 0);
    const cat = (state.plural || new Intl.PluralRules(state.lang)).select(n);
    value = value[cat] ?? value.other ?? '';
  }
  return String(value).replace(/\{(\w+)\}/g, (m, name) => {
    if (!(name in params)) return m;
    const v = params[name];
    return typeof v === 'number' ? fmtNumber(v) : String(v);
  });
}

/**
 * Whether a key exists (for optional texts such as server error codes).
 * @param {string} key
 * @returns {boolean}
 */
export function has(key) {
  return key in state.messages || key in state.fallback;
}

/**
 * @param {number} n
 * @param {Intl.NumberFormatOptions} [opts]
 * @returns {string}
 */
export function fmtNumber(n, opts) {
  return new Intl.NumberFormat(state.lang, opts).format(n);
}

/**
 * Date and time for people, in the page's language.
 * @param {number|Date} ms
 * @param {Intl.DateTimeFormatOptions} [opts]
 * @returns {string}
 */
export function fmtDate(ms, opts = { dateStyle: 'medium', timeStyle: 'short' }) {
  return new Intl.DateTimeFormat(state.lang, opts).format(ms instanceof Date ? ms : new Date(ms));
}

/**
 * Time of day, 24 h (HH:MM:SS).
 * @param {number|Date} ms
 * @returns {string}
 */
export function fmtTime(ms) {
  return fmtDate(ms, { hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' });
}

/**
 * Fill `data-i18n` / `data-i18n-attr` elements under `root`.
 * @param {ParentNode} root
 */
export function translateDom(root) {
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll('[data-i18n-attr]')) {
    for (const pair of el.dataset.i18nAttr.split(';')) {
      const [attr, key] = pair.split(':').map((s) => s.trim());
      if (attr && key) el.setAttribute(attr, t(key));
    }
  }
}

// Importers (pages, and tests importing one module) get a loaded catalogue: top-level await.
try { await loadLanguage(); } catch (e) { /* catalogues unreachable: keys show, English fallback later */ }
