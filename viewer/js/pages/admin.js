/**
 * Admin page: the certificate authority — certificates with expiry and status,
 * expiry warnings, the rotation stage, an issue form and revoke buttons.
 * Every action is a CA audit event on the broker (DATA_DIR/ca/audit.jsonl).
 * Revoking what the deployment itself stands on (this broker's server certificate, the
 * audit-recipient or checkpoint-signer certificate, a CA) needs the name typed back.
 * DOM through createElement/textContent only (dom.js `h`), no inline script or style.
 * @module pages/admin
 */

import * as api from '../api.js';
import { h, clear, chip, when, toast } from '../dom.js';
import { t, has } from '../i18n.js';

const STATUS_TONE = { valid: 'ok', expiring: 'warn', expired: 'danger', revoked: 'danger', 'not-yet-valid': 'muted' };
// i18n-keys: cert.status.valid cert.status.expiring cert.status.expired cert.status.revoked cert.status.not-yet-valid
// i18n-keys: cert.profile.client cert.profile.server cert.profile.audit-recipient cert.profile.checkpoint-signer cert.profile.ca

/**
 * Why revoking this certificate would break the deployment, or null if it would not.
 * @param {any} c a certificate record
 * @returns {string|null} a catalogue key
 */
export function revokeRisk(c) {
  const names = [...(c.names || []), c.common_name];
  if (c.profile === 'server' && names.includes(location.hostname)) return 'cert.risk.own_server';
  if (c.profile === 'audit-recipient') return 'cert.risk.audit';
  if (c.profile === 'checkpoint-signer') return 'cert.risk.signer';
  if (c.profile === 'ca') return 'cert.risk.ca';
  return null;
}

/**
 * A download link for PEM text (a blob: URL, no inline data in the page).
 * @param {string} text
 * @param {string} filename
 * @returns {HTMLAnchorElement}
 */
function download(text, filename) {
  const url = URL.createObjectURL(new Blob([text], { type: 'application/x-pem-file' }));
  return /** @type {HTMLAnchorElement} */ (h('a', { href: url, download: filename, class: 'btn btn-secondary cert-download', text: t('cert.download', { file: filename }) }));
}

/** @param {string} key @param {string} fallback */
function word(key, fallback) {
  return has(key) ? t(key) : fallback;
}

/**
 * Render the certificates page.
 * @param {HTMLElement} root
 * @param {Record<string, string>} _params
 * @param {any} app
 * @returns {() => void}
 */
