/**
 * The viewer's session client: protocol logic between the transport and the page.
 *
 * Incoming control messages go through a dispatch table keyed by `type`; unknown types
 * are ignored (Guacamole style), so a newer broker does not break an older viewer.
 * Screen updates are opened with the epoch's content key (e2e.js), drawn on the Display
 * one at a time in order, and acknowledged once drawn (SPEC §4.3, §6). A gap in `seq`
 * (the broker replaced an update) makes the client ask for a `refresh`. Video chunks
 * (SPEC §4.4) take the same path and are decoded by video.js; the codecs this browser
 * decodes are offered in `key.commit`, and after a gap delta chunks are skipped until
 * the keyframe the `refresh` brings. Input is sent
 * only while `control` is granted (G4), sealed with the viewer's input key.
 *
 * The page listens with `client.on(event, fn)`. Events: `welcome`, `state`,
 * `permissions`, `consent` ({granted|denied|revoked, permissions}), `chat`, `log`,
 * `paused` (bool), `mask`, `desktop` (SPEC §3.5 desktop.info), `verification` (code), `ended` ({reason, by}), `error`
 * ({code, message}), `frame` (seq), `close` ({code, reason}), `rtc` (a call.start or
 * rtc.* message for call.js).
 * @module client
 */

import * as codec from './codec.js';
import * as e2e from './e2e.js';
import { VideoStream, supportedCodecs } from './video.js';
import { t } from './i18n.js';

/** At most one `refresh` per this interval while one is outstanding (no FULL update yet). */
const REFRESH_THROTTLE_MS = 1000;

/** SPEC §5 end reasons (each has an `end.<reason>` text). */
export const END_REASONS = Object.freeze(['killed_by_client', 'ended_by_engineer', 'denied', 'timed_out', 'failed', 'broker_shutdown']);

/**
 * Human words for a session end reason (an unknown one gets a general sentence).
 * @param {string} reason
 * @returns {string}
 */
export function endReasonText(reason) {
  // i18n-keys: end.killed_by_client end.ended_by_engineer end.denied end.timed_out end.failed end.broker_shutdown
  return END_REASONS.includes(reason) ? t(`end.${reason}`) : t('end.other');
}

