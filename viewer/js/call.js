/**
 * Face-to-face video call with the client (SPEC §3.6): the engineer's side.
 *
 * The client's agent always makes the offer, and only after the client pressed
 * "Start video call" (G2, G3): the engineer can only *ask* (`call.request`). When the
 * `rtc.offer` arrives, this module opens the engineer's own camera and microphone,
 * answers, and trickles its ICE candidates as `rtc.candidate`. Either side mutes
 * (`rtc.mute`) or hangs up (`rtc.hangup`); the session ending ends the call.
 *
 * Layers: `CallClient` knows the protocol and RTCPeerConnection, no DOM;
 * `createCallPanel` draws it (createElement/textContent only, no inline style).
 * @module call
 */

import { t } from './i18n.js';

/** Messages `CallClient.handle` consumes. */
export const CALL_TYPES = Object.freeze(['call.start', 'rtc.offer', 'rtc.candidate', 'rtc.mute', 'rtc.hangup']);

const DEFAULT_CONSTRAINTS = Object.freeze({
  audio: true,
  video: { width: { ideal: 640 }, height: { ideal: 480 }, frameRate: { ideal: 15 } },
});

/**
 * The engineer's side of one session's call.
 *
 * States: `idle` → `requested` (engineer asked) → `starting` (client started) →
 * `connecting` (answer sent) → `active` (media flowing) → `ended`.
 */
export class CallClient {
  /**
   * @param {object} opts
   * @param {(msg: {type: string} & Record<string, unknown>) => void} opts.send sends a control message (the session's channel)
   * @param {RTCIceServer[]} [opts.iceServers] STUN/TURN servers (same list as the agent's CLEARPANE_ICE_SERVERS)
   * @param {MediaStreamConstraints} [opts.constraints] the engineer's camera and microphone
   * @param {(c: MediaStreamConstraints) => Promise<MediaStream>} [opts.getUserMedia] for tests
   * @param {() => boolean} [opts.hasVideoPermission] whether this viewer holds `video`
   *   (the broker relays rtc.* only then); without it, asking sends `permission.request`
   */
  constructor({ send, iceServers = [], constraints = DEFAULT_CONSTRAINTS, getUserMedia, hasVideoPermission } = /** @type {any} */ ({})) {
    if (typeof send !== 'function') throw new TypeError('CallClient needs a send function');
    this._send = send;
    this.iceServers = iceServers;
    this.constraints = constraints;
    this._getUserMedia = getUserMedia || ((c) => navigator.mediaDevices.getUserMedia(c));
    this._hasVideo = hasVideoPermission || (() => true);
    /** @type {'idle'|'requested'|'starting'|'connecting'|'active'|'ended'} */
    this.state = 'idle';
    /** @type {RTCPeerConnection|null} */
    this.pc = null;
    /** @type {MediaStream|null} the engineer's camera and microphone */
    this.localStream = null;
    /** @type {MediaStream|null} the client's video and audio */
    this.remoteStream = null;
    this.muted = { audio: false, video: false };
    this.remoteMuted = { audio: false, video: false };
    this.endReason = '';
    /** Which of the engineer's devices the call could open (false: missing or refused). */
    this.has = { audio: true, video: true };
    /** @type {''|'no_camera'|'no_microphone'|'none'} what the panel says about missing devices */
    this.deviceNote = '';
    /**
     * The client's devices as its agent reports them (`desktop.info` capabilities
     * `camera`/`microphone`; null: not said). A missing one makes the call one-way.
     * @type {{camera: boolean|null, microphone: boolean|null}}
     */
    this.clientDevices = { camera: null, microphone: null };
    /** The session is over (ended or the connection lost): nobody left to call. */
    this.sessionOver = false;
    /** Counters for tests and diagnostics. */
    this.counters = { offers: 0, answers: 0, candidatesSent: 0, candidatesReceived: 0, calls: 0 };
    this._pendingCandidates = [];
    this._answered = false;
    this._lastStats = emptyStats();
    this._listeners = new Map();
    this._chain = Promise.resolve();
  }

