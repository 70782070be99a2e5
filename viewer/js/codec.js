/**
 * Clearpane wire codec (protocol/SPEC.md §3 JSON control messages, §4 binary frames).
 *
 * Pure functions over strings and bytes: no DOM, no sockets. The client, the recording
 * player and the tests all use this module. Every parser enforces the SPEC §2 limits and
 * throws {@link CodecError} with a SPEC §7 code on malformed input.
 * @module codec
 */

/** SPEC §2 limits used by the viewer. */
export const LIMITS = Object.freeze({
  MAX_TEXT_MESSAGE: 64 * 1024,
  MAX_BINARY_MESSAGE: 8 * 1024 * 1024,
  MAX_CHAT_CHARS: 4000,
  MAX_RECTS: 4096,
  MAX_IMAGES: 64,
  MAX_SCREEN_DIM: 8192,
  MAX_FRAME_AREA: 8192 * 8192,
  MAX_INPUT_EVENTS: 256,
});

/** Binary kinds (SPEC §4). */
export const KIND_SCREEN_UPDATE = 0x01;
export const KIND_INPUT = 0x02;
export const KIND_ACK = 0x03;
export const KIND_VIDEO_CHUNK = 0x04;

/** Video chunk flags (SPEC §4.4): bit 0 KEY, a keyframe (decodable alone). */
export const FLAG_KEY = 0x01;

/** Video codec ids (SPEC §4.4) → the names offered in `key.commit` `video_codecs`. */
export const VIDEO_CODECS = Object.freeze({ 1: 'vp9', 2: 'h264', 3: 'av1' });
/** Video chunk plaintext header: codec u8, width u16, height u16, timestamp u64. */
export const VIDEO_CHUNK_HEAD_LEN = 13;

/** Screen update flags (SPEC §4.1). */
export const FLAG_FULL = 0x01;

/** Image codecs (SPEC §4.1). */
export const CODEC_JPEG = 1;
export const CODEC_PNG = 2;

/** Input event type bytes (SPEC §4.2). */
export const EV_POINTER_MOVE = 1;
export const EV_BUTTON_DOWN = 2;
export const EV_BUTTON_UP = 3;
export const EV_WHEEL = 4;
export const EV_KEY_DOWN = 5;
export const EV_KEY_UP = 6;

/** Header sizes (SPEC §4). */
export const SCREEN_HEADER_LEN = 14;
export const INPUT_HEADER_LEN = 13;
export const ACK_LEN = 9;
/** AES-GCM tag length: every ciphertext is at least this long. */
export const TAG_LEN = 16;

const U64_MAX = (1n << 64n) - 1n;

/** A malformed or over-limit message; `code` is a SPEC §7 error code. */
export class CodecError extends Error {
  /**
   * @param {string} code SPEC §7 code (malformed_json, malformed_binary, invalid_field, too_large)
   * @param {string} message for people
   */
  constructor(code, message) {
    super(message);
    this.name = 'CodecError';
    this.code = code;
  }
}

/**
 * View any byte container as a Uint8Array without copying.
 * @param {ArrayBuffer|ArrayBufferView} data
 * @returns {Uint8Array}
 */
export function asBytes(data) {
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  throw new TypeError('expected bytes');
}

/* ---------------------------------------------------------------- §3 JSON */

/**
 * Parse one text frame into a control message object (SPEC §3).
 * @param {string} text
 * @returns {{type: string} & Record<string, unknown>}
 */
export function parseControl(text) {
  if (typeof text !== 'string') throw new CodecError('malformed_json', 'control message must be text');
  if (new TextEncoder().encode(text).length > LIMITS.MAX_TEXT_MESSAGE) {
    throw new CodecError('too_large', 'control message over MAX_TEXT_MESSAGE');
  }
  let obj;
  try {
    obj = JSON.parse(text);
  } catch (e) {
    throw new CodecError('malformed_json', 'not JSON');
  }
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj) || typeof obj.type !== 'string') {
    throw new CodecError('malformed_json', 'not an object with a string type');
  }
  return obj;
}

/**
 * Serialize a control message (SPEC §3) to the text of one frame.
 * @param {{type: string} & Record<string, unknown>} msg
 * @returns {string}
 */
export function serializeControl(msg) {
  if (!msg || typeof msg.type !== 'string') throw new CodecError('invalid_field', 'message needs a type');
  const text = JSON.stringify(msg);
  if (new TextEncoder().encode(text).length > LIMITS.MAX_TEXT_MESSAGE) {
    throw new CodecError('too_large', 'control message over MAX_TEXT_MESSAGE');
  }
  return text;
}