/** The protocol client for one joined session. */
export class SessionClient {
  /**
   * @param {object} deps
   * @param {{connect: (token: string) => Promise<void>, sendText: (t: string) => void,
   *   sendBinary: (b: Uint8Array) => void, close: (code?: number, reason?: string) => void}} deps.transport
   *   a transport whose handlers call {@link SessionClient#onText}, {@link SessionClient#onBinary},
   *   {@link SessionClient#onClose}
   * @param {{draw: (u: import('./codec.js').ScreenUpdate) => Promise<void>}} deps.display
   * @param {string[]|null} [deps.videoCodecs] video codecs to offer (SPEC §4.4); default:
   *   what this browser's WebCodecs decodes; [] = the tile path only
   */
  constructor({ transport, display, videoCodecs = null }) {
    this.transport = transport;
    this.display = display;
    this.videoCodecs = videoCodecs;
    /** @type {VideoStream|null} created at the first video chunk */
    this.video = null;
    /** The player's seek sets this for the chunks before the target: decode, do not draw. */
    this.skipDraw = false;
    this.listeners = new Map();
    this.sessionId = null;
    this.viewerId = null;
    this.viewerNum = 0;
    this.role = null;
    this.ticket = null;
    this.state = null;
    /** @type {Set<string>} permissions the client granted to this viewer */
    this.permissions = new Set();
    this.paused = false;
    this.ended = null;
    this.verificationCode = null;
    this.viewers = [];
    this.agreement = null;
    this.peerKeys = null;
    /** @type {e2e.FrameOpener|null} holds the content key of each epoch */
    this.opener = null;
    /** @type {Set<number>} epochs whose content key arrived */
    this.epochs = new Set();
    this.lastSeq = 0n;
    this.lastAcked = 0n;
    this.needFull = true;
    /** @type {'on'|'paused'|'off'} the broker's recording (SPEC §3.5 recording.state) */
    this.recording = 'on';
    this.lastRefreshAt = 0;
    this.drawChain = Promise.resolve();
    this.inputChain = Promise.resolve();
    this.inputSealer = null;
    this.stats = { drawn: 0, dropped: 0, refreshes: 0, inputBatches: 0 };

    /** Dispatch table: control `type` → handler. Unknown types are ignored. */
    this.handlers = {
      welcome: (m) => this._welcome(m),
      error: (m) => this.emit('error', { code: m.code, message: m.message }),
      'session.state': (m) => this._sessionState(m),
      'viewer.left': (m) => this._viewerLeft(m),
      'consent.grant': (m) => this._consent(m, 'granted'),
      'consent.deny': (m) => this._consent(m, 'denied'),
      'consent.revoke': (m) => this._consent(m, 'revoked'),
      'permission.release': (m) => this._consent(m, 'released'),
      'key.agent': (m) => this._keyAgent(m),
      'key.wrap': (m) => this._keyWrap(m),
      pause: () => this._setPaused(true),
      resume: () => this._setPaused(false),
      'mask.update': (m) => this.emit('mask', { regions: m.regions, windows: m.windows }),
      // G10: the broker relays no screen update it cannot record (SPEC §3.5).
      'recording.state': (m) => this._recordingState(m),
      'desktop.info': (m) => this.emit('desktop', m),
      chat: (m) => this.emit('chat', m),
      'log.event': (m) => this.emit('log', m.record),
      'session.ended': (m) => this._ended(m.reason, m.by),
      // Video call signalling (SPEC §3.6) goes to the page's CallClient (call.js).
      'call.start': (m) => this.emit('rtc', m),
      'rtc.offer': (m) => this.emit('rtc', m),
      'rtc.candidate': (m) => this.emit('rtc', m),
      'rtc.mute': (m) => this.emit('rtc', m),
      'rtc.hangup': (m) => this.emit('rtc', m),
    };
  }

  /**
   * Subscribe to a client event.
   * @param {string} name
   * @param {(detail: any) => void} fn
   * @returns {() => void} unsubscribe
   */
  on(name, fn) {
    if (!this.listeners.has(name)) this.listeners.set(name, new Set());
    this.listeners.get(name).add(fn);
    return () => this.listeners.get(name).delete(fn);
  }

  /**
   * Emit an event to subscribers (errors in listeners do not break the client).
   * @param {string} name
   * @param {any} detail
   */
  emit(name, detail) {
    for (const fn of this.listeners.get(name) || []) {
      try { fn(detail); } catch (e) { console.error('listener failed', name, e); }
    }
  }

  /**
   * Connect and authenticate with the join token (the transport sends `hello`).
   * @param {string} wsToken
   * @returns {Promise<void>}
   */
  connect(wsToken) {
    return this.transport.connect(wsToken);
  }

  /**
   * Send one control message.
   * @param {{type: string} & Record<string, unknown>} msg
   */
  send(msg) {
    this.transport.sendText(codec.serializeControl(msg));
  }

  /* -------------------------------------------------------- incoming */

  /**
   * A text frame from the transport.
   * @param {string} text
   */
  onText(text) {
    let msg;
    try {
      msg = codec.parseControl(text);
    } catch (e) {
      this.emit('error', { code: e.code || 'malformed_json', message: e.message });
      return;
    }
    const handler = Object.prototype.hasOwnProperty.call(this.handlers, msg.type) ? this.handlers[msg.type] : null;
    if (!handler) return; // unknown opcodes are ignored
    try {
      const r = handler(msg);
      if (r && typeof r.catch === 'function') r.catch((e) => this.emit('error', { code: 'client', message: e.message }));
    } catch (e) {
      this.emit('error', { code: 'client', message: e.message });
    }
  }

