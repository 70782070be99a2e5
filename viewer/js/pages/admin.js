/**
 * Admin page: the certificate authority — certificates with expiry and status,
 * expiry warnings, the rotation stage, an issue form and revoke buttons.
 * Every action is a CA audit event on the broker (DATA_DIR/ca/audit.jsonl).
 * DOM through createElement/textContent only (dom.js `h`), no inline script or style.
 * @module pages/admin
 */

import * as api from '../api.js';
import { h, clear, chip, when, toast } from '../dom.js';

const STATUS_TONE = { valid: 'ok', expiring: 'warn', expired: 'danger', revoked: 'danger', 'not-yet-valid': 'muted' };

/**
 * A download link for PEM text (a blob: URL, no inline data in the page).
 * @param {string} text
 * @param {string} filename
 * @returns {HTMLAnchorElement}
 */
function download(text, filename) {
  const url = URL.createObjectURL(new Blob([text], { type: 'application/x-pem-file' }));
  return /** @type {HTMLAnchorElement} */ (h('a', { href: url, download: filename, class: 'cert-download', text: `Download ${filename}` }));
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
  const result = h('div', { id: 'cert-result', class: 'cert-result', hidden: true });
  const profile = h('select', { id: 'cert-profile' },
    h('option', { value: 'client', text: 'Client (managed agent / staff)' }),
    h('option', { value: 'server', text: 'Server (names and IPs)' }),
    h('option', { value: 'broker-server', text: "Renew this broker's TLS certificate" }));
  const name = h('input', { id: 'cert-name', placeholder: 'laptop-0042', maxlength: '64' });
  const kind = h('select', { id: 'cert-kind' }, h('option', { value: 'agent', text: 'agent' }), h('option', { value: 'staff', text: 'staff' }));
  const dns = h('input', { id: 'cert-dns', placeholder: 'node2.example.com, …' });
  const ips = h('input', { id: 'cert-ips', placeholder: '10.0.0.12, …' });
  const days = h('input', { id: 'cert-days', type: 'number', min: '1', max: '397', value: '90', required: true });
  let stopped = false;

  const list = (text) => text.split(',').map((s) => s.trim()).filter(Boolean);

  const load = async () => {
    try {
      const data = await api.request('GET', '/admin/certs');
      if (stopped) return;
      clear(warnings);
      for (const w of data.warnings) warnings.appendChild(h('li', { class: 'cert-warning', text: w }));
      warnings.hidden = !data.warnings.length;
      rotation.textContent = data.rotation.stage
        ? `CA rotation in progress: stage “${data.rotation.stage}” since ${when(data.rotation.started_at)}`
        : 'No CA rotation in progress.';
      clear(body);
      for (const c of data.certificates) {
        const revoke = c.status === 'revoked' || c.status === 'expired' ? null
          : h('button', { type: 'button', class: 'danger cert-revoke', dataset: { serial: c.serial }, text: 'Revoke',
            on: { click: () => revokeCert(c) } });
        body.appendChild(h('tr', { dataset: { serial: c.serial } },
          h('td', { class: 'mono', text: c.serial.slice(0, 16) + '…', title: c.serial }),
          h('td', { text: c.profile }),
          h('td', { text: c.names.join(', ') || c.common_name }),
          h('td', {}, chip(c.status, STATUS_TONE[c.status] || 'muted')),
          h('td', { text: when(c.not_after) }),
          h('td', {}, revoke)));
      }
    } catch (e) {
      app.fail(e);
    }
  };

  const revokeCert = async (c) => {
    if (!window.confirm(`Revoke ${c.profile} certificate for ${c.names.join(', ') || c.common_name}?`)) return;
    try {
      await api.request('POST', `/admin/certs/${encodeURIComponent(c.serial)}/revoke`, { reason: 'unspecified' });
      toast('Certificate revoked; the CRL is published.', 'ok');
      await load();
    } catch (e) {
      toast(e.message || String(e), 'danger');
    }
  };

  const issue = async (ev) => {
    ev.preventDefault();
    const body = { profile: profile.value, days: Number(days.value) };
    if (profile.value === 'client') Object.assign(body, { name: name.value.trim(), kind: kind.value });
    if (profile.value !== 'client') {
      if (list(dns.value).length) body.dns = list(dns.value);
      if (list(ips.value).length) body.ips = list(ips.value);
    }
    try {
      const data = await api.request('POST', '/admin/certs', body);
      clear(result);
      result.hidden = false;
      const cn = data.certificate.common_name.replace(/[^A-Za-z0-9._-]/g, '_');
      result.append(
        h('p', { text: `Issued ${data.certificate.profile} certificate ${data.certificate.serial}, valid until ${when(data.certificate.not_after)}.` }),
        download(data.cert_pem, `${cn}.pem`));
      if (data.key_pem) {
        result.append(download(data.key_pem, `${cn}.key`),
          h('p', { class: 'cert-passphrase' }, 'Key passphrase (shown once): ', h('code', { id: 'cert-passphrase', text: data.key_passphrase })));
      }
      await load();
    } catch (e) {
      toast(e.message || String(e), 'danger');
    }
  };

  root.append(h('section', { class: 'admin-certs' },
    h('h1', { text: 'Certificates' }),
    warnings, rotation,
    h('form', { id: 'cert-issue', class: 'cert-issue', on: { submit: issue } },
      h('h2', { text: 'Issue' }),
      h('label', {}, 'Profile ', profile),
      h('label', {}, 'Name ', name), h('label', {}, 'Kind ', kind),
      h('label', {}, 'DNS names ', dns), h('label', {}, 'IP addresses ', ips),
      h('label', {}, 'Days ', days),
      h('button', { type: 'submit', id: 'cert-issue-submit', text: 'Issue' })),
    result,
    h('table', { class: 'certs' },
      h('thead', {}, h('tr', {}, ['Serial', 'Profile', 'Names', 'Status', 'Expires', ''].map((t) => h('th', { text: t })))),
      body)));
  load();
  return () => { stopped = true; };
}