/**
 * base64url without padding (SPEC §3) → bytes.
 * @param {string} s
 * @returns {Uint8Array}
 */
export function b64uDecode(s) {
  if (typeof s !== 'string' || !/^[A-Za-z0-9_-]*$/.test(s) || s.length % 4 === 1) {
    throw new CodecError('invalid_field', 'not base64url');
  }
  const b64 = s.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((s.length + 3) % 4);
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/**
 * Bytes → base64url without padding (SPEC §3).
 * @param {ArrayBuffer|ArrayBufferView} data
 * @returns {string}
 */
export function b64uEncode(data) {
  const bytes = asBytes(data);
  let bin = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    bin += String.fromCharCode.apply(null, Array.from(bytes.subarray(i, i + 0x8000)));
  }
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/* ------------------------------------------------------------ §4 binary */

function malformed(msg) {
  return new CodecError('malformed_binary', msg);
}

/** A bounds-checked big-endian reader. */
class Reader {
  /** @param {Uint8Array} bytes */
  constructor(bytes) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.pos = 0;
  }
  need(n) {
    if (this.pos + n > this.bytes.length) throw malformed('truncated');
  }
  u8() { this.need(1); return this.view.getUint8(this.pos++); }
  u16() { this.need(2); const v = this.view.getUint16(this.pos); this.pos += 2; return v; }
  i16() { this.need(2); const v = this.view.getInt16(this.pos); this.pos += 2; return v; }
  u32() { this.need(4); const v = this.view.getUint32(this.pos); this.pos += 4; return v; }
  u64() { this.need(8); const v = this.view.getBigUint64(this.pos); this.pos += 8; return v; }
  take(n) { this.need(n); const v = this.bytes.subarray(this.pos, this.pos + n); this.pos += n; return v; }
  end() { if (this.pos !== this.bytes.length) throw malformed('trailing bytes'); }
}

/** A growable big-endian writer. */
class Writer {
  constructor() { this.parts = []; this.len = 0; }
  push(buf) { this.parts.push(buf); this.len += buf.length; return this; }
  fixed(n, fn) { const b = new Uint8Array(n); fn(new DataView(b.buffer)); return this.push(b); }
  u8(v) { return this.fixed(1, (d) => d.setUint8(0, v)); }
  u16(v) { return this.fixed(2, (d) => d.setUint16(0, v)); }
  i16(v) { return this.fixed(2, (d) => d.setInt16(0, v)); }
  u32(v) { return this.fixed(4, (d) => d.setUint32(0, v)); }
  u64(v) { return this.fixed(8, (d) => d.setBigUint64(0, BigInt(v))); }
  bytes() {
    const out = new Uint8Array(this.len);
    let p = 0;
    for (const b of this.parts) { out.set(b, p); p += b.length; }
    return out;
  }
}

function checkUint(name, v, max) {
  if (!Number.isInteger(v) || v < 0 || v > max) throw new CodecError('invalid_field', `${name} out of range`);
}

function checkSeq(seq) {
  const s = BigInt(seq);
  if (s < 1n || s > U64_MAX) throw new CodecError('invalid_field', 'seq out of range');
  return s;
}

/**
 * @typedef {object} ScreenUpdateFrame
 * @property {'screen'} kind
 * @property {number} flags
 * @property {boolean} full
 * @property {number} epoch
 * @property {bigint} seq
 * @property {Uint8Array} header the 14-byte clear header (the AAD prefix)
 * @property {Uint8Array} ciphertext
 */
/**
 * @typedef {object} InputFrame
 * @property {'input'} kind
 * @property {number} sender
 * @property {bigint} seq
 * @property {Uint8Array} header the 13-byte clear header (the AAD prefix)
 * @property {Uint8Array} ciphertext
 */
/**
 * @typedef {object} VideoChunkFrame
 * @property {'video'} kind
 * @property {number} flags
 * @property {boolean} key a keyframe (SPEC §4.4 `KEY`)
 * @property {boolean} full the same as `key`: a seek point / a complete picture
 * @property {number} epoch
 * @property {bigint} seq
 * @property {Uint8Array} header the 14-byte clear header (the AAD prefix)
 * @property {Uint8Array} ciphertext
 */
/** @typedef {{kind: 'ack', seq: bigint}} AckFrame */
/** @typedef {{kind: 'unknown', code: number, data: Uint8Array}} UnknownBinary */