  /**
   * Subscribe: `state` ({state, reason}), `remote-mute` ({audio, video}),
   * `streams` ({local, remote}), `error` ({message}).
   * @param {string} name
   * @param {(detail: any) => void} fn
   * @returns {() => void} unsubscribe
   */
  on(name, fn) {
    if (!this._listeners.has(name)) this._listeners.set(name, new Set());
    this._listeners.get(name).add(fn);
    return () => this._listeners.get(name).delete(fn);
  }

  _emit(name, detail) {
    for (const fn of this._listeners.get(name) || []) {
      try { fn(detail); } catch (e) { console.error('call listener failed', e); }
    }
  }

  /**
   * The agent said which devices the client has (SPEC §3.5 `desktop.info`).
   * @param {{camera?: boolean, microphone?: boolean}} caps
   */
  setClientDevices(caps) {
    const known = (v) => (typeof v === 'boolean' ? v : null);
    const next = { camera: known(caps && caps.camera), microphone: known(caps && caps.microphone) };
    if (next.camera === this.clientDevices.camera && next.microphone === this.clientDevices.microphone) return;
    this.clientDevices = next;
    this._emit('client-devices', { ...next });
  }

  /**
   * What the panel says about the client's missing devices ('' when both are there or
   * the agent did not say).
   * @returns {''|'no_camera'|'no_microphone'|'none'}
   */
  get clientDeviceNote() {
    const { camera, microphone } = this.clientDevices;
    if (camera === false && microphone === false) return 'none';
    if (camera === false) return 'no_camera';
    if (microphone === false) return 'no_microphone';
    return '';
  }

  _setState(state, reason = '') {
    this.state = state;
    if (reason) this.endReason = reason;
    this._emit('state', { state, reason });
  }

  /**
   * Handle one control message; returns false if it is not a call message.
   * Work is done in arrival order.
   * @param {{type: string} & Record<string, any>} msg
   * @returns {boolean}
   */
  handle(msg) {
    if (!msg || !CALL_TYPES.includes(msg.type)) return false;
    this._chain = this._chain.then(() => this._dispatch(msg)).catch((e) => {
      this._emit('error', { message: String(e && e.message || e) });
    });
    return true;
  }

  /** @returns {Promise<void>} resolves when every handled message is processed */
  settled() {
    return this._chain;
  }

  async _dispatch(msg) {
    switch (msg.type) {
      case 'call.start':
        if (this.state === 'idle' || this.state === 'requested' || this.state === 'ended') this._setState('starting');
        return;
      case 'rtc.offer':
        return this._onOffer(String(msg.sdp));
      case 'rtc.candidate':
        return this._onCandidate(msg);
      case 'rtc.mute':
        this.remoteMuted = { audio: Boolean(msg.audio), video: Boolean(msg.video) };
        this._emit('remote-mute', { ...this.remoteMuted });
        return;
      case 'rtc.hangup':
        if (this.state === 'requested') { this._setState('idle', String(msg.reason || 'declined')); return; }
        this._close(String(msg.reason || 'hangup'));
        return;
      default:
        return;
    }
  }

  /**
   * Ask the client for a call (the client's agent prompts; nothing starts by itself).
   * Without the `video` permission this asks for it (`permission.request`): the client's
   * consent prompt for `video` is the call prompt; with it, this sends `call.request`.
   */
  requestCall() {
    if (this.state !== 'idle' && this.state !== 'ended') return;
    if (this._hasVideo()) this._send({ type: 'call.request' });
    else this._send({ type: 'permission.request', permissions: ['video'], note: 'Video call' }); // i18n-ok: protocol note, the agent words the prompt
    this._setState('requested');
  }

  /** The client declined (consent.deny of `video`): back to idle. */
  requestDenied() {
    if (this.state === 'requested') this._setState('idle', 'declined');
  }

  /**
   * Mute (true) or unmute the engineer's microphone and camera, and tell the client.
   * @param {{audio: boolean, video: boolean}} muted
   */
  setMuted({ audio, video }) {
    this.muted = { audio: Boolean(audio), video: Boolean(video) };
    if (this.localStream) {
      for (const t of this.localStream.getAudioTracks()) t.enabled = !this.muted.audio;
      for (const t of this.localStream.getVideoTracks()) t.enabled = !this.muted.video;
    }
    if (this.pc) this._send({ type: 'rtc.mute', audio: this.muted.audio, video: this.muted.video });
    this._emit('state', { state: this.state, reason: '' });
  }

