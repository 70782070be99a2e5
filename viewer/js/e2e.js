// End-to-end encryption, viewer side (SPEC §8), in WebCrypto.
//
// The same construction as protocol/e2e.py: X25519 key agreement with commitment,
// HKDF-SHA256 key derivation, the 6-digit verification code, content-key unwraps,
// opening screen updates (SPEC §4.1) and sealing input batches (SPEC §4.2).
// tests/protocol/vectors/e2e.json proves both implementations agree.
// Needs a secure context (https, or http on 127.0.0.1) for crypto.subtle.
//
// Crypto only: the wire layout (binary kinds, clear headers, viewer numbers, base64url)
// is codec.js's, the one wire codec of the viewer; this module never parses a frame itself.

import { CodecError, TAG_LEN, b64uDecode, inputHeader, mediaHeader, parseBinary } from './codec.js';

const subtle = globalThis.crypto.subtle;
const enc = new TextEncoder();

const TRANSCRIPT_LABEL = enc.encode('clearpane.v1 transcript');
const WRAP_LABEL = enc.encode('clearpane.v1 wrap');
const INPUT_LABEL = enc.encode('clearpane.v1 input');
const SAS_LABEL = enc.encode('clearpane.v1 sas');
const AUDIT_LABEL = enc.encode('clearpane.v1 audit');
const AUDIT_WRAP_LABEL = enc.encode('clearpane.v1 audit wrap');

/** Nonce purposes (SPEC §8.3); key wraps use purpose 0 (SPEC §8.2). */
export const PURPOSE_WRAP = 0;
export const PURPOSE_SCREEN = 1;
export const PURPOSE_INPUT = 2;

const KEY_LEN = 32;
const WRAPPED_LEN = 48;
const U32_MAX = 0xffffffff;
const U64_MAX = 0xffffffffffffffffn;
const MAX_PENDING_EPOCHS = 8;
// PKCS#8 wrapper of a raw X25519 private key (RFC 8410): WebCrypto imports no raw private keys.
const PKCS8_X25519_PREFIX = hexToBytes('302e020100300506032b656e04220420');

/** An end-to-end failure; `code` matches protocol.e2e.E2EError codes. */
export class E2EError extends Error {
  /**
   * @param {string} code stable code: bad_commitment, bad_key, decrypt_failed, replayed,
   *   unknown_epoch, wrong_state, invalid_field, exhausted
   * @param {string} message for people
   */
  constructor(code, message) {
    super(`${code}: ${message}`);
    this.name = 'E2EError';
    this.code = code;
  }
}

// --- bytes helpers ---------------------------------------------------------------

/**
 * Concatenate byte arrays.
 * @param {...Uint8Array} parts
 * @returns {Uint8Array}
 */
export function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/**
 * Hex string to bytes.
 * @param {string} hex
 * @returns {Uint8Array}
 */