export function renderAdminCerts(root, _params, app) {
  const warnings = h('ul', { id: 'cert-warnings', class: 'cert-warnings' });
  const rotation = h('p', { id: 'cert-rotation', class: 'muted' });
  const body = h('tbody', { id: 'certs-body' });
  const result = h('div', { id: 'cert-result', class: 'cert-result panel', hidden: true, role: 'status' });
  const profile = h('select', { id: 'cert-profile' },
    h('option', { value: 'client', text: t('cert.issue.client') }),
    h('option', { value: 'server', text: t('cert.issue.server') }),
    h('option', { value: 'broker-server', text: t('cert.issue.broker') }));
  const name = h('input', { id: 'cert-name', placeholder: 'laptop-0042', maxlength: '64' }); // i18n-ok: an example name
  const kind = h('select', { id: 'cert-kind' }, h('option', { value: 'agent', text: t('cert.kind.agent') }), h('option', { value: 'staff', text: t('cert.kind.staff') }));
  const dns = h('input', { id: 'cert-dns', placeholder: 'node2.example.com, …' }); // i18n-ok: an example host name
  const ips = h('input', { id: 'cert-ips', placeholder: '10.0.0.12, …' });
  const days = h('input', { id: 'cert-days', type: 'number', min: '1', max: '397', value: '90', required: true });
  const field = (id, label, input) => h('div', { class: 'field', dataset: { for: id } }, h('label', { for: id, text: label }), input);
  const clientOnly = [field('cert-name', t('cert.field.name'), name), field('cert-kind', t('cert.field.kind'), kind)];
  const serverOnly = [field('cert-dns', t('cert.field.dns'), dns), field('cert-ips', t('cert.field.ips'), ips)];
  const paintFields = () => {
    for (const f of clientOnly) f.hidden = profile.value !== 'client';
    for (const f of serverOnly) f.hidden = profile.value === 'client';
  };
  profile.addEventListener('change', paintFields);
  paintFields();

  // The revoke dialog: a plain confirmation, or the typed name for a risky certificate.
  const dlgTitle = h('h2', { id: 'revoke-title' });
  const dlgText = h('p', { id: 'revoke-text' });
  const dlgRisk = h('p', { class: 'form-error', id: 'revoke-risk', hidden: true });
  const dlgTypeLabel = h('label', { for: 'revoke-type', hidden: true });
  const dlgType = h('input', { id: 'revoke-type', hidden: true, autocomplete: 'off' });
  const dlgOk = h('button', { type: 'submit', class: 'btn btn-danger', id: 'revoke-confirm', text: t('cert.revoke') });
  const dlgCancel = h('button', { type: 'button', class: 'btn btn-ghost', id: 'revoke-cancel', text: t('common.cancel') });
  const dialog = h('dialog', { class: 'dialog', id: 'revoke-dialog', 'aria-labelledby': 'revoke-title' },
    h('form', { method: 'dialog' }, dlgTitle, dlgText, dlgRisk, dlgTypeLabel, dlgType,
      h('div', { class: 'dialog-actions' }, dlgCancel, dlgOk)));
  let pending = null;
  dlgCancel.addEventListener('click', () => dialog.close());
  dlgType.addEventListener('input', () => { dlgOk.disabled = dlgType.value.trim() !== pending.expect; });
  dialog.querySelector('form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (!pending || (pending.expect && dlgType.value.trim() !== pending.expect)) return;
    const c = pending.cert;
    dialog.close();
    try {
      await api.request('POST', `/admin/certs/${encodeURIComponent(c.serial)}/revoke`, { reason: 'unspecified' });
      toast(t('cert.revoked'), 'ok');
      await load();
    } catch (e) {
      toast(e.message || String(e), 'error'); // i18n-ok: api.js words the error
    }
  });

  const askRevoke = (c) => {
    const label = c.names.join(', ') || c.common_name;
    const risk = revokeRisk(c);
    pending = { cert: c, expect: risk ? c.common_name : '' };
    dlgTitle.textContent = t('cert.revoke.title', { profile: word(`cert.profile.${c.profile}`, c.profile) });
    dlgText.textContent = t('cert.revoke.text', { name: label });
    dlgRisk.hidden = !risk;
    dlgRisk.textContent = risk ? t(risk) : '';
    dlgTypeLabel.hidden = dlgType.hidden = !risk;
    dlgTypeLabel.textContent = t('cert.revoke.type', { name: c.common_name });
    dlgType.value = '';
    dlgOk.disabled = Boolean(risk);
    dialog.showModal();
    (risk ? dlgType : dlgCancel).focus();
  };

  const list = (text) => text.split(',').map((s) => s.trim()).filter(Boolean);

  const load = async () => {
    try {
      const data = await api.request('GET', '/admin/certs');
      if (stopped) return;
      clear(warnings);
      for (const w of data.warnings) warnings.appendChild(h('li', { class: 'cert-warning', text: w }));
      warnings.hidden = !data.warnings.length;
      rotation.textContent = data.rotation.stage
        ? t('cert.rotation.active', { stage: data.rotation.stage, when: when(data.rotation.started_at) })
        : t('cert.rotation.none');
      clear(body);
      for (const c of data.certificates) {
        const risk = revokeRisk(c);
        const revoke = c.status === 'revoked' || c.status === 'expired' ? null
          : h('button', { type: 'button', class: `btn btn-sm ${risk ? 'btn-ghost' : 'btn-danger-ghost'} cert-revoke`, dataset: { serial: c.serial, risky: risk ? '1' : '' }, text: t('cert.revoke'),
            'aria-label': t('cert.revoke.aria', { name: c.names.join(', ') || c.common_name }),
            on: { click: () => askRevoke(c) } });
        body.appendChild(h('tr', { dataset: { serial: c.serial } },
          h('td', { class: 'mono', text: `${c.serial.slice(0, 16)}…`, title: c.serial }),
          h('td', {}, word(`cert.profile.${c.profile}`, c.profile), risk ? h('span', { class: 'chip chip-info cert-core', text: t('cert.core') }) : null),
          h('td', { class: 'cert-names', text: c.names.join(', ') || c.common_name }),
          h('td', {}, chip(word(`cert.status.${c.status}`, c.status), STATUS_TONE[c.status] || 'muted')),
          h('td', { text: when(c.not_after) }),
          h('td', {}, revoke)));
      }
    } catch (e) {
      app.fail(e);
    }
  };

  const issue = async (ev) => {
    ev.preventDefault();
    const req = { profile: profile.value, days: Number(days.value) };
    if (profile.value === 'client') Object.assign(req, { name: name.value.trim(), kind: kind.value });
    if (profile.value !== 'client') {
      if (list(dns.value).length) req.dns = list(dns.value);
      if (list(ips.value).length) req.ips = list(ips.value);
    }
    try {
      const data = await api.request('POST', '/admin/certs', req);
      clear(result);
      result.hidden = false;
      const cn = data.certificate.common_name.replace(/[^A-Za-z0-9._-]/g, '_');
      result.append(
        h('p', { text: t('cert.issued', { profile: word(`cert.profile.${data.certificate.profile}`, data.certificate.profile), serial: data.certificate.serial.slice(0, 16), when: when(data.certificate.not_after) }) }),
        h('div', { class: 'form-actions' }, download(data.cert_pem, `${cn}.pem`), data.key_pem ? download(data.key_pem, `${cn}.key`) : null));
      if (data.key_pem) {
        result.append(h('p', { class: 'cert-passphrase' }, t('cert.passphrase'), ' ', h('code', { id: 'cert-passphrase', text: data.key_passphrase })));
      }
      await load();
    } catch (e) {
      toast(e.message || String(e), 'error'); // i18n-ok: api.js words the error
    }
  };

  let stopped = false;
  root.append(h('section', { class: 'page admin-certs' },
    h('div', { class: 'page-head' },
      h('div', {}, h('h1', { text: t('cert.title') }), h('p', { class: 'muted', text: t('cert.subtitle') }))),
    warnings, rotation,
    h('form', { id: 'cert-issue', class: 'panel cert-issue', on: { submit: issue } },
      h('h2', { text: t('cert.issue') }),
      field('cert-profile', t('cert.field.profile'), profile),
      clientOnly, serverOnly,
      field('cert-days', t('cert.field.days'), days),
      h('div', { class: 'field field-submit' }, h('button', { type: 'submit', class: 'btn btn-primary', id: 'cert-issue-submit', text: t('cert.issue.submit') }))),
    result,
    h('section', { class: 'panel table-wrap' },
      h('table', { class: 'table certs' },
        // i18n-keys: cert.col.serial cert.col.profile cert.col.names cert.col.status cert.col.expires cert.col.actions
        h('thead', {}, h('tr', {}, ['serial', 'profile', 'names', 'status', 'expires', 'actions'].map((c) => h('th', { scope: 'col', text: t(`cert.col.${c}`) })))),
        body)),
    dialog));
  load();
  return () => { stopped = true; if (dialog.open) dialog.close(); };
}
