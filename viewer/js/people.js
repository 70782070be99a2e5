/**
 * Names for ids: the staff directory (`GET /api/v1/staff`), loaded once per page view
 * and shared, so pages show "Ann Engineer", not "#6c12afd2".
 * @module people
 */

import * as api from './api.js';
import { t } from './i18n.js';

/** @type {Promise<Map<string, {id: string, name: string, role: string}>>|null} */
let loading = null;

/**
 * The staff directory (id → person). A failed load gives an empty map and is retried next time.
 * @param {boolean} [fresh] reload (after a login)
 * @returns {Promise<Map<string, {id: string, name: string, role: string}>>}
 */
export function people(fresh = false) {
  if (!loading || fresh) {
    loading = api.request('GET', '/staff')
      .then((d) => new Map(api.listOf(d, 'staff').map((u) => [u.id, u])))
      .catch(() => { loading = null; return new Map(); });
  }
  return loading;
}

/**
 * A person's name for people: "you" for the signed-in user, the directory's name, else
 * the first 8 characters of the id (someone no longer listed).
 * @param {Map<string, {name: string}>} dir
 * @param {string|null|undefined} id
 * @param {any} app
 * @returns {string|null}
 */
export function nameOf(dir, id, app) {
  if (!id) return null;
  const name = dir.get(id)?.name;
  if (app && app.user && app.user.id === id) return name ? t('people.you_named', { name }) : t('ticket.person.you');
  return name || `#${String(id).slice(0, 8)}`;
}
