/**
 * The replay page (`#/replay/<session id>`): a recorded session with play/pause, speed
 * 0.25–16×, a timeline with markers (consent, control periods, chat, pause, kill), seek
 * anywhere, and the session log beside the picture.
 *
 * Opening the page is an audited replay (`replay.viewed` in the session's review log).
 * The recording is end-to-end ciphertext: the reviewer loads the audit-recipient key
 * file (`clearpane audit reviewer-key`, docs/evidence.md) into the page; it stays in
 * this tab's memory and is never sent to the broker.
 * @module pages/replay
 */

import * as api from '../api.js';
import { h, clear, duration, when } from '../dom.js';
import { t, has } from '../i18n.js';
import { eventLabel } from './session.js';
import { Display } from '../display.js';
import { HttpRecordingSource, Player, SPEEDS } from '../player.js';
import { b64uDecode } from '../codec.js';

/** Marker kinds from session-log events. */
const MARKER_EVENTS = {
  'consent.requested': 'consent',
  'consent.granted': 'consent',
  'consent.denied': 'consent',
  'consent.revoked': 'consent',
  'session.started': 'consent',
  'chat.sent': 'chat',
  'session.paused': 'pause',
  'session.resumed': 'pause',
  'kill.triggered': 'kill',
  'session.ended': 'end',
};

/**
 * Timeline markers and control periods from the session log.
 * @param {any[]} log session-log records
 * @param {number} startedMs the recording's start (epoch ms)
 * @param {number} durationMs
 * @returns {{markers: {t: number, kind: string, event: string}[], control: {from: number, to: number}[]}}
 */
export function markersFromLog(log, startedMs, durationMs) {
  const markers = [];
  const control = [];
  let open = null;
  const mentionsControl = (r) => JSON.stringify((r.detail && r.detail.permissions) || '').includes('control');
  for (const r of log || []) {
    const t = Math.max(0, Math.min(durationMs, r.at_ms - startedMs));
    const kind = MARKER_EVENTS[r.event];
    if (kind) markers.push({ t, kind, event: r.event });
    if ((r.event === 'consent.granted' || r.event === 'session.started') && mentionsControl(r) && open === null) open = t;
    const ends = (r.event === 'consent.revoked' || r.event === 'permission.released') && mentionsControl(r);
    if (open !== null && (ends || r.event === 'session.ended' || r.event === 'kill.triggered' || r.event === 'session.paused')) {
      control.push({ from: open, to: t });
      open = null;
    }
  }
  if (open !== null) control.push({ from: open, to: durationMs });
  return { markers, control };
}

/**
 * People's names for the log's actors (`client`, `broker`, `<role>:<user id>`), learned
 * from `viewer.joined` records; viewer ids map to the same names.
 * @param {any[]} log
 * @param {string} clientName
 * @returns {{actor: (a: string) => string, detail: (d: any) => string}}
 */
export function logWords(log, clientName) {
  const byUser = new Map();
  const byViewer = new Map();
  for (const r of log || []) {
    const d = r.detail || {};
    if (r.event === 'viewer.joined' && d.name) {
      if (d.user_id) byUser.set(String(d.user_id), d.name);
      if (d.viewer_id) byViewer.set(String(d.viewer_id), d.name);
    }
  }
  const actor = (a) => {
    const text = String(a || '');
    if (text === 'client') return clientName || t('replay.actor.client');
    if (text === 'broker') return t('replay.actor.broker');
    const [role, id] = text.split(':');
    if (id && byUser.has(id)) return byUser.get(id);
    return has(`role.${role}`) ? t(`role.${role}`) : text;
  };
  const detail = (d) => {
    if (!d || typeof d !== 'object') return '';
    const parts = [];
    if (d.viewer_id && byViewer.has(String(d.viewer_id))) parts.push(byViewer.get(String(d.viewer_id)));
    const perms = Array.isArray(d.permissions) ? d.permissions : typeof d.permissions === 'string' ? d.permissions.split(',') : [];
    if (perms.length) parts.push(perms.map((p) => (has(`perm.${p}`) ? t(`perm.${p}`) : p)).join(', '));
    if (d.reason) parts.push(has(`reason.${d.reason}`) ? t(`reason.${d.reason}`) : String(d.reason));
    if (typeof d.score === 'number') parts.push(t('rating.of5', { score: d.score }));
    return parts.join(' · ');
  };
  return { actor, detail };
}

/**
 * Format milliseconds as m:ss.t
 * @param {number} ms
 * @returns {string}
 */
export function clockText(ms) {
  const s = Math.max(0, ms) / 1000;
  const m = Math.floor(s / 60);
  const rest = (s - m * 60).toFixed(1).padStart(4, '0');
  return `${m}:${rest}`;
}

/**
 * Read a reviewer key file (`{"type": "clearpane-audit-key", "fingerprint", "x25519_private"}`).
 * @param {string} text
 * @returns {{fingerprint: string, key: Uint8Array}}
 */
