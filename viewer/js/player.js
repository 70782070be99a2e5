/**
 * The recording player: replays what the broker relayed, through the live viewer's own
 * client (client.js dispatch table, e2e.js decryption) and display (display.js).
 *
 * A recording (audit/recording.py) is a header then records `(seq, t_ms, direction,
 * frame type, wire bytes)`, each with a length prefix and a CRC-32; its seek index has an
 * entry per FULL screen update and per second. The player depends only on a small
 * {@link RecordingSource}: `info()`, `index()`, `read(start, end)` — the broker over
 * HTTP ({@link HttpRecordingSource}) or bytes in memory ({@link MemoryRecordingSource}).
 *
 * Content keys come from the `key.audit` messages (SPEC §3.4), unwrapped with the audit
 * recipient's private key, which the reviewer loads into the page: it never leaves the
 * browser. To seek, the player starts a fresh client at the last FULL update before the
 * target and feeds every frame up to the target; then playback continues in real time
 * times the speed.
 * @module player
 */

import { SessionClient } from './client.js';
import * as e2e from './e2e.js';
import { b64uDecode, parseBinary } from './codec.js';
import { t, has, language } from './i18n.js';

export const DIR_AGENT = 0;
export const DIR_VIEWER = 1;
export const DIR_BROKER = 2;
export const FRAME_BINARY = 1;
export const FRAME_TEXT = 2;
export const INDEX_SECOND = 0;
export const INDEX_FULL = 1;
export const SPEEDS = Object.freeze([0.25, 0.5, 1, 2, 4, 8, 16]);

const MAGIC = [0x43, 0x50, 0x52, 0x45, 0x43, 0x00, 0x01, 0x0a];
const BODY_LEN = 14; // u64 seq, u32 t_ms, u8 direction, u8 frame type
const INDEX_LEN = 25;
const CHUNK_MS = 10_000;
const MAX_CHUNK = 8 * 1024 * 1024;
const TEXT = new TextDecoder();

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/**
 * CRC-32 (as zlib.crc32).
 * @param {Uint8Array} bytes
 * @returns {number}
 */