  /**
   * Hang up: stop the engineer's camera and microphone, close the connection, tell the client.
   * @param {string} [reason] an identifier ([A-Za-z0-9_.:-]+)
   */
  hangup(reason = 'hangup') {
    if (!this.pc && this.state !== 'starting') return;
    this._send({ type: 'rtc.hangup', reason });
    this._close(reason);
  }

  /**
   * End the call without telling the client (the session ended, or was killed).
   * @param {string} [reason]
   */
  end(reason = 'session_ended') {
    if (reason === 'session_ended' || reason === 'connection_lost') this.sessionOver = true;
    this._close(reason);
    this._emit('state', { state: this.state, reason: '' });
  }

  async _onOffer(sdp) {
    if (this.pc) this._close('renegotiated'); // one offer = one call; a new offer replaces it
    this.counters.offers += 1;
    this.counters.calls += 1;
    this._answered = false;
    this._pendingCandidates = [];
    this.muted = { audio: false, video: false };
    this.remoteMuted = { audio: false, video: false };
    const pc = new RTCPeerConnection({ iceServers: this.iceServers });
    this.pc = pc;
    this.remoteStream = new MediaStream();
    pc.onicecandidate = (e) => {
      if (!e.candidate || this.pc !== pc) return;
      const c = {
        type: 'rtc.candidate',
        candidate: e.candidate.candidate,
        sdp_mid: e.candidate.sdpMid,
        sdp_mline_index: e.candidate.sdpMLineIndex,
      };
      if (this._answered) this._sendCandidate(c); else this._pendingCandidates.push(c);
    };
    pc.ontrack = (e) => {
      if (this.pc !== pc) return;
      this.remoteStream.addTrack(e.track);
      this._emit('streams', { local: this.localStream, remote: this.remoteStream });
    };
    pc.onconnectionstatechange = () => {
      if (this.pc !== pc) return;
      if (pc.connectionState === 'connected') this._setState('active');
      else if (pc.connectionState === 'failed') this.hangup('failed');
    };
    await pc.setRemoteDescription({ type: 'offer', sdp });
    this.localStream = await this._openDevices();
    if (this.pc !== pc) { this._stopLocal(); return; } // hung up meanwhile
    if (this.localStream) for (const t of this.localStream.getTracks()) pc.addTrack(t, this.localStream);
    const answer = await pc.createAnswer();
    await pc.setLocalDescription(answer);
    if (this.pc !== pc) return;
    this._send({ type: 'rtc.answer', sdp: pc.localDescription.sdp });
    this.counters.answers += 1;
    this._answered = true;
    for (const c of this._pendingCandidates.splice(0)) this._sendCandidate(c);
    if (this.state !== 'active') this._setState('connecting');
    this._emit('streams', { local: this.localStream, remote: this.remoteStream });
  }

  /**
   * The engineer's camera and microphone; without one, audio-only or video-only; without
   * both (or refused), receive-only — the call still shows and plays the client.
   * @returns {Promise<MediaStream|null>}
   */
  async _openDevices() {
    const { audio, video } = this.constraints;
    const attempts = [[audio, video], [audio, false], [false, video]].filter(([a, v]) => a || v);
    for (const [a, v] of attempts) {
      try {
        const stream = await this._getUserMedia({ audio: a, video: v });
        this.has = { audio: stream.getAudioTracks().length > 0, video: stream.getVideoTracks().length > 0 };
        this.deviceNote = this.has.audio && this.has.video ? '' : this.has.audio ? 'no_camera' : 'no_microphone';
        return stream;
      } catch (e) { /* try with fewer devices */ }
    }
    this.has = { audio: false, video: false };
    this.deviceNote = 'none';
    return null;
  }

  _sendCandidate(c) {
    this.counters.candidatesSent += 1;
    this._send(c);
  }

  async _onCandidate(msg) {
    if (!this.pc || !msg.candidate) return;
    this.counters.candidatesReceived += 1;
    await this.pc.addIceCandidate({
      candidate: String(msg.candidate),
      sdpMid: msg.sdp_mid ?? null,
      sdpMLineIndex: msg.sdp_mline_index ?? null,
    });
  }

  _stopLocal() {
    if (this.localStream) for (const t of this.localStream.getTracks()) t.stop();
  }