  /**
   * A binary frame from the transport.
   * @param {ArrayBuffer} data
   */
  onBinary(data) {
    let frame;
    try {
      frame = codec.parseBinary(data);
    } catch (e) {
      this.emit('error', { code: e.code || 'malformed_binary', message: e.message });
      return;
    }
    this.onFrame(frame);
  }

  /**
   * A binary frame already parsed by codec.parseBinary (the player parses once and
   * passes it on).
   * @param {ReturnType<typeof codec.parseBinary>} frame
   */
  onFrame(frame) {
    if (frame.kind !== 'screen' && frame.kind !== 'video') return; // unknown kinds are skipped (SPEC §4)
    // Draw strictly in arrival order, one at a time.
    this.drawChain = this.drawChain.then(() => this._screenUpdate(frame)).catch((e) => {
      this.emit('error', { code: 'draw', message: e.message });
    });
  }

  /**
   * The transport closed.
   * @param {number} code
   * @param {string} reason
   */
  onClose(code, reason) {
    this.permissions.clear();
    this.emit('permissions', new Set());
    this.emit('close', { code, reason });
  }

  _welcome(m) {
    this.sessionId = m.session_id;
    this.viewerId = m.viewer_id;
    this.viewerNum = codec.viewerNumber(m.viewer_id);
    this.role = m.role;
    this.ticket = m.ticket;
    this.state = m.state;
    this.emit('welcome', m);
    this.emit('state', { state: m.state });
    if (m.state === 'ended') this._ended('ended', 'broker');
    else return this._startKeyAgreement();
    return undefined;
  }

  async _startKeyAgreement() {
    this.agreement = await e2e.ViewerKeyAgreement.create(this.sessionId, this.viewerId);
    const codecs = this.videoCodecs ?? (await supportedCodecs());
    const commit = { type: 'key.commit', commitment: codec.b64uEncode(this.agreement.commitment) };
    if (codecs.length) commit.video_codecs = codecs;
    this.send(commit);
  }

  _sessionState(m) {
    this.state = m.state;
    this.viewers = Array.isArray(m.viewers) ? m.viewers : [];
    const me = this.viewers.find((v) => v.viewer_id === this.viewerId);
    if (me && Array.isArray(me.permissions)) this._setPermissions(new Set(me.permissions));
    if (m.state === 'paused') this._setPaused(true);
    else if (m.state === 'live' && this.paused) this._setPaused(false);
    this.emit('state', { state: m.state, viewers: this.viewers });
    if (m.state === 'ended') this._ended(m.reason || 'ended', 'broker');
  }

  _viewerLeft(m) {
    // issue 19: the client allowed the engineer we handed over to — our part is over.
    if (m.viewer_id === this.viewerId && m.reason === 'transferred') {
      this.handedOver = true;
      this.emit('handed_over', m);
      return;
    }
    this.viewers = this.viewers.filter((v) => v.viewer_id !== m.viewer_id);
    this.emit('state', { state: this.state, viewers: this.viewers });
  }

  _consent(m, what) {
    if (m.viewer_id !== undefined && m.viewer_id !== this.viewerId) return;
    const perms = Array.isArray(m.permissions) ? m.permissions : [];
    const next = new Set(this.permissions);
    if (what === 'granted') perms.forEach((p) => next.add(p));
    else if (what === 'revoked' || what === 'released') perms.forEach((p) => next.delete(p));
    this._setPermissions(next);
    this.emit('consent', { result: what, permissions: perms });
  }

  _setPermissions(next) {
    const before = [...this.permissions].sort().join();
    this.permissions = next;
    if ([...next].sort().join() !== before) this.emit('permissions', new Set(next));
  }

