/**
 * REST client for the broker's HTTP API (docs/API.md), same origin, cookie auth.
 *
 * Every state-changing request carries `X-Clearpane-CSRF: 1`. Errors come back as
 * {@link ApiError} with the broker's stable code and a message meant for people.
 * @module api
 */

import { t, has, language } from './i18n.js';

const PREFIX = '/api/v1';

/**
 * The text a person reads for a broker error (HTTP body or WebSocket `error` message).
 * The broker words its errors in English; in another language the page shows the text
 * of the error's `code` (`error.<code>` in viewer/i18n; tests/viewer/test_error_texts.py
 * checks every code the broker can emit has one). English keeps the broker's own, more
 * specific message, falling back to the code's text.
 * @param {string} code
 * @param {string} [message] the broker's English message
 * @returns {string}
 */
export function errorText(code, message) {
  const key = `error.${code}`;
  if (has(key) && (language() !== 'en' || !message)) return t(key);
  return message || '';
}

/** An HTTP error from the broker (`{"error": {"code", "message"}}`). */
export class ApiError extends Error {
  /**
   * @param {number} status
   * @param {string} code
   * @param {string} message
   */
  constructor(status, code, message) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

/**
 * One JSON request.
 * @param {string} method
 * @param {string} path under /api/v1
 * @param {object} [body]
 * @returns {Promise<any>} the parsed JSON body (null for 204)
 */
export async function request(method, path, body) {
  const headers = { Accept: 'application/json' };
  if (method !== 'GET' && method !== 'HEAD') headers['X-Clearpane-CSRF'] = '1';
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let resp;
  try {
    resp = await fetch(PREFIX + path, {
      method,
      headers,
      credentials: 'same-origin',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    throw new ApiError(0, 'network', t('error.network'));
  }
  if (resp.status === 204) return null;
  let data = null;
  const text = await resp.text();
  if (text) {
    try { data = JSON.parse(text); } catch (e) { data = null; }
  }
  if (!resp.ok) {
    const err = data && data.error ? data.error : {};
    const code = err.code || `http_${resp.status}`;
    throw new ApiError(resp.status, code, errorText(code, err.message) || t('error.http', { status: String(resp.status) }));
  }
  return data;
}

const q = (params) => {
  const s = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) if (v !== undefined && v !== null && v !== '') s.set(k, String(v));
  const t = s.toString();
  return t ? `?${t}` : '';
};

/**
 * Log in; the broker sets the session cookie.
 * @param {string} username
 * @param {string} password
 * @returns {Promise<{token: string, expires_at: any, user: {id: string, username: string, name: string, role: string, skills: string[]}}>}
 */
export const login = (username, password, otp) =>
  request('POST', '/auth/login', otp ? { username, password, otp } : { username, password });
/** @returns {Promise<{status: string, end_session_url?: string}>} (end_session_url: single sign-on's provider logout) */
export const logout = () => request('POST', '/auth/logout');
/** @returns {Promise<{password: boolean, sso: {name: string, login_url: string}|null}>} how staff sign in */
export const authMethods = () => request('GET', '/auth/methods');
/** @returns {Promise<any>} the current user (401 when logged out) */
export const me = () => request('GET', '/me');
/** @returns {Promise<any>} waiting requests ordered by SLA deadline */
export const queue = () => request('GET', '/queue');
/**
 * @param {{state?: string}} [params]
 * @returns {Promise<any>} sessions
 */
export const sessions = (params) => request('GET', `/sessions${q(params)}`);
/**
 * @param {string} id
 * @returns {Promise<any>} one session with its log
 */
export const session = (id) => request('GET', `/sessions/${encodeURIComponent(id)}`);
/**
 * Join a session; returns the short-lived WebSocket token.
 * @param {string} id
 * @param {'engineer'|'observer'} as
 * @param {string[]} permissions
 * @returns {Promise<{ws_token: string, ws_url?: string, viewer_id?: string, ice_servers?: object[]}>}
 */
export const join = (id, as, permissions) => request('POST', `/sessions/${encodeURIComponent(id)}/join`, { as, permissions });
/**
 * End a session with a resolution note for the ticket.
 * @param {string} id
 * @param {string} resolution
 * @returns {Promise<any>}
 */
export const endSession = (id, resolution) => request('POST', `/sessions/${encodeURIComponent(id)}/end`, { resolution });
/**
 * @param {{status?: string, q?: string, organisation?: string}} [params]
 * @returns {Promise<any>} tickets
 */
export const tickets = (params) => request('GET', `/tickets${q(params)}`);
/**
 * @param {string} id
 * @returns {Promise<any>} a ticket with its sessions
 */
export const ticket = (id) => request('GET', `/tickets/${encodeURIComponent(id)}`);

/**
 * Every change of a ticket (who, when, field, from, to), oldest first.
 * @param {string} id
 * @returns {Promise<any>} {history: [...]}
 */
export const ticketHistory = (id) => request('GET', `/tickets/${encodeURIComponent(id)}/history`);
/** @returns {Promise<any>} SLA escalations (supervisors), newest first */
export const escalations = () => request('GET', '/escalations');
/**
 * @param {string} id
 * @param {number} [ttl_s]
 * @returns {Promise<{code: string, expires_at: any}>}
 */
export const invite = (id, ttl_s) => request('POST', `/tickets/${encodeURIComponent(id)}/invitations`, ttl_s ? { ttl_s } : {});

/**
 * Open a ticket (engineers, e.g. before inviting a client by code).
 * @param {{title: string, description?: string, organisation?: string, tier?: string, skills?: string[]}} body
 */
export const createTicket = (body) => request('POST', '/tickets', body);

/**
 * Replace one's own password.
 * @param {string} current_password
 * @param {string} new_password
 */
export const changePassword = (current_password, new_password) => request('POST', '/auth/password', { current_password, new_password });

/** Users (admin): list, add (`{username, name, role, skills?, password?}`), change. */
export const users = () => request('GET', '/users');
/** @param {Record<string, any>} body */
export const createUser = (body) => request('POST', '/users', body);
/** @param {string|number} id @param {Record<string, any>} body */
export const updateUser = (id, body) => request('PATCH', `/users/${encodeURIComponent(String(id))}`, body);
/** Canned chat replies: engineers read, supervisors add, edit and remove. */
export const cannedReplies = () => request('GET', '/canned-replies');
/** @param {string} title @param {string} text */
export const addCannedReply = (title, text) => request('POST', '/canned-replies', { title, text });
/** @param {string} id @param {{title?: string, text?: string}} body */
export const updateCannedReply = (id, body) => request('PATCH', `/canned-replies/${encodeURIComponent(id)}`, body);
/** @param {string} id */
export const deleteCannedReply = (id) => request('DELETE', `/canned-replies/${encodeURIComponent(id)}`);

/** Organisations (admin): every one with its contract's SLA tier and `disabled`. */
export const organisations = () => request('GET', '/organisations');
/**
 * Create or change an organisation.
 * @param {string} name
 * @param {{tier: string, disabled?: boolean}} body
 */
export const putOrganisation = (name, body) => request('PUT', `/organisations/${encodeURIComponent(name)}`, body);
/** Webhook endpoints (admin) and their delivery log (issue 18). */
export const webhooks = () => request('GET', '/webhooks');
/** @param {string} id @param {Record<string, string>} [params] */
export const webhookDeliveries = (id, params) => request('GET', `/webhooks/${encodeURIComponent(id)}/deliveries${q(params)}`);
/** @param {string} id @param {string} deliveryId */
export const webhookDelivery = (id, deliveryId) => request('GET', `/webhooks/${encodeURIComponent(id)}/deliveries/${encodeURIComponent(deliveryId)}`);
/** Send a delivery again now. @param {string} id @param {string} deliveryId */
export const redeliverWebhook = (id, deliveryId) => request('POST', `/webhooks/${encodeURIComponent(id)}/deliveries/${encodeURIComponent(deliveryId)}/redeliver`);
/** API keys of integration accounts (admin): list (never the keys), create (the key comes back once), revoke. */
export const apiKeys = () => request('GET', '/api-keys');
/** @param {{user_id: string, name: string, scopes: string[], expires_in_days?: number}} body */
export const createApiKey = (body) => request('POST', '/api-keys', body);
/** @param {string} id */
export const revokeApiKey = (id) => request('DELETE', `/api-keys/${encodeURIComponent(id)}`);

/** @param {string} name @returns {Promise<{organisation: string, summary_includes_chat: boolean}>} */
export const organisationPolicy = (name) => request('GET', `/organisations/${encodeURIComponent(name)}/policy`);
/** @param {string} name @param {{summary_includes_chat: boolean}} body */
export const putOrganisationPolicy = (name, body) => request('PUT', `/organisations/${encodeURIComponent(name)}/policy`, body);
/** SLA tiers (staff). */
export const slaTiers = () => request('GET', '/sla-tiers');

/** SLA workflow (issue 19): contracts, calendars, closure rules, staff addresses (admin). */
export const slaContracts = () => request('GET', '/sla/contracts');
/** @param {string} tier @param {Record<string, any>} body */
export const putSlaContract = (tier, body) => request('PUT', `/sla/contracts/${encodeURIComponent(tier)}`, body);
export const slaCalendars = () => request('GET', '/sla/calendars');
/** @param {string} name @param {Record<string, any>} body */
export const putSlaCalendar = (name, body) => request('PUT', `/sla/calendars/${encodeURIComponent(name)}`, body);
/** @param {string} name */
export const deleteSlaCalendar = (name) => request('DELETE', `/sla/calendars/${encodeURIComponent(name)}`);
export const slaClosure = () => request('GET', '/sla/closure');
/** @param {string} org @param {{auto_close_after_s: number, email_client: boolean}} body */
export const putSlaClosure = (org, body) => request('PUT', `/sla/closure/${encodeURIComponent(org)}`, body);
export const slaAddresses = () => request('GET', '/sla/addresses');
/** @param {string} userId @param {string} email ("" removes it) */
export const putSlaAddress = (userId, email) => request('PUT', `/sla/addresses/${encodeURIComponent(userId)}`, { email });
/** Open escalation levels (supervisors: all; engineers: theirs). @param {{open?: string}} [params] */
export const slaEscalations = (params) => request('GET', `/sla/escalations${q(params)}`);
/** @param {string} id */
export const acknowledgeEscalation = (id) => request('POST', `/sla/escalations/${encodeURIComponent(id)}/acknowledge`);
/** A ticket's priority and clocks. @param {string} id */
export const ticketSla = (id) => request('GET', `/tickets/${encodeURIComponent(id)}/sla`);
/** @param {string} id @param {{priority?: string, client_email?: string}} body */
export const putTicketSla = (id, body) => request('PUT', `/tickets/${encodeURIComponent(id)}/sla`, body);

/**
 * Unwrap list responses that may be a bare array or `{items: [...]}` / `{<key>: [...]}`.
 * @param {any} data
 * @param {string} key
 * @returns {any[]}
 */
export function listOf(data, key) {
  if (Array.isArray(data)) return data;
  if (data && Array.isArray(data[key])) return data[key];
  if (data && Array.isArray(data.items)) return data.items;
  return [];
}