export function hexToBytes(hex) {
  if (hex.length % 2 !== 0 || /[^0-9a-fA-F]/.test(hex)) throw new E2EError('invalid_field', 'bad hex');
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/**
 * Bytes to lowercase hex.
 * @param {Uint8Array} bytes
 * @returns {string}
 */
export function bytesToHex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** lp(s): UTF-8 bytes prefixed by their length as u16 (SPEC §8.1). */
function lp(s) {
  const raw = enc.encode(s);
  if (raw.length > 0xffff) throw new E2EError('invalid_field', 'identifier too long');
  return concat(new Uint8Array([raw.length >> 8, raw.length & 0xff]), raw);
}

/** 12-byte nonce: u32 purpose ‖ u64 counter (SPEC §8.3). */
function nonce(purpose, counter) {
  const n = new Uint8Array(12);
  const dv = new DataView(n.buffer);
  dv.setUint32(0, purpose);
  dv.setBigUint64(4, BigInt(counter));
  return n;
}

function checkEpoch(epoch) {
  if (!Number.isInteger(epoch) || epoch < 1 || epoch > U32_MAX) {
    throw new E2EError('invalid_field', 'epoch out of range');
  }
}

function checkKeyBytes(key, what) {
  if (!(key instanceof Uint8Array) || key.length !== KEY_LEN) {
    throw new E2EError('invalid_field', `${what} must be ${KEY_LEN} bytes`);
  }
}

async function sha256(data) {
  return new Uint8Array(await subtle.digest('SHA-256', data));
}

async function hkdf(secret, salt, info, length) {
  const base = await subtle.importKey('raw', secret, 'HKDF', false, ['deriveBits']);
  const bits = await subtle.deriveBits({ name: 'HKDF', hash: 'SHA-256', salt, info }, base, length * 8);
  return new Uint8Array(bits);
}

async function aesKey(raw, usage) {
  return subtle.importKey('raw', raw, { name: 'AES-GCM' }, false, usage);
}

async function aesDecrypt(key, iv, data, aad, what) {
  try {
    return new Uint8Array(await subtle.decrypt({ name: 'AES-GCM', iv, additionalData: aad }, key, data));
  } catch {
    throw new E2EError('decrypt_failed', `${what} did not authenticate`);
  }
}

/**
 * Import a raw 32-byte X25519 private key (test vectors, audit key files).
 * @param {Uint8Array} raw
 * @param {boolean} [extractable=false]
 * @returns {Promise<CryptoKey>}
 */
export async function importX25519Private(raw, extractable = false) {
  checkKeyBytes(raw, 'private key');
  return subtle.importKey('pkcs8', concat(PKCS8_X25519_PREFIX, raw), { name: 'X25519' }, extractable, [
    'deriveBits',
  ]);
}

/** Raw public key of an extractable X25519 private key (via its JWK `x`). */
async function publicOfPrivate(privateKey) {
  const jwk = await subtle.exportKey('jwk', privateKey);
  return b64uDecode(jwk.x);
}

/**
 * X25519(private, peerPublic) → 32-byte shared secret; low-order points are `bad_key`.
 * @param {CryptoKey} privateKey
 * @param {Uint8Array} peerPublic raw 32 bytes
 * @returns {Promise<Uint8Array>}
 */
export async function x25519(privateKey, peerPublic) {
  if (!(peerPublic instanceof Uint8Array) || peerPublic.length !== KEY_LEN) {
    throw new E2EError('bad_key', 'X25519 public key must be 32 bytes');
  }
  let bits;
  try {
    const pub = await subtle.importKey('raw', peerPublic, { name: 'X25519' }, false, []);
    bits = new Uint8Array(await subtle.deriveBits({ name: 'X25519', public: pub }, privateKey, 256));
  } catch {
    throw new E2EError('bad_key', 'X25519 exchange rejected the peer key');
  }
  if (bits.every((b) => b === 0)) throw new E2EError('bad_key', 'all-zero shared secret');
  return bits;
}

// --- §8.1 key agreement -------------------------------------------------------------

/**
 * C = SHA-256(V) (SPEC §8.1).
 * @param {Uint8Array} publicKey
 * @returns {Promise<Uint8Array>}
 */
export async function commitmentOf(publicKey) {
  return sha256(publicKey);
}

/**
 * T = SHA-256("clearpane.v1 transcript" ‖ lp(sid) ‖ lp(vid) ‖ C ‖ A ‖ V) (SPEC §8.1).
 * @param {string} sessionId
 * @param {string} viewerId
 * @param {Uint8Array} commitment
 * @param {Uint8Array} agentPublic
 * @param {Uint8Array} viewerPublic
 * @returns {Promise<Uint8Array>}
 */
export async function transcriptHash(sessionId, viewerId, commitment, agentPublic, viewerPublic) {
  return sha256(concat(TRANSCRIPT_LABEL, lp(sessionId), lp(viewerId), commitment, agentPublic, viewerPublic));
}

/**
 * The 6-digit code "123 456" from the 4 bytes S: u32(S) mod 1,000,000 (SPEC §8.1).
 * @param {Uint8Array} sas
 * @returns {string}
 */
export function formatCode(sas) {
  const value = new DataView(sas.buffer, sas.byteOffset, 4).getUint32(0) % 1000000;
  const digits = String(value).padStart(6, '0');
  return `${digits.slice(0, 3)} ${digits.slice(3)}`;
}

/**
 * HKDF-SHA256(Z, salt=T) into the raw K_wrap, K_input and S (SPEC §8.1).
 * @param {Uint8Array} sharedSecret Z
 * @param {Uint8Array} transcript T
 * @returns {Promise<{wrapKey: Uint8Array, inputKey: Uint8Array, sas: Uint8Array}>}
 */
export async function deriveKeyBytes(sharedSecret, transcript) {
  const [wrapKey, inputKey, sas] = await Promise.all([
    hkdf(sharedSecret, transcript, WRAP_LABEL, KEY_LEN),
    hkdf(sharedSecret, transcript, INPUT_LABEL, KEY_LEN),
    hkdf(sharedSecret, transcript, SAS_LABEL, 4),
  ]);
  return { wrapKey, inputKey, sas };
}

/**
 * @typedef {object} PeerKeys
 * @property {CryptoKey} wrapKey K_wrap (AES-GCM, decrypt only, not extractable)
 * @property {CryptoKey} inputKey K_input (AES-GCM, encrypt only, not extractable)
 * @property {string} verificationCode "123 456"
 */

/**
 * The viewer's side of the key agreement (SPEC §8.1).
 * Usage: `const ka = await ViewerKeyAgreement.create(sid, vid)`; send `ka.commitment`
 * in `key.commit`; on `key.agent`: `const {viewerPublic, keys} = await ka.reveal(A)`;
 * send `viewerPublic` in `key.reveal`; show `keys.verificationCode`.
 */
export class ViewerKeyAgreement {
  /** @private */
  constructor(sessionId, viewerId, privateKey, publicKey, commitment) {
    /** @type {string} */ this.sessionId = sessionId;
    /** @type {string} */ this.viewerId = viewerId;
    /** @type {Uint8Array} V, raw 32 bytes */ this.publicKey = publicKey;
    /** @type {Uint8Array} C = SHA-256(V) */ this.commitment = commitment;
    this._private = privateKey;
  }

  /**
   * Make a fresh X25519 pair (or use `privateKey`, raw 32 bytes, for test vectors).
   * @param {string} sessionId
   * @param {string} viewerId
   * @param {{privateKey?: Uint8Array}} [options]
   * @returns {Promise<ViewerKeyAgreement>}
   */
  static async create(sessionId, viewerId, options = {}) {
    let priv;
    let pub;
    if (options.privateKey) {
      const extractable = await importX25519Private(options.privateKey, true);
      pub = await publicOfPrivate(extractable);
      priv = await importX25519Private(options.privateKey, false);
    } else {
      const pair = await subtle.generateKey({ name: 'X25519' }, false, ['deriveBits']);
      priv = pair.privateKey;
      pub = new Uint8Array(await subtle.exportKey('raw', pair.publicKey));
    }
    return new ViewerKeyAgreement(sessionId, viewerId, priv, pub, await commitmentOf(pub));
  }

  /**
   * Take the agent's A (`key.agent`); derive the keys. Runs once.
   * @param {Uint8Array} agentPublic
   * @returns {Promise<{viewerPublic: Uint8Array, keys: PeerKeys}>}
   */
  async reveal(agentPublic) {
    if (!this._private) throw new E2EError('wrong_state', 'already revealed');
    const priv = this._private;
    this._private = null;
    const z = await x25519(priv, agentPublic);
    const t = await transcriptHash(this.sessionId, this.viewerId, this.commitment, agentPublic, this.publicKey);
    const raw = await deriveKeyBytes(z, t);
    const keys = {
      wrapKey: await aesKey(raw.wrapKey, ['decrypt']),
      inputKey: await aesKey(raw.inputKey, ['encrypt']),
      verificationCode: formatCode(raw.sas),
    };
    return { viewerPublic: this.publicKey, keys };
  }
}

// --- §8.2 content keys -------------------------------------------------------------------

/**
 * Unwrap K_e from `key.wrap` (SPEC §8.2).
 * @param {CryptoKey} wrapKey PeerKeys.wrapKey
 * @param {string} sessionId
 * @param {string} viewerId
 * @param {number} epoch ≥ 1
 * @param {Uint8Array} wrapped 48 bytes
 * @returns {Promise<Uint8Array>} the 32-byte content key
 */
export async function unwrapContentKey(wrapKey, sessionId, viewerId, epoch, wrapped) {
  checkEpoch(epoch);
  if (!(wrapped instanceof Uint8Array) || wrapped.length !== WRAPPED_LEN) {
    throw new E2EError('decrypt_failed', 'wrapped key must be 48 bytes');
  }
  const aad = concat(WRAP_LABEL, lp(sessionId), lp(viewerId));
  return aesDecrypt(wrapKey, nonce(PURPOSE_WRAP, epoch), wrapped, aad, 'content key wrap');
}

/**
 * Unwrap K_e from a `key.audit` record with the audit recipient's private key (SPEC §8.2).
 * @param {Uint8Array} recipientPrivate raw 32-byte X25519 private key
 * @param {string} sessionId
 * @param {number} epoch
 * @param {Uint8Array} ephemeralPublic Q
 * @param {Uint8Array} wrapped 48 bytes
 * @returns {Promise<Uint8Array>} the 32-byte content key
 */
export async function unwrapForAudit(recipientPrivate, sessionId, epoch, ephemeralPublic, wrapped) {
  checkEpoch(epoch);
  if (!(wrapped instanceof Uint8Array) || wrapped.length !== WRAPPED_LEN) {
    throw new E2EError('decrypt_failed', 'wrapped key must be 48 bytes');
  }
  const priv = await importX25519Private(recipientPrivate, true);
  const r = await publicOfPrivate(priv);
  const z = await x25519(priv, ephemeralPublic);
  const salt = await sha256(concat(AUDIT_LABEL, lp(sessionId), ephemeralPublic, r));
  const kAudit = await aesKey(await hkdf(z, salt, AUDIT_WRAP_LABEL, KEY_LEN), ['decrypt']);
  const aad = concat(AUDIT_LABEL, lp(sessionId));
  return aesDecrypt(kAudit, nonce(PURPOSE_WRAP, epoch), wrapped, aad, 'audit wrap');
}

// --- §4.1 screen updates ---------------------------------------------------------------------

/** Wire-layout errors from codec.js surface as this module's `invalid_field`. */
function wire(fn) {
  try {
    return fn();
  } catch (e) {
    if (e instanceof CodecError) throw new E2EError('invalid_field', e.message);
    throw e;
  }
}

/**
 * Opens screen updates. Accepts a frame only if (epoch, seq) is newer than the last
 * accepted one (replays, reordering and older epochs rejected; gaps allowed, SPEC §6).
 * A failure throws E2EError and changes nothing.
 * Usage: `const op = await FrameOpener.create(sid, epoch, K_e)`;
 * `const plaintext = await op.open(bytesOrParsedFrame)`; later `await op.addKey(e2, K_e2)`.
 */
export class FrameOpener {
  /** @param {string} sessionId */
  constructor(sessionId) {
    this._sid = enc.encode(sessionId);
    /** @type {Map<number, CryptoKey>} */
    this._keys = new Map();
    this._lastEpoch = 0;
    this._lastSeq = 0n;
  }

  /**
   * An opener holding the key of one epoch.
   * @param {string} sessionId
   * @param {number} epoch
   * @param {Uint8Array} contentKey 32 bytes, from unwrapContentKey / unwrapForAudit
   * @returns {Promise<FrameOpener>}
   */
  static async create(sessionId, epoch, contentKey) {
    const opener = new FrameOpener(sessionId);
    await opener.addKey(epoch, contentKey);
    return opener;
  }

  /** @returns {bigint} the seq of the last accepted frame (0n before the first) */
  get lastSeq() {
    return this._lastSeq;
  }

  /** @returns {number} the epoch of the last accepted frame (0 before the first) */
  get lastEpoch() {
    return this._lastEpoch;
  }

  /**
   * Install the content key of an epoch.
   * @param {number} epoch
   * @param {Uint8Array} contentKey 32 bytes
   * @returns {Promise<void>}
   */
  async addKey(epoch, contentKey) {
    checkEpoch(epoch);
    checkKeyBytes(contentKey, 'content key');
    if (epoch < this._lastEpoch) throw new E2EError('wrong_state', 'epoch older than accepted frames');
    this._keys.set(epoch, await aesKey(contentKey, ['decrypt']));
    while (this._keys.size > MAX_PENDING_EPOCHS) this._keys.delete(Math.min(...this._keys.keys()));
  }

  _isNewer(epoch, seq) {
    return epoch > this._lastEpoch || (epoch === this._lastEpoch && seq > this._lastSeq);
  }

  /**
   * Authenticate and decrypt one screen update.
   * @param {Uint8Array|{flags: number, epoch: number, seq: bigint|number, ciphertext: Uint8Array}} frame
   *   the whole binary message, or a frame parsed by codec.parseBinary (the live client
   *   and the player pass the parsed frame: the bytes are parsed once, by codec.js)
   * @returns {Promise<Uint8Array>} the ScreenUpdate plaintext
   */
  async open(frame) {
    const f = frame instanceof Uint8Array ? wire(() => parseBinary(frame)) : frame;
    if (frame instanceof Uint8Array && f.kind !== 'screen' && f.kind !== 'video') {
      throw new E2EError('invalid_field', 'not a screen update or video chunk');
    }
    const { flags, epoch, ciphertext } = f;
    let seq;
    try {
      seq = BigInt(f.seq);
    } catch {
      throw new E2EError('invalid_field', 'seq is not an integer');
    }
    if (!Number.isInteger(flags) || flags < 0 || flags > 0xff || !Number.isInteger(epoch) ||
        epoch < 1 || epoch > U32_MAX || seq < 1n || seq > U64_MAX || !(ciphertext instanceof Uint8Array)) {
      throw new E2EError('invalid_field', 'header field out of range');
    }
    if (!this._isNewer(epoch, seq)) throw new E2EError('replayed', 'frame is not newer than the last one');
    const key = this._keys.get(epoch);
    if (!key) throw new E2EError('unknown_epoch', 'no content key for this epoch');
    if (ciphertext.length < TAG_LEN) throw new E2EError('decrypt_failed', 'ciphertext shorter than its tag');
    // The AAD is rebuilt from the fields checked above, not taken from the wire as is.
    // A video chunk's kind byte is in its AAD (SPEC §4.4): one kind cannot pass as the other.
    const kind = f.kind === 'video' ? 'video' : 'screen';
    const aad = concat(wire(() => mediaHeader({ kind, flags, epoch, seq })), this._sid);
    const plaintext = await aesDecrypt(key, nonce(PURPOSE_SCREEN, seq), ciphertext, aad, 'screen update');
    // Another open() may have accepted a newer frame while this one awaited.
    if (!this._isNewer(epoch, seq)) throw new E2EError('replayed', 'frame is not newer than the last one');
    this._lastEpoch = epoch;
    this._lastSeq = seq;
    for (const e of [...this._keys.keys()]) if (e < epoch) this._keys.delete(e);
    return plaintext;
  }
}

// --- §4.2 input batches ----------------------------------------------------------------------

/**
 * Seals input batches with K_input; owns the seq counter (starts at 1, never reused).
 * Usage: `const s = await InputSealer.create(sid, codec.viewerNumber(vid), keys.inputKey);
 * ws.send(await s.seal(batchBytes))`.
 */
export class InputSealer {
  /**
   * @param {string} sessionId
   * @param {number} sender the viewer number (u32)
   * @param {CryptoKey} inputKey PeerKeys.inputKey (or a key imported from raw bytes)
   */
  constructor(sessionId, sender, inputKey) {
    if (!Number.isInteger(sender) || sender < 0 || sender > U32_MAX) {
      throw new E2EError('invalid_field', 'sender out of range');
    }
    this._sid = enc.encode(sessionId);
    this._sender = sender;
    this._key = inputKey;
    this._lastSeq = 0n;
  }

  /**
   * A sealer from PeerKeys.inputKey (CryptoKey) or a raw 32-byte key (test vectors).
   * @param {string} sessionId
   * @param {number} sender the viewer number (u32)
   * @param {CryptoKey|Uint8Array} inputKey
   * @returns {Promise<InputSealer>}
   */
  static async create(sessionId, sender, inputKey) {
    if (inputKey instanceof Uint8Array) {
      checkKeyBytes(inputKey, 'input key');
      return new InputSealer(sessionId, sender, await aesKey(inputKey, ['encrypt']));
    }
    return new InputSealer(sessionId, sender, inputKey);
  }

  /** @returns {bigint} the seq of the last sealed batch (0n before the first) */
  get lastSeq() {
    return this._lastSeq;
  }

  /**
   * Encrypt one InputBatch payload into a whole binary message (header ‖ ciphertext).
   * @param {Uint8Array} plaintext
   * @returns {Promise<Uint8Array>}
   */
  async seal(plaintext) {
    if (this._lastSeq >= U64_MAX) throw new E2EError('exhausted', 'seq counter exhausted');
    // Reserve the seq before awaiting so concurrent seal() calls never share a nonce.
    const seq = ++this._lastSeq;
    const header = inputHeader(this._sender, seq);
    const aad = concat(header, this._sid);
    const ct = await subtle.encrypt({ name: 'AES-GCM', iv: nonce(PURPOSE_INPUT, seq), additionalData: aad }, this._key, plaintext);
    return concat(header, new Uint8Array(ct));
  }
}