  async _keyAgent(m) {
    if (m.viewer_id !== this.viewerId || !this.agreement) return;
    const agentPublic = codec.b64uDecode(m.agent_public);
    const { viewerPublic, keys } = await this.agreement.reveal(agentPublic);
    this.peerKeys = keys;
    this.send({ type: 'key.reveal', viewer_public: codec.b64uEncode(viewerPublic) });
    this.inputSealer = await e2e.InputSealer.create(this.sessionId, this.viewerNum, keys.inputKey);
    this.verificationCode = keys.verificationCode;
    this.emit('verification', keys.verificationCode);
  }

  async _keyWrap(m) {
    if (m.viewer_id !== this.viewerId || !this.peerKeys) return;
    const contentKey = await e2e.unwrapContentKey(
      this.peerKeys.wrapKey, this.sessionId, this.viewerId, m.epoch, codec.b64uDecode(m.wrapped_key),
    );
    await this.addContentKey(m.epoch, contentKey);
    // The agent sends a FULL update after wrapping for a new viewer; ask only when
    // updates were already skipped for want of this key.
    if (this.needFull && this.stats.dropped > 0) this._refresh(true);
  }

  /**
   * Install the content key of an epoch (from `key.wrap`, or from the audit wrap in the
   * recording player). Frames of that epoch can be opened from now on.
   * @param {number} epoch
   * @param {Uint8Array} contentKey 32 bytes
   * @returns {Promise<void>}
   */
  async addContentKey(epoch, contentKey) {
    if (this.epochs.has(epoch)) return;
    if (this.opener === null) this.opener = await e2e.FrameOpener.create(this.sessionId, epoch, contentKey);
    else await this.opener.addKey(epoch, contentKey);
    this.epochs.add(epoch);
  }

  _recordingState(m) {
    this.recording = m.state;
    this.emit('recording', m);
    if (m.state === 'on') this._refresh(true); // a new segment: start from a FULL update
  }

  _setPaused(p) {
    if (this.paused === p) return;
    this.paused = p;
    this.emit('paused', p);
    if (!p) this._refresh(true); // the screen changed while paused
  }

  _ended(reason, by) {
    if (this.ended) return;
    this.ended = { reason, by };
    this.state = 'ended';
    this.permissions.clear();
    this.emit('permissions', new Set());
    this.emit('ended', this.ended);
  }

  async _screenUpdate(frame) {
    if (this.ended) return;
    if (frame.seq <= this.lastSeq) return; // replay or reorder: never draw backwards
    const opener = this.epochs.has(frame.epoch) ? this.opener : null;
    let plaintext = null;
    if (opener) {
      try {
        plaintext = await opener.open(frame);
      } catch (e) {
        plaintext = null;
      }
    }
    if (plaintext === null) {
      // No key yet for this epoch, or it did not authenticate: skip it, but still
      // acknowledge so the broker's credit does not stall, and ask for a full frame.
      this.stats.dropped += 1;
      this.needFull = true;
      if (this.video) this.video.needKey(); // a lost chunk takes the decoder's reference with it
      this._ack(frame.seq);
      this.lastSeq = frame.seq;
      if (opener) this._refresh(false);
      return;
    }
    const gap = this.lastSeq !== 0n && frame.seq !== this.lastSeq + 1n;
    try {
      if (frame.kind === 'video') await this._drawVideo(frame, plaintext, gap);
      else await this.display.draw(codec.parseScreenUpdate(plaintext));
    } catch (e) {
      // A malformed payload or an image the browser cannot decode: skip it like an
      // unreadable frame (acknowledged, and a FULL update asked for).
      this.stats.dropped += 1;
      this.needFull = true;
      this._ack(frame.seq);
      this.lastSeq = frame.seq;
      this._refresh(false);
      // A delta chunk before its keyframe is expected after a join or a gap: not an error.
      if (e.code !== 'video') this.emit('error', { code: e.code || 'draw', message: e.message });
      return;
    }
    this.lastSeq = frame.seq;
    this.stats.drawn += 1;
    this._ack(frame.seq);
    if (frame.full) {
      this.needFull = false;
      this.lastRefreshAt = 0; // the outstanding refresh is answered: the next gap may ask again
    } else if (gap || this.needFull) {
      // A replaced update means tiles are missing: ask for a FULL one (SPEC §6).
      this.needFull = true;
      this._refresh(false);
    }
    this.emit('frame', frame.seq);
  }