export function parseKeyFile(text) {
  let doc;
  try { doc = JSON.parse(text); } catch (e) { throw new Error(t('replay.key.bad_json')); }
  if (!doc || doc.type !== 'clearpane-audit-key' || typeof doc.x25519_private !== 'string') {
    throw new Error(t('replay.key.bad_type'));
  }
  const key = b64uDecode(doc.x25519_private);
  if (key.length !== 32) throw new Error(t('replay.key.bad_length'));
  return { fingerprint: String(doc.fingerprint || ''), key };
}

function ensureCss() {
  if (!document.querySelector('link[data-review-css]')) {
    document.head.appendChild(h('link', { rel: 'stylesheet', href: 'css/review.css', dataset: { reviewCss: '1' } }));
  }
}

/**
 * Render the replay page.
 * @param {HTMLElement} root
 * @param {Record<string, string>} params `id` = session id
 * @param {any} app
 * @returns {() => void} cleanup
 */
export function renderReplay(root, params, app) {
  ensureCss();
  const sid = params.id;
  const source = new HttpRecordingSource(sid);
  let player = null;
  let display = null;
  let disposed = false;

  const status = h('p', { class: 'muted', id: 'replay-status', role: 'status', text: t('replay.opening') });
  const keyInput = h('input', { type: 'file', id: 'replay-key', accept: '.json,application/json' });
  const keyBox = h('div', { class: 'card replay-key', id: 'replay-key-box', hidden: true },
    h('h2', { text: t('replay.key.title') }),
    h('p', { text: t('replay.key.why') }),
    h('ol', { class: 'steps' },
      h('li', { text: t('replay.key.step1') }),
      // i18n-ok: a command line
      h('li', {}, t('replay.key.step2'), ' ', h('code', { text: 'clearpane audit reviewer-key --data-dir DATA -o audit-key.json' })), // i18n-ok: a command
      h('li', { text: t('replay.key.step3') })),
    h('p', { class: 'muted small', text: t('replay.key.private') }),
    h('label', { for: 'replay-key', text: t('replay.key.file') }), keyInput);
  const canvas = h('canvas', { id: 'replay-canvas', class: 'screen-canvas' });
  const stage = h('div', { class: 'replay-stage', id: 'replay-stage' }, canvas);
  const playBtn = h('button', { type: 'button', class: 'btn btn-primary', id: 'replay-play', text: t('replay.play'), disabled: true });
  const speed = h('select', { id: 'replay-speed', 'aria-label': t('replay.speed'), disabled: true },
    SPEEDS.map((s) => h('option', { value: String(s), text: `${s}×` })));
  speed.value = '1';
  const time = h('span', { class: 'replay-time', id: 'replay-time', text: '0:00.0 / 0:00.0' });
  const range = h('input', { type: 'range', id: 'replay-seek', min: '0', max: '0', step: '100', value: '0', disabled: true, 'aria-label': t('replay.position') });
  const markerStrip = h('div', { class: 'replay-markers', id: 'replay-markers' });
  const logList = h('ol', { class: 'replay-log', id: 'replay-log' });
  const isReviewer = app.user && ['reviewer', 'supervisor', 'admin'].includes(app.user.role);
  const verifyOut = h('pre', { class: 'replay-verify', id: 'replay-verify', hidden: true });
  const verifyBtn = h('button', { type: 'button', class: 'btn', id: 'replay-verify-btn', text: t('replay.verify'), on: { click: async () => {
    verifyBtn.disabled = true;
    try {
      const r = await api.request('GET', `/review/sessions/${encodeURIComponent(sid)}/verify`);
      verifyOut.textContent = r.text;
      verifyOut.dataset.ok = r.ok ? '1' : '0';
      verifyOut.hidden = false;
    } catch (e) { app.fail(e); } finally { verifyBtn.disabled = false; }
  } } });
  const evidence = isReviewer ? h('div', { class: 'replay-evidence' }, verifyBtn,
    h('a', { class: 'btn', id: 'replay-evidence-link', href: `/api/v1/review/sessions/${encodeURIComponent(sid)}/evidence`, download: `evidence-${sid}.zip`, text: t('replay.download') })) : null;
  const header = h('div', { class: 'replay-head' },
    h('h1', { text: t('replay.title') }),
    h('p', { class: 'muted', id: 'replay-session', title: sid, text: t('replay.session', { id: sid.slice(0, 8) }) }),
    h('p', { class: 'muted', text: t('replay.audited') }),
    evidence, verifyOut);
  root.appendChild(h('section', { class: 'page replay-page', id: 'replay-page' },
    header, status, keyBox,
    h('div', { class: 'replay-main' },
      h('div', { class: 'replay-left' }, stage,
        h('div', { class: 'replay-controls' }, playBtn, speed, time),
        h('div', { class: 'replay-timeline' }, markerStrip, range)),
      h('aside', { class: 'replay-side card' }, h('h2', { text: t('session.tab.log') }), logList))));

  let info = null;
  let logItems = [];
  const showTime = (ms) => {
    const dur = player ? player.durationMs : 0;
    time.textContent = `${clockText(ms)} / ${clockText(dur)}`;
    if (document.activeElement !== range) range.value = String(Math.round(ms));
    for (const [li, t] of logItems) li.classList.toggle('past', t <= ms);
  };

  const seekTo = async (ms) => {
    if (!player) return;
    status.textContent = t('replay.seeking');
    const cost = await player.seek(ms);
    status.textContent = t('replay.seeked', { at: clockText(player.position), ms: Math.round(cost.ms) });
    status.dataset.target = String(ms);
    showTime(player.position);
    root.dataset.seekMs = String(Math.round(cost.ms));
  };

  const buildTimeline = () => {
    clear(markerStrip);
    const dur = Math.max(1, player.durationMs);
    const { markers, control } = markersFromLog(info.log, info.started_ms, player.durationMs);
    for (const c of control) {
      const bar = h('span', { class: 'marker-control', title: t('replay.in_control'), dataset: { from: String(c.from), to: String(c.to) } });
      bar.style.left = `${(100 * c.from) / dur}%`;
      bar.style.width = `${Math.max(0.3, (100 * (c.to - c.from)) / dur)}%`;
      markerStrip.appendChild(bar);
    }
    for (const m of markers) {
      // The strip is a mouse shortcut: markers sit too close for 24-px targets, so they
      // are out of the tab order and hidden from screen readers; the log below seeks to
      // every event with full-size buttons (WCAG 2.5.8 "equivalent", docs/accessibility.md).
      const dot = h('button', { type: 'button', tabindex: '-1', 'aria-hidden': 'true', class: `marker marker-${m.kind}`, title: t('replay.marker', { event: eventLabel(m.event), at: clockText(m.t) }), 'aria-label': t('replay.marker', { event: eventLabel(m.event), at: clockText(m.t) }), dataset: { kind: m.kind, event: m.event, t: String(m.t) }, on: { click: () => seekTo(m.t) } });
      dot.style.left = `${(100 * m.t) / dur}%`;
      markerStrip.appendChild(dot);
    }
    clear(logList);
    logItems = [];
    const words = logWords(info.log, (info.session || {}).client_name);
    for (const r of info.log || []) {
      const at = r.at_ms - info.started_ms;
      const more = words.detail(r.detail);
      const li = h('li', { class: 'replay-log-item', dataset: { event: r.event } },
        h('button', { type: 'button', class: 'link', text: clockText(Math.max(0, at)), on: { click: () => seekTo(Math.max(0, at)) } }),
        h('span', { class: 'replay-log-event', text: ` ${eventLabel(r.event)}` }),
        h('span', { class: 'muted', text: ` — ${words.actor(r.actor)}` }),
        more ? h('span', { class: 'muted small', text: ` (${more})` }) : null);
      logItems.push([li, at]);
      logList.appendChild(li);
    }
  };

  const start = async (keyText) => {
    const { fingerprint, key } = parseKeyFile(keyText);
    const expected = (info.audit_keys[0] || {}).recipient_fingerprint;
    if (expected && fingerprint && expected !== fingerprint) {
      status.textContent = t('replay.key.mismatch');
    }
    display = new Display(canvas, stage);
    player = new Player({ source, display, recipientKey: key });
    await player.load(info);
    player.on('time', showTime);
    player.on('state', (s) => {
      playBtn.textContent = s === 'playing' ? t('replay.pause') : t('replay.play');
      root.dataset.state = s;
    });
    range.max = String(player.durationMs);
    range.disabled = false;
    playBtn.disabled = false;
    speed.disabled = false;
    keyBox.hidden = true;
    buildTimeline();
    await seekTo(0);
    status.textContent = t('replay.ready');
    root.dataset.ready = '1';
  };

  keyInput.addEventListener('change', async () => {
    const file = keyInput.files && keyInput.files[0];
    if (!file) return;
    try {
      await start(await file.text());
    } catch (e) {
      status.textContent = t('replay.cannot_open', { message: e.message });
    }
  });
  playBtn.addEventListener('click', () => {
    if (!player) return;
    if (player.playing) player.pause();
    else player.play();
  });
  speed.addEventListener('change', () => player && player.setSpeed(Number(speed.value)));
  range.addEventListener('change', () => seekTo(Number(range.value)));

  (async () => {
    try {
      info = await source.info();
      if (disposed) return;
      const s = info.session || {};
      header.querySelector('#replay-session').textContent =
        t('replay.session_line', { id: sid.slice(0, 8), ticket: String(s.ticket_id || '?').slice(0, 8), client: s.client_name || '—', when: when(s.created_at), duration: duration(info.duration_ms) });
      status.textContent = t('replay.load_key');
      keyBox.hidden = false;
    } catch (e) {
      status.textContent = e.message || String(e);
      if (e.status === 401) app.fail(e);
    }
  })();

  return () => {
    disposed = true;
    if (player) player.pause();
    if (display) display.dispose();
  };
}