/**
 * Parse one binary frame (SPEC §4). Unknown kinds come back as `{kind: 'unknown'}` so the
 * caller can skip them; malformed known kinds throw `CodecError('malformed_binary')`.
 * @param {ArrayBuffer|ArrayBufferView} data
 * @returns {ScreenUpdateFrame|VideoChunkFrame|InputFrame|AckFrame|UnknownBinary}
 */
export function parseBinary(data) {
  const bytes = asBytes(data);
  if (bytes.length > LIMITS.MAX_BINARY_MESSAGE) throw new CodecError('too_large', 'binary frame over MAX_BINARY_MESSAGE');
  if (bytes.length < 1) throw malformed('empty binary frame');
  const kind = bytes[0];
  const r = new Reader(bytes);
  r.u8();
  if (kind === KIND_SCREEN_UPDATE) {
    if (bytes.length < SCREEN_HEADER_LEN) throw malformed('screen update shorter than its header');
    const flags = r.u8();
    const epoch = r.u32();
    const seq = r.u64();
    if (bytes.length < SCREEN_HEADER_LEN + TAG_LEN) throw malformed('screen update without an AEAD tag');
    if (flags & ~FLAG_FULL) throw new CodecError('invalid_field', 'unknown screen update flag');
    if (epoch < 1) throw new CodecError('invalid_field', 'epoch must be >= 1');
    if (seq < 1n) throw new CodecError('invalid_field', 'seq must be >= 1');
    return {
      kind: 'screen', flags, full: (flags & FLAG_FULL) !== 0, epoch, seq,
      header: bytes.subarray(0, SCREEN_HEADER_LEN), ciphertext: bytes.subarray(SCREEN_HEADER_LEN),
    };
  }
  if (kind === KIND_INPUT) {
    if (bytes.length < INPUT_HEADER_LEN) throw malformed('input frame shorter than its header');
    const sender = r.u32();
    const seq = r.u64();
    if (bytes.length < INPUT_HEADER_LEN + TAG_LEN) throw malformed('input frame without an AEAD tag');
    if (seq < 1n) throw new CodecError('invalid_field', 'seq must be >= 1');
    return {
      kind: 'input', sender, seq,
      header: bytes.subarray(0, INPUT_HEADER_LEN), ciphertext: bytes.subarray(INPUT_HEADER_LEN),
    };
  }
  if (kind === KIND_VIDEO_CHUNK) {
    // Same clear header as a screen update (SPEC §4.4).
    if (bytes.length < SCREEN_HEADER_LEN + TAG_LEN) throw malformed('video chunk shorter than header and tag');
    const flags = r.u8();
    const epoch = r.u32();
    const seq = r.u64();
    if (flags & ~FLAG_KEY) throw new CodecError('invalid_field', 'unknown video chunk flag');
    if (epoch < 1) throw new CodecError('invalid_field', 'epoch must be >= 1');
    if (seq < 1n) throw new CodecError('invalid_field', 'seq must be >= 1');
    const key = (flags & FLAG_KEY) !== 0;
    return {
      kind: 'video', flags, key, full: key, epoch, seq,
      header: bytes.subarray(0, SCREEN_HEADER_LEN), ciphertext: bytes.subarray(SCREEN_HEADER_LEN),
    };
  }
  if (kind === KIND_ACK) {
    if (bytes.length !== ACK_LEN) throw malformed('ack must be 9 bytes');
    const seq = r.u64();
    if (seq < 1n) throw new CodecError('invalid_field', 'seq must be >= 1');
    return { kind: 'ack', seq };
  }
  return { kind: 'unknown', code: kind, data: bytes };
}

/**
 * Clear header of a screen update (SPEC §4.1), the AAD prefix.
 * @param {number} flags
 * @param {number} epoch
 * @param {bigint|number} seq
 * @returns {Uint8Array}
 */
export function screenUpdateHeader(flags, epoch, seq) {
  checkUint('flags', flags, FLAG_FULL);
  checkUint('epoch', epoch, 0xffffffff);
  if (epoch < 1) throw new CodecError('invalid_field', 'epoch must be >= 1');
  return new Writer().u8(KIND_SCREEN_UPDATE).u8(flags).u32(epoch).u64(checkSeq(seq)).bytes();
}

/**
 * A whole screen update frame: header ‖ ciphertext.
 * @param {number} flags
 * @param {number} epoch
 * @param {bigint|number} seq
 * @param {Uint8Array} ciphertext
 * @returns {Uint8Array}
 */