  async _drawVideo(frame, plaintext, gap) {
    const chunk = codec.parseVideoChunk(plaintext);
    if (!this.video) this.video = new VideoStream(this.display);
    if (gap) this.video.needKey(); // the chunk before this one is lost: so is the reference
    if (!(await this.video.decode(chunk, frame.key, frame.seq, !this.skipDraw))) {
      throw new codec.CodecError('video', 'video chunk not decodable (waiting for a keyframe)');
    }
  }

  /** Release the video decoder (the player's seek, the end of the page). */
  dispose() {
    if (this.video) this.video.close();
    this.video = null;
  }

  _ack(seq) {
    if (seq <= this.lastAcked) return;
    this.lastAcked = seq;
    this.transport.sendBinary(codec.buildAck(seq));
  }

  _refresh(force) {
    const now = Date.now();
    if (!force && now - this.lastRefreshAt < REFRESH_THROTTLE_MS) return;
    this.lastRefreshAt = now;
    this.stats.refreshes += 1;
    this.send({ type: 'refresh' });
  }

  /* -------------------------------------------------------- outgoing */

  /** @returns {boolean} whether the client granted control to this viewer now */
  get hasControl() {
    return this.permissions.has('control') && !this.ended && !this.paused;
  }

  /**
   * Ask the client for permissions (e.g. `control`).
   * @param {string[]} permissions
   * @param {string} [note]
   */
  requestPermissions(permissions, note) {
    const msg = { type: 'permission.request', permissions };
    if (note) msg.note = note.slice(0, 200);
    this.send(msg);
  }

  /**
   * Give permissions back (e.g. release control). Takes effect locally at once.
   * @param {string[]} permissions
   */
  releasePermissions(permissions) {
    const next = new Set(this.permissions);
    permissions.forEach((p) => next.delete(p));
    this._setPermissions(next);
    this.send({ type: 'permission.release', permissions });
  }

  /**
   * Send a chat message.
   * @param {string} text
   * @returns {string|null} the text sent (cut to MAX_CHAT_CHARS), or null if nothing was sent
   */
  sendChat(text) {
    const t = text.slice(0, codec.LIMITS.MAX_CHAT_CHARS);
    if (!t.trim() || this.ended) return null;
    this.send({ type: 'chat', text: t });
    return t;
  }

  /**
   * Seal and send one input batch; dropped unless `control` is granted (G4).
   * @param {import('./codec.js').InputEvent[]} events
   * @returns {Promise<void>}
   */
  sendInput(events) {
    if (!this.hasControl || !this.inputSealer || events.length === 0) return Promise.resolve();
    const plaintext = codec.buildInputBatch(events);
    // Sealing is async (WebCrypto); chain so frames leave in seq order.
    this.inputChain = this.inputChain.then(async () => {
      if (!this.hasControl) return;
      const frame = await this.inputSealer.seal(plaintext);
      this.transport.sendBinary(frame);
      this.stats.inputBatches += 1;
    }).catch((e) => this.emit('error', { code: 'input', message: e.message }));
    return this.inputChain;
  }

  /** Ask for a full screen update now. */
  refresh() {
    this._refresh(true);
  }

  /**
   * Ask the agent to show another monitor (SPEC §3.5; applied if the client allows).
   * @param {number} monitor 1-based, 0 for all
   */
  selectMonitor(monitor) {
    this.send({ type: 'monitor.select', monitor });
  }

  /**
   * End the session over the socket (the page prefers REST `POST /sessions/{id}/end`).
   * @param {string} resolution
   */
  end(resolution) {
    this.send({ type: 'end', resolution: resolution.slice(0, 4000) });
  }

  /** Leave: close the socket. */
  close() {
    this.transport.close(1000, 'viewer left');
  }
}