  _close(reason) {
    const pc = this.pc;
    this.pc = null;
    if (pc) {
      // Keep the last counters so a test (or the panel) can compare after the end.
      this._snapshot(pc).finally(() => pc.close());
      pc.onicecandidate = pc.ontrack = pc.onconnectionstatechange = null;
    }
    this._stopLocal();
    if (this.remoteStream) for (const t of this.remoteStream.getTracks()) t.stop();
    if (pc || this.state !== 'idle') this._setState('ended', reason);
    this._emit('streams', { local: null, remote: null });
  }

  async _snapshot(pc) {
    try { this._lastStats = await readStats(pc); } catch (e) { /* closed already */ }
  }

  /**
   * Media counters: inbound video `framesDecoded`, inbound audio `packetsReceived` and
   * `totalSamplesReceived`, outbound frames, and the state of every local/remote track.
   * @returns {Promise<{framesDecoded: number, audioPackets: number, audioSamples: number,
   *   framesSent: number, connectionState: string, state: string,
   *   localTracks: {kind: string, readyState: string}[],
   *   remoteTracks: {kind: string, readyState: string}[]}>}
   */
  async stats() {
    const base = this.pc ? await readStats(this.pc).catch(() => this._lastStats) : this._lastStats;
    if (this.pc) this._lastStats = base;
    return {
      ...base,
      connectionState: this.pc ? this.pc.connectionState : 'closed',
      state: this.state,
      localTracks: trackStates(this.localStream),
      remoteTracks: trackStates(this.remoteStream),
    };
  }
}

function emptyStats() {
  return { framesDecoded: 0, audioPackets: 0, audioSamples: 0, framesSent: 0 };
}

async function readStats(pc) {
  const out = emptyStats();
  const report = await pc.getStats();
  report.forEach((s) => {
    if (s.type === 'inbound-rtp' && s.kind === 'video') out.framesDecoded += s.framesDecoded || 0;
    if (s.type === 'inbound-rtp' && s.kind === 'audio') {
      out.audioPackets += s.packetsReceived || 0;
      out.audioSamples += s.totalSamplesReceived || 0;
    }
    if (s.type === 'outbound-rtp' && s.kind === 'video') out.framesSent += s.framesSent || 0;
  });
  return out;
}

function trackStates(stream) {
  return stream ? stream.getTracks().map((t) => ({ kind: t.kind, readyState: t.readyState })) : [];
}

/** Call states (each has a `call.state.<state>` text). */
// i18n-keys: call.state.idle call.state.requested call.state.starting call.state.connecting call.state.active call.state.ended
const CALL_END_REASONS = ['killed', 'hangup', 'user_hangup', 'declined', 'failed', 'session_ended', 'connection_lost', 'disconnected', 'revoked', 'video_revoked', 'left', 'no_media', 'timeout'];

/**
 * Human words for why a call ended (an unknown reason gets a general sentence).
 * @param {string} reason
 * @returns {string}
 */
export function callEndText(reason) {
  // i18n-keys: call.end.hangup call.end.user_hangup call.end.declined call.end.failed call.end.session_ended
  // i18n-keys: call.end.connection_lost call.end.disconnected call.end.revoked call.end.video_revoked call.end.left
  // i18n-keys: call.end.no_media call.end.timeout call.end.killed
  return CALL_END_REASONS.includes(reason) ? t(`call.end.${reason}`) : t('call.end.other');
}

/**
 * Draw the call panel into `container`: the client's video, the engineer's own video,
 * "Ask the client for a call", mute microphone, camera off, hang up.
 * @param {HTMLElement} container
 * @param {CallClient} client
 * @returns {{element: HTMLElement, remoteVideo: HTMLVideoElement, localVideo: HTMLVideoElement,
 *   counters: {framesShown: number}, destroy: () => void}}
 */