export function buildScreenUpdateFrame(flags, epoch, seq, ciphertext) {
  return new Writer().push(screenUpdateHeader(flags, epoch, seq)).push(asBytes(ciphertext)).bytes();
}

/**
 * Clear header of a video chunk (SPEC §4.4), the AAD prefix.
 * @param {number} flags
 * @param {number} epoch
 * @param {bigint|number} seq
 * @returns {Uint8Array}
 */
export function videoChunkHeader(flags, epoch, seq) {
  checkUint('flags', flags, FLAG_KEY);
  checkUint('epoch', epoch, 0xffffffff);
  if (epoch < 1) throw new CodecError('invalid_field', 'epoch must be >= 1');
  return new Writer().u8(KIND_VIDEO_CHUNK).u8(flags).u32(epoch).u64(checkSeq(seq)).bytes();
}

/**
 * A whole video chunk frame: header ‖ ciphertext.
 * @param {number} flags
 * @param {number} epoch
 * @param {bigint|number} seq
 * @param {Uint8Array} ciphertext
 * @returns {Uint8Array}
 */
export function buildVideoChunkFrame(flags, epoch, seq, ciphertext) {
  return new Writer().push(videoChunkHeader(flags, epoch, seq)).push(asBytes(ciphertext)).bytes();
}

/**
 * The clear header (AAD prefix) of a parsed screen update or video chunk.
 * @param {{kind: string, flags: number, epoch: number, seq: bigint|number}} frame
 * @returns {Uint8Array}
 */
export function mediaHeader(frame) {
  if (frame.kind === 'video') return videoChunkHeader(frame.flags, frame.epoch, frame.seq);
  return screenUpdateHeader(frame.flags, frame.epoch, frame.seq);
}

/**
 * @typedef {object} VideoChunk
 * @property {number} codec 1 VP9, 2 H.264, 3 AV1
 * @property {string} codecName 'vp9' | 'h264' | 'av1'
 * @property {number} width screen width (the coded picture may be one pixel larger)
 * @property {number} height
 * @property {bigint} timestampUs
 * @property {Uint8Array} data one encoded frame
 */

/**
 * Parse a decrypted VideoChunk plaintext (SPEC §4.4). `data` is a view into the input.
 * @param {ArrayBuffer|ArrayBufferView} data
 * @returns {VideoChunk}
 */
export function parseVideoChunk(data) {
  const bytes = asBytes(data);
  if (bytes.length > LIMITS.MAX_BINARY_MESSAGE) throw new CodecError('too_large', 'video chunk over MAX_BINARY_MESSAGE');
  if (bytes.length < VIDEO_CHUNK_HEAD_LEN + 1) throw malformed('video chunk shorter than its header and one byte');
  const r = new Reader(bytes);
  const codec = r.u8();
  const width = r.u16();
  const height = r.u16();
  const timestampUs = r.u64();
  if (!(codec in VIDEO_CODECS)) throw new CodecError('invalid_field', 'unknown video codec');
  for (const [name, v] of [['width', width], ['height', height]]) {
    if (v < 1 || v > LIMITS.MAX_SCREEN_DIM) throw new CodecError('invalid_field', `${name} out of range`);
  }
  return { codec, codecName: VIDEO_CODECS[codec], width, height, timestampUs, data: bytes.subarray(VIDEO_CHUNK_HEAD_LEN) };
}

/**
 * Serialize a VideoChunk plaintext (SPEC §4.4). Used by tests and tools.
 * @param {{codec: number, width: number, height: number, timestampUs: bigint|number, data: Uint8Array}} c
 * @returns {Uint8Array}
 */
export function buildVideoChunk(c) {
  if (!(c.codec in VIDEO_CODECS)) throw new CodecError('invalid_field', 'unknown video codec');
  if (!c.data || c.data.length < 1) throw new CodecError('invalid_field', 'empty video chunk');
  return new Writer().u8(c.codec).u16(c.width).u16(c.height).u64(c.timestampUs).push(asBytes(c.data)).bytes();
}

/**
 * Clear header of an input frame (SPEC §4.2), the AAD prefix.
 * @param {number} sender viewer number (the digits of viewer_id `v<n>`)
 * @param {bigint|number} seq
 * @returns {Uint8Array}
 */
export function inputHeader(sender, seq) {
  checkUint('sender', sender, 0xffffffff);
  return new Writer().u8(KIND_INPUT).u32(sender).u64(checkSeq(seq)).bytes();
}