export function crc32(bytes) {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/**
 * @typedef {{seq: number, tMs: number, direction: number, type: number, payload: Uint8Array, offset: number}} RecordedFrame
 * @typedef {{kind: number, seq: number, tMs: number, offset: number}} IndexEntry
 */

/**
 * Parse the recording header.
 * @param {Uint8Array} bytes the start of the file
 * @returns {{header: {version: number, session_id: string, started_ms: number}, length: number}}
 */
export function parseHeader(bytes) {
  for (let i = 0; i < MAGIC.length; i++) if (bytes[i] !== MAGIC[i]) throw new Error('not a Clearpane recording');
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const len = dv.getUint32(8);
  const raw = bytes.subarray(12, 12 + len);
  if (crc32(raw) !== dv.getUint32(12 + len)) throw new Error('recording header CRC does not match');
  return { header: JSON.parse(TEXT.decode(raw)), length: 16 + len };
}

/**
 * Complete, CRC-checked records in `bytes` (which starts at file offset `base`); stops
 * at the first incomplete or damaged one (a torn tail).
 * @param {Uint8Array} bytes
 * @param {number} base
 * @returns {RecordedFrame[]}
 */
export function parseRecords(bytes, base) {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const out = [];
  let pos = 0;
  while (pos + 4 <= bytes.length) {
    const len = dv.getUint32(pos);
    if (len < BODY_LEN || pos + 8 + len > bytes.length) break;
    const body = bytes.subarray(pos + 4, pos + 4 + len);
    if (crc32(body) !== dv.getUint32(pos + 4 + len)) break;
    out.push({
      seq: Number(dv.getBigUint64(pos + 4)),
      tMs: dv.getUint32(pos + 12),
      direction: bytes[pos + 16],
      type: bytes[pos + 17],
      payload: body.subarray(BODY_LEN),
      offset: base + pos,
    });
    pos += 8 + len;
  }
  return out;
}

/**
 * Parse the seek index (25-byte entries).
 * @param {Uint8Array} bytes
 * @returns {IndexEntry[]}
 */
export function parseIndex(bytes) {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const out = [];
  for (let p = 0; p + INDEX_LEN <= bytes.length; p += INDEX_LEN) {
    out.push({ kind: bytes[p], seq: Number(dv.getBigUint64(p + 1)), tMs: Number(dv.getBigUint64(p + 9)), offset: Number(dv.getBigUint64(p + 17)) });
  }
  return out;
}

/**
 * The bytes to read to show time `tMs`: from the last FULL update at or before it to the
 * first second-mark after it (as audit.recording.seek_index).
 * @param {IndexEntry[]} index
 * @param {number} tMs
 * @param {number} fileEnd
 * @param {number} firstRecord
 * @returns {{start: number, end: number}}
 */
export function seekRange(index, tMs, fileEnd, firstRecord) {
  let start = firstRecord;
  let end = fileEnd;
  for (const e of index) {
    if (e.kind === INDEX_FULL && e.tMs <= tMs) start = e.offset;
    else if (e.kind === INDEX_SECOND && e.tMs > tMs) { end = e.offset; break; }
  }
  return { start, end: Math.max(start, end) };
}

/**
 * The source interface the player depends on (documented shape):
 * `info() → {session_id, started_ms, duration_ms, header_length, valid_length, audit_keys, log}`,
 * `index() → Uint8Array`, `read(start, end) → Uint8Array`.
 * @typedef {{info: () => Promise<any>, index: () => Promise<Uint8Array>, read: (start: number, end: number) => Promise<Uint8Array>}} RecordingSource
 */

/** A recording served by the broker. Opening it (`info()`) is an audited replay. */
export class HttpRecordingSource {
  /** @param {string} sessionId */
  constructor(sessionId) {
    this.sessionId = sessionId;
    this.token = null;
    this.base = `/api/v1/recordings/${encodeURIComponent(sessionId)}`;
  }

  async info() {
    const resp = await fetch(this.base, { credentials: 'same-origin', headers: { Accept: 'application/json' } });
    const data = await resp.json().catch(() => null);
    if (!resp.ok) {
      const message = data && data.error && data.error.message;
      const code = data && data.error && data.error.code;
      // The broker words errors in English; other languages get the code's own text.
      const err = new Error(language() !== 'en' && code && has(`error.${code}`) ? t(`error.${code}`) : message || t('error.http', { status: String(resp.status) }));
      err.status = resp.status;
      throw err;
    }
    this.token = data.replay_token;
    return data;
  }

  async _bytes(url) {
    const resp = await fetch(url, { credentials: 'same-origin' });
    if (!resp.ok) throw new Error(`recording fetch failed: ${resp.status}`);
    return new Uint8Array(await resp.arrayBuffer());
  }

  index() {
    return this._bytes(`${this.base}/index?replay=${encodeURIComponent(this.token)}`);
  }

  read(start, end) {
    return this._bytes(`${this.base}/data?replay=${encodeURIComponent(this.token)}&start=${start}&end=${end}`);
  }
}

/** A recording already in memory (tests, or a file the reviewer opened). */
export class MemoryRecordingSource {
  /**
   * @param {Uint8Array} data the whole recording file
   * @param {Uint8Array} indexBytes the index file
   * @param {any[]} auditKeys the key.audit messages
   * @param {any[]} [log] session log records
   */
  constructor(data, indexBytes, auditKeys, log = []) {
    this.data = data;
    this.indexBytes = indexBytes;
    this.auditKeys = auditKeys;
    this.log = log;
  }

  async info() {
    const { header, length } = parseHeader(this.data);
    const frames = parseRecords(this.data.subarray(length), length);
    const last = frames[frames.length - 1];
    const validLength = last ? last.offset + 8 + BODY_LEN + last.payload.length : length;
    return {
      session_id: header.session_id,
      started_ms: header.started_ms,
      duration_ms: last ? last.tMs : 0,
      header_length: length,
      valid_length: validLength,
      audit_keys: this.auditKeys,
      log: this.log,
    };
  }

  async index() {
    return this.indexBytes;
  }

  async read(start, end) {
    return this.data.slice(start, end);
  }
}

/** A transport that goes nowhere: a replay never talks back (no acks, no refresh). */
const NULL_TRANSPORT = Object.freeze({
  connect: async () => {},
  sendText: () => {},
  sendBinary: () => {},
  close: () => {},
});

/** @param {RecordedFrame} f @returns {boolean} a FULL screen update */
/** The screen update a recorded frame carries (parsed by codec.js), or null. */
function screenFrame(f) {
  if (f.type !== FRAME_BINARY) return null;
  try {
    const frame = parseBinary(f.payload);
    return frame.kind === 'screen' || frame.kind === 'video' ? frame : null;
  } catch {
    return null; // a malformed frame is skipped, as the live client skips it
  }
}
const isFull = (f) => screenFrame(f)?.full === true;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Plays a recording onto a Display. Events (`on(name, fn)`): `time` (ms), `state`
 * ('playing'|'paused'|'ended'), `paused` (the client paused the stream at this point),
 * `chat`, `error`.
 */
export class Player {
  /**
   * @param {{source: RecordingSource, display: import('./display.js').Display,
   *   recipientKey: Uint8Array}} opts recipientKey: the raw 32-byte X25519 audit key
   */
  constructor({ source, display, recipientKey }) {
    this.source = source;
    this.display = display;
    this.recipientKey = recipientKey;
    this.info = null;
    this.index = [];
    /** @type {Map<number, Uint8Array>} epoch → content key */
    this.keys = new Map();
    this.client = null;
    this.position = 0;
    this.speed = 1;
    this.playing = false;
    this.queue = [];
    this.nextOffset = 0;
    this._gen = 0;
    this._listeners = new Map();
    this.lastSeek = null;
  }

  /** @returns {number} */
  get durationMs() {
    return this.info ? this.info.duration_ms : 0;
  }

  /**
   * @param {string} name
   * @param {(d: any) => void} fn
   */
  on(name, fn) {
    if (!this._listeners.has(name)) this._listeners.set(name, new Set());
    this._listeners.get(name).add(fn);
  }

  _emit(name, detail) {
    for (const fn of this._listeners.get(name) || []) {
      try { fn(detail); } catch (e) { console.error('player listener failed', e); }
    }
  }

  /**
   * Open the recording: its summary, index, and every epoch's content key.
   * @param {any} [info] a summary already fetched (so the audited open happens once)
   */
  async load(info) {
    this.info = info || (await this.source.info());
    this.index = parseIndex(await this.source.index());
    const sid = this.info.session_id;
    for (const k of this.info.audit_keys || []) {
      const key = await e2e.unwrapForAudit(this.recipientKey, sid, k.epoch, b64uDecode(k.ephemeral_public), b64uDecode(k.wrapped_key));
      this.keys.set(k.epoch, key);
    }
    if (this.keys.size === 0) throw new Error('the recording holds no content key for the audit recipient');
  }

  _newClient() {
    const client = new SessionClient({ transport: NULL_TRANSPORT, display: this.display });
    client.sessionId = this.info.session_id;
    client.handlers['key.audit'] = () => {}; // keys come from the summary, already unwrapped
    client.on('paused', (p) => this._emit('paused', p));
    client.on('chat', (m) => this._emit('chat', m));
    client.on('error', (e) => this._emit('error', e));
    return client;
  }

  async _ensureKey(client, epoch) {
    const key = this.keys.get(epoch);
    if (key) await client.addContentKey(epoch, key); // no key: the client skips the frame, as live
  }

  async _feed(client, f) {
    if (f.type === FRAME_BINARY) {
      const frame = screenFrame(f);
      if (frame === null) return;
      await this._ensureKey(client, frame.epoch);
      client.onFrame(frame);
      await client.drawChain;
    } else if (f.type === FRAME_TEXT && f.direction !== DIR_VIEWER) {
      client.onText(TEXT.decode(f.payload));
    }
  }

  /**
   * Show the picture at `tMs` (clamped to the recording). Returns once it is drawn.
   * @param {number} tMs
   * @returns {Promise<{ms: number, frames: number, bytes: number}>} what the seek cost
   */
  async seek(tMs) {
    const t0 = performance.now();
    const gen = ++this._gen;
    const wasPlaying = this.playing;
    this.playing = false;
    const target = Math.max(0, Math.min(tMs, this.durationMs));
    const { start, end } = seekRange(this.index, target, this.info.valid_length, this.info.header_length);
    const bytes = await this.source.read(start, end);
    const frames = parseRecords(bytes, start);
    const client = this._newClient();
    if (!frames.length || !isFull(frames[0])) this._blank();
    let fed = 0;
    const rest = [];
    // Video (SPEC §4.4): decode every chunk from the keyframe, draw only the last one.
    let last = -1;
    frames.forEach((f, i) => { if (f.tMs <= target && screenFrame(f)) last = i; });
    for (const [i, f] of frames.entries()) {
      if (f.tMs > target) { rest.push(f); continue; }
      client.skipDraw = i < last;
      await this._feed(client, f);
      fed += 1;
      if (gen !== this._gen) {
        client.dispose(); // a newer seek took over: free this one's decoder
        return { ms: performance.now() - t0, frames: fed, bytes: bytes.length };
      }
    }
    client.skipDraw = false;
    if (this.client && this.client !== client) this.client.dispose();
    this.client = client;
    this.queue = rest;
    this.nextOffset = end;
    this.position = target;
    this.lastSeek = { ms: performance.now() - t0, frames: fed, bytes: bytes.length };
    this._emit('time', this.position);
    if (wasPlaying) this.play();
    return this.lastSeek;
  }

  _blank() {
    const d = this.display;
    if (d.width && d.height) {
      d.ctx.fillStyle = '#000';
      d.ctx.fillRect(0, 0, d.width, d.height);
    }
  }

  async _fetchMore() {
    if (this.nextOffset >= this.info.valid_length) return false;
    const from = this.nextOffset;
    let end = this.info.valid_length;
    const horizon = this.position + CHUNK_MS;
    for (const e of this.index) {
      if (e.kind === INDEX_SECOND && e.offset > from && e.tMs > horizon) { end = e.offset; break; }
    }
    end = Math.min(end, from + MAX_CHUNK);
    const bytes = await this.source.read(from, end);
    const frames = parseRecords(bytes, from);
    if (frames.length === 0) { this.nextOffset = this.info.valid_length; return false; }
    const last = frames[frames.length - 1];
    this.nextOffset = last.offset + 8 + BODY_LEN + last.payload.length;
    this.queue.push(...frames);
    return true;
  }

  /** Start or continue playing at the current speed. */
  play() {
    if (this.playing || !this.client) return;
    if (this.position >= this.durationMs && this.queue.length === 0 && this.nextOffset >= this.info.valid_length) return;
    this.playing = true;
    this._emit('state', 'playing');
    this._run(++this._gen);
  }

  /** Pause where we are. */
  pause() {
    if (!this.playing) return;
    this.playing = false;
    this._gen += 1;
    this._emit('state', 'paused');
  }

  /**
   * Playback speed, 0.25× to 16×.
   * @param {number} s
   */
  setSpeed(s) {
    const speed = Number(s);
    if (!(speed >= 0.25 && speed <= 16)) throw new RangeError('speed must be 0.25–16');
    const now = performance.now();
    if (this.playing && this._base) {
      this.position = Math.min(this._base.pos + (now - this._base.wall) * this.speed, this.durationMs);
    }
    this.speed = speed;
    this._base = { wall: now, pos: this.position };
  }

  async _run(gen) {
    this._base = { wall: performance.now(), pos: this.position };
    let lastEmit = 0;
    while (this.playing && gen === this._gen) {
      const now = performance.now();
      const pos = this._base.pos + (now - this._base.wall) * this.speed;
      if (this.queue.length === 0) {
        const more = await this._fetchMore();
        if (gen !== this._gen) return;
        if (!more) {
          this.position = this.durationMs;
          this.playing = false;
          this._emit('time', this.position);
          this._emit('state', 'ended');
          return;
        }
        continue;
      }
      const f = this.queue[0];
      if (f.tMs <= pos) {
        this.queue.shift();
        await this._feed(this.client, f);
        if (gen !== this._gen) return;
        this.position = Math.max(this.position, f.tMs);
        continue;
      }
      this.position = Math.min(pos, this.durationMs);
      if (now - lastEmit > 100) { lastEmit = now; this._emit('time', this.position); }
      await sleep(Math.max(1, Math.min(50, (f.tMs - pos) / this.speed)));
    }
  }
}
