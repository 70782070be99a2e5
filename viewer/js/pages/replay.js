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
  try { doc = JSON.parse(text); } catch (e) { throw new Error('not an audit key file (JSON expected)'); }
  if (!doc || doc.type !== 'clearpane-audit-key' || typeof doc.x25519_private !== 'string') {
    throw new Error('not a Clearpane audit key file');
  }
  const key = b64uDecode(doc.x25519_private);
  if (key.length !== 32) throw new Error('the audit key must be 32 bytes');
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

  const status = h('p', { class: 'muted', id: 'replay-status', text: 'Opening the recording…' });
  const keyInput = h('input', { type: 'file', id: 'replay-key', accept: '.json,application/json' });
  const keyBox = h('div', { class: 'card replay-key', id: 'replay-key-box', hidden: true },
    h('h2', { text: 'Audit key needed' }),
    h('p', { text: 'This recording is encrypted end to end. Load the audit-recipient key file your organisation gave you (clearpane audit reviewer-key). It stays in this browser tab and is never sent to the broker.' }),
    h('label', { for: 'replay-key', text: 'Audit key file' }), keyInput);
  const canvas = h('canvas', { id: 'replay-canvas', class: 'screen-canvas' });
  const stage = h('div', { class: 'replay-stage', id: 'replay-stage' }, canvas);
  const playBtn = h('button', { type: 'button', class: 'btn btn-primary', id: 'replay-play', text: 'Play', disabled: true });
  const speed = h('select', { id: 'replay-speed', 'aria-label': 'Speed', disabled: true },
    SPEEDS.map((s) => h('option', { value: String(s), text: `${s}×` })));
  speed.value = '1';
  const time = h('span', { class: 'replay-time', id: 'replay-time', text: '0:00.0 / 0:00.0' });
  const range = h('input', { type: 'range', id: 'replay-seek', min: '0', max: '0', step: '100', value: '0', disabled: true, 'aria-label': 'Position' });
  const markerStrip = h('div', { class: 'replay-markers', id: 'replay-markers' });
  const logList = h('ol', { class: 'replay-log', id: 'replay-log' });
  const isReviewer = app.user && ['reviewer', 'supervisor', 'admin'].includes(app.user.role);
  const verifyOut = h('pre', { class: 'replay-verify', id: 'replay-verify', hidden: true });
  const verifyBtn = h('button', { type: 'button', class: 'btn', id: 'replay-verify-btn', text: 'Verify evidence', on: { click: async () => {
    verifyBtn.disabled = true;
    try {
      const r = await api.request('GET', `/review/sessions/${encodeURIComponent(sid)}/verify`);
      verifyOut.textContent = r.text;
      verifyOut.dataset.ok = r.ok ? '1' : '0';
      verifyOut.hidden = false;
    } catch (e) { app.fail(e); } finally { verifyBtn.disabled = false; }
  } } });
  const evidence = isReviewer ? h('div', { class: 'replay-evidence' }, verifyBtn,
    h('a', { class: 'btn', id: 'replay-evidence-link', href: `/api/v1/review/sessions/${encodeURIComponent(sid)}/evidence`, download: `evidence-${sid}.zip`, text: 'Download evidence bundle' })) : null;
  const header = h('div', { class: 'replay-head' },
    h('h1', { text: 'Replay' }),
    h('p', { class: 'muted', id: 'replay-session', text: `Session ${sid}` }),
    h('p', { class: 'muted', text: 'Every replay is recorded in the session\u2019s audit log.' }),
    evidence, verifyOut);
  root.appendChild(h('section', { class: 'page replay-page', id: 'replay-page' },
    header, status, keyBox,
    h('div', { class: 'replay-main' },
      h('div', { class: 'replay-left' }, stage,
        h('div', { class: 'replay-controls' }, playBtn, speed, time),
        h('div', { class: 'replay-timeline' }, markerStrip, range)),
      h('aside', { class: 'replay-side card' }, h('h2', { text: 'Session log' }), logList))));

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
    status.textContent = 'Seeking…';
    const cost = await player.seek(ms);
    status.textContent = `Seeked to ${clockText(player.position)} in ${Math.round(cost.ms)} ms.`;
    status.dataset.target = String(ms);
    showTime(player.position);
    root.dataset.seekMs = String(Math.round(cost.ms));
  };

  const buildTimeline = () => {
    clear(markerStrip);
    const dur = Math.max(1, player.durationMs);
    const { markers, control } = markersFromLog(info.log, info.started_ms, player.durationMs);
    for (const c of control) {
      const bar = h('span', { class: 'marker-control', title: 'Engineer in control', dataset: { from: String(c.from), to: String(c.to) } });
      bar.style.left = `${(100 * c.from) / dur}%`;
      bar.style.width = `${Math.max(0.3, (100 * (c.to - c.from)) / dur)}%`;
      markerStrip.appendChild(bar);
    }
    for (const m of markers) {
      const dot = h('button', { type: 'button', class: `marker marker-${m.kind}`, title: `${m.event} at ${clockText(m.t)}`, dataset: { kind: m.kind, t: String(m.t) }, on: { click: () => seekTo(m.t) } });
      dot.style.left = `${(100 * m.t) / dur}%`;
      markerStrip.appendChild(dot);
    }
    clear(logList);
    logItems = [];
    for (const r of info.log || []) {
      const t = r.at_ms - info.started_ms;
      const li = h('li', { class: 'replay-log-item', dataset: { event: r.event } },
        h('button', { type: 'button', class: 'link', text: clockText(Math.max(0, t)), on: { click: () => seekTo(Math.max(0, t)) } }),
        h('span', { class: 'replay-log-event', text: ` ${r.event}` }),
        h('span', { class: 'muted', text: ` ${r.actor}` }));
      logItems.push([li, t]);
      logList.appendChild(li);
    }
  };

  const start = async (keyText) => {
    const { fingerprint, key } = parseKeyFile(keyText);
    const expected = (info.audit_keys[0] || {}).recipient_fingerprint;
    if (expected && fingerprint && expected !== fingerprint) {
      status.textContent = 'Note: this key\u2019s certificate fingerprint differs from the one the agent wrapped for; trying anyway.';
    }
    display = new Display(canvas, stage);
    player = new Player({ source, display, recipientKey: key });
    await player.load(info);
    player.on('time', showTime);
    player.on('state', (s) => {
      playBtn.textContent = s === 'playing' ? 'Pause' : 'Play';
      root.dataset.state = s;
    });
    range.max = String(player.durationMs);
    range.disabled = false;
    playBtn.disabled = false;
    speed.disabled = false;
    keyBox.hidden = true;
    buildTimeline();
    await seekTo(0);
    status.textContent = 'Ready.';
    root.dataset.ready = '1';
  };

  keyInput.addEventListener('change', async () => {
    const file = keyInput.files && keyInput.files[0];
    if (!file) return;
    try {
      await start(await file.text());
    } catch (e) {
      status.textContent = `Cannot open the recording: ${e.message}`;
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
        `Session ${sid} · ticket ${s.ticket_id || '?'} · ${s.client_name || ''} · ${when(s.created_at)} · ${duration(info.duration_ms)}`;
      status.textContent = 'Load the audit key to decrypt the recording.';
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
