/**
 * Role names for people (the broker's role ids → the page's language).
 * @module roles
 */

import { t } from './i18n.js';

/** The staff roles a user can have. */
export const ROLES = Object.freeze(['engineer', 'supervisor', 'reviewer', 'admin', 'integration']);

/**
 * @param {string} role
 * @returns {string} the role's name for people
 */
export function roleLabel(role) {
  // i18n-keys: role.engineer role.supervisor role.reviewer role.admin role.integration
  return ROLES.includes(role) ? t(`role.${role}`) : role || '';
}