/**
 * A whole input frame: header ‖ ciphertext.
 * @param {number} sender
 * @param {bigint|number} seq
 * @param {Uint8Array} ciphertext
 * @returns {Uint8Array}
 */
export function buildInputFrame(sender, seq, ciphertext) {
  return new Writer().push(inputHeader(sender, seq)).push(asBytes(ciphertext)).bytes();
}

/**
 * Update acknowledgement (SPEC §4.3).
 * @param {bigint|number} seq highest drawn screen-update seq
 * @returns {Uint8Array}
 */
export function buildAck(seq) {
  return new Writer().u8(KIND_ACK).u64(checkSeq(seq)).bytes();
}

/**
 * @typedef {object} EncodedImage
 * @property {number} codec 1 JPEG, 2 PNG
 * @property {Uint8Array} data
 */
/**
 * @typedef {object} Rect
 * @property {number} image index into images
 * @property {number} sx
 * @property {number} sy
 * @property {number} dx
 * @property {number} dy
 * @property {number} w
 * @property {number} h
 */
/**
 * @typedef {object} ScreenUpdate
 * @property {number} width
 * @property {number} height
 * @property {EncodedImage[]} images
 * @property {Rect[]} rects
 */

function checkScreenUpdate(u) {
  if (u.width < 1 || u.height < 1 || u.width > LIMITS.MAX_SCREEN_DIM || u.height > LIMITS.MAX_SCREEN_DIM) {
    throw new CodecError('invalid_field', 'screen size out of range');
  }
  if (u.images.length > LIMITS.MAX_IMAGES) throw new CodecError('too_large', 'too many images');
  if (u.rects.length > LIMITS.MAX_RECTS) throw new CodecError('too_large', 'too many rects');
  let area = 0;
  for (const img of u.images) {
    if (img.codec !== CODEC_JPEG && img.codec !== CODEC_PNG) throw new CodecError('invalid_field', 'unknown image codec');
  }
  for (const rc of u.rects) {
    if (rc.image >= u.images.length) throw new CodecError('invalid_field', 'rect refers to a missing image');
    if (rc.dx + rc.w > u.width || rc.dy + rc.h > u.height) throw new CodecError('invalid_field', 'rect outside the screen');
    area += rc.w * rc.h;
  }
  if (area > LIMITS.MAX_FRAME_AREA) throw new CodecError('too_large', 'frame area over MAX_FRAME_AREA');
}

/**
 * Parse a decrypted ScreenUpdate plaintext (SPEC §4.1). Image data are views into `data`.
 * @param {ArrayBuffer|ArrayBufferView} data
 * @returns {ScreenUpdate}
 */
export function parseScreenUpdate(data) {
  const r = new Reader(asBytes(data));
  const width = r.u16();
  const height = r.u16();
  const n = r.u8();
  if (n > LIMITS.MAX_IMAGES) throw new CodecError('too_large', 'too many images');
  const images = [];
  for (let i = 0; i < n; i++) {
    const codec = r.u8();
    const len = r.u32();
    images.push({ codec, data: r.take(len) });
  }
  const m = r.u16();
  if (m > LIMITS.MAX_RECTS) throw new CodecError('too_large', 'too many rects');
  const rects = [];
  for (let i = 0; i < m; i++) {
    rects.push({ image: r.u8(), sx: r.u16(), sy: r.u16(), dx: r.u16(), dy: r.u16(), w: r.u16(), h: r.u16() });
  }
  r.end();
  const u = { width, height, images, rects };
  checkScreenUpdate(u);
  return u;
}

/**
 * Serialize a ScreenUpdate plaintext (SPEC §4.1). Used by tests and tools.
 * @param {ScreenUpdate} u
 * @returns {Uint8Array}
 */
export function buildScreenUpdate(u) {
  checkScreenUpdate(u);
  const w = new Writer().u16(u.width).u16(u.height).u8(u.images.length);
  for (const img of u.images) w.u8(img.codec).u32(img.data.length).push(asBytes(img.data));
  w.u16(u.rects.length);
  for (const rc of u.rects) w.u8(rc.image).u16(rc.sx).u16(rc.sy).u16(rc.dx).u16(rc.dy).u16(rc.w).u16(rc.h);
  return w.bytes();
}