export function createCallPanel(container, client) {
  const el = (tag, cls, text) => {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text) e.textContent = text;
    return e;
  };
  const root = el('section', 'call-panel');
  root.setAttribute('aria-label', t('call.title'));
  const status = el('p', 'call-status', t('call.state.idle'));
  status.setAttribute('role', 'status');
  const remoteNote = el('p', 'call-remote-muted');
  // The client's own devices: said before anyone asks for a call (and during it).
  const clientNote = el('p', 'call-client-devices');
  clientNote.id = 'call-client-devices';
  clientNote.setAttribute('role', 'status');
  clientNote.hidden = true;
  const videos = el('div', 'call-videos');
  const remoteVideo = /** @type {HTMLVideoElement} */ (el('video', 'call-remote'));
  remoteVideo.autoplay = true;
  remoteVideo.playsInline = true;
  const localVideo = /** @type {HTMLVideoElement} */ (el('video', 'call-local'));
  localVideo.autoplay = true;
  localVideo.playsInline = true;
  localVideo.muted = true; // never play the engineer's own microphone back
  videos.append(remoteVideo, localVideo);
  const buttons = el('div', 'call-buttons');
  const ask = el('button', 'call-ask', t('call.ask'));
  const mic = el('button', 'call-mic', t('call.mic.mute'));
  const cam = el('button', 'call-cam', t('call.cam.off'));
  const hang = el('button', 'call-hangup', t('call.hangup'));
  for (const b of [ask, mic, cam, hang]) b.type = 'button';
  buttons.append(ask, mic, cam, hang);
  root.append(status, clientNote, remoteNote, videos, buttons);
  container.appendChild(root);

  const counters = { framesShown: 0 };
  const onFrame = () => {
    counters.framesShown += 1;
    if (remoteVideo.srcObject) remoteVideo.requestVideoFrameCallback(onFrame);
  };

  const draw = () => {
    const s = client.state;
    const inCall = s === 'starting' || s === 'connecting' || s === 'active';
    status.textContent = s === 'ended' && client.endReason ? `${t('call.state.ended')}: ${callEndText(client.endReason)}`
      : s === 'idle' && client.endReason === 'declined' ? t('call.end.declined') : t(`call.state.${s}`);
    // After the session itself ended there is nobody to call.
    ask.hidden = inCall || s === 'requested' || client.sessionOver;
    ask.textContent = s === 'ended' ? t('call.ask_again') : t('call.ask');
    mic.hidden = cam.hidden = hang.hidden = !inCall;
    mic.textContent = client.muted.audio ? t('call.mic.unmute') : t('call.mic.mute');
    cam.textContent = client.muted.video ? t('call.cam.on') : t('call.cam.off');
    mic.disabled = !client.has.audio;
    cam.disabled = !client.has.video;
    const rm = client.remoteMuted;
    const notes = [];
    if (inCall && rm.audio && rm.video) notes.push(t('call.remote.both_off'));
    else if (inCall && rm.audio) notes.push(t('call.remote.mic_off'));
    else if (inCall && rm.video) notes.push(t('call.remote.cam_off'));
    if (inCall && client.deviceNote) notes.push(t(`call.device.${client.deviceNote}`)); // i18n-keys: call.device.no_camera call.device.no_microphone call.device.none
    remoteNote.textContent = notes.join(' ');
    const missing = client.clientDeviceNote;
    // i18n-keys: call.client.no_camera call.client.no_microphone call.client.none
    clientNote.textContent = missing ? t(`call.client.${missing}`) : '';
    clientNote.hidden = !missing;
    root.classList.toggle('call-active', inCall);
  };
  const setStreams = ({ local, remote }) => {
    if (localVideo.srcObject !== local) localVideo.srcObject = local;
    if (remoteVideo.srcObject !== remote) {
      remoteVideo.srcObject = remote;
      if (remote) {
        remoteVideo.requestVideoFrameCallback(onFrame);
        remoteVideo.play().catch(() => { /* autoplay refused until a click; the stream stays attached */ });
      }
    }
    if (local) localVideo.play().catch(() => {});
  };

  ask.addEventListener('click', () => client.requestCall());
  mic.addEventListener('click', () => client.setMuted({ audio: !client.muted.audio, video: client.muted.video }));
  cam.addEventListener('click', () => client.setMuted({ audio: client.muted.audio, video: !client.muted.video }));
  hang.addEventListener('click', () => client.hangup('hangup'));
  const offs = [client.on('state', draw), client.on('remote-mute', draw), client.on('client-devices', draw), client.on('streams', setStreams)];
  draw();

  return {
    element: root,
    remoteVideo,
    localVideo,
    counters,
    destroy() {
      for (const off of offs) off();
      root.remove();
    },
  };
}