/**
 * @typedef {object} InputEvent
 * @property {'pointer_move'|'button_down'|'button_up'|'wheel'|'key_down'|'key_up'} type
 * @property {number} [x]
 * @property {number} [y]
 * @property {number} [button] 1 left, 2 middle, 3 right
 * @property {number} [dx]
 * @property {number} [dy]
 * @property {number} [keysym] X11 keysym
 * @property {number} [modifiers] bit 0 shift, 1 ctrl, 2 alt, 3 meta
 */

const EV_CODES = {
  pointer_move: EV_POINTER_MOVE, button_down: EV_BUTTON_DOWN, button_up: EV_BUTTON_UP,
  wheel: EV_WHEEL, key_down: EV_KEY_DOWN, key_up: EV_KEY_UP,
};
const MAX_MODIFIERS = 0x0f;
const checkButton = (b) => {
  if (!Number.isInteger(b) || b < 1 || b > 3) throw new CodecError('invalid_field', 'button must be 1, 2 or 3');
};
const checkModifiers = (m) => {
  if (!Number.isInteger(m) || m < 0 || m > MAX_MODIFIERS) throw new CodecError('invalid_field', 'unknown modifier bits');
};
const EV_NAMES = Object.fromEntries(Object.entries(EV_CODES).map(([k, v]) => [v, k]));

/**
 * Serialize an InputBatch plaintext (SPEC §4.2).
 * @param {InputEvent[]} events
 * @returns {Uint8Array}
 */
export function buildInputBatch(events) {
  if (events.length > LIMITS.MAX_INPUT_EVENTS) throw new CodecError('too_large', 'too many input events');
  const w = new Writer().u16(events.length);
  for (const ev of events) {
    const code = EV_CODES[ev.type];
    if (!code) throw new CodecError('invalid_field', `unknown input event ${ev.type}`);
    w.u8(code);
    if (code <= EV_WHEEL) {
      checkUint('x', ev.x, 0xffff);
      checkUint('y', ev.y, 0xffff);
      w.u16(ev.x).u16(ev.y);
      if (code === EV_WHEEL) {
        if (!Number.isInteger(ev.dx) || !Number.isInteger(ev.dy) || Math.abs(ev.dx) > 32767 || Math.abs(ev.dy) > 32767 || ev.dx < -32768 || ev.dy < -32768) {
          throw new CodecError('invalid_field', 'wheel delta out of range');
        }
        w.i16(ev.dx).i16(ev.dy);
      } else if (code !== EV_POINTER_MOVE) {
        checkButton(ev.button);
        w.u8(ev.button);
      }
    } else {
      checkUint('keysym', ev.keysym, 0xffffffff);
      checkModifiers(ev.modifiers ?? 0);
      w.u32(ev.keysym).u8(ev.modifiers ?? 0);
    }
  }
  return w.bytes();
}

/**
 * Parse an InputBatch plaintext (SPEC §4.2).
 * @param {ArrayBuffer|ArrayBufferView} data
 * @returns {InputEvent[]}
 */
export function parseInputBatch(data) {
  const r = new Reader(asBytes(data));
  const count = r.u16();
  if (count > LIMITS.MAX_INPUT_EVENTS) throw new CodecError('too_large', 'too many input events');
  const events = [];
  for (let i = 0; i < count; i++) {
    const code = r.u8();
    const type = EV_NAMES[code];
    if (!type) throw malformed(`unknown input event type ${code}`);
    if (code <= EV_WHEEL) {
      const ev = { type, x: r.u16(), y: r.u16() };
      if (code === EV_WHEEL) { ev.dx = r.i16(); ev.dy = r.i16(); } else if (code !== EV_POINTER_MOVE) { ev.button = r.u8(); checkButton(ev.button); }
      events.push(ev);
    } else {
      const ev = { type, keysym: r.u32(), modifiers: r.u8() };
      checkModifiers(ev.modifiers);
      events.push(ev);
    }
  }
  r.end();
  return events;
}

/**
 * The u32 viewer number inside a viewer id `v<n>` (SPEC §4.2): canonical decimal, no
 * leading zeros (`v0`, `v3`; not `v03`), as protocol.e2e.viewer_number. The one parser of
 * viewer ids in the viewer (live view, e2e and player).
 * @param {string} viewerId
 * @returns {number}
 */
export function viewerNumber(viewerId) {
  const m = /^v(0|[1-9][0-9]*)$/.exec(typeof viewerId === 'string' ? viewerId : '');
  if (!m) throw new CodecError('invalid_field', 'viewer_id must be v<number>');
  const n = Number(m[1]);
  checkUint('viewer number', n, 0xffffffff);
  return n;
}
