/**
 * The screen as video (SPEC §4.4): WebCodecs `VideoDecoder` drawing into the Display.
 *
 * Knows codecs and decoders, not the protocol's crypto or flow control: the client
 * (client.js) opens each chunk and hands {@link VideoStream#decode} the plaintext;
 * the promise resolves once the picture is on the canvas (then the client acks it).
 * The live viewer and the recording player share this module through the client.
 *
 * Keyframes: the decoder is (re)configured on a keyframe whenever the codec or the
 * size changes; until the first keyframe, and after {@link VideoStream#needKey} (a
 * gap in seq, a frame that did not open), delta chunks are refused (`false`) so the
 * client skips them and asks for a `refresh`.
 * @module video
 */

/** WebCodecs codec strings per SPEC §4.4 codec name (MACHINE-NOTES: decoded at 1080p). */
export const CODEC_STRINGS = Object.freeze({
  vp9: 'vp09.00.40.08',
  h264: 'avc1.64002A',
  av1: 'av01.0.08M.08',
});

/** A decoded frame that has not come out after this long is given up (acked anyway). */
const OUTPUT_TIMEOUT_MS = 1000;

/**
 * The codec names this browser's WebCodecs decodes (offered in `key.commit`).
 * @param {number} [width] a size to check the decoders at (default 1920)
 * @param {number} [height] (default 1080)
 * @returns {Promise<string[]>} e.g. ['vp9', 'h264', 'av1']; [] without WebCodecs
 */
export async function supportedCodecs(width = 1920, height = 1080) {
  if (typeof VideoDecoder === 'undefined') return [];
  const out = [];
  for (const [name, codec] of Object.entries(CODEC_STRINGS)) {
    try {
      const r = await VideoDecoder.isConfigSupported({ codec, codedWidth: width, codedHeight: height, optimizeForLatency: true });
      if (r.supported) out.push(name);
    } catch {
      // an unknown codec string: not supported
    }
  }
  return out;
}

/** Decodes one video stream onto a Display. */
export class VideoStream {
  /**
   * @param {{drawVideoFrame: (f: VideoFrame, width: number, height: number) => void}} display
   */
  constructor(display) {
    this.display = display;
    /** @type {VideoDecoder|null} */
    this.decoder = null;
    this.config = null;
    this.keyNeeded = true;
    /** @type {{ts: number, width: number, height: number, resolve: (ok: boolean) => void, timer: any}[]} */
    this.pending = [];
    this.decoded = 0;
    this.errors = 0;
  }

  /** Drop delta chunks until the next keyframe (a gap: the reference is lost). */
  needKey() {
    this.keyNeeded = true;
  }

  /**
   * Decode one chunk and draw it.
   * @param {import('./codec.js').VideoChunk} chunk
   * @param {boolean} key the frame's KEY flag
   * @param {bigint} seq the frame's seq (the decoder's timestamp, so outputs map back)
   * @param {boolean} [draw] false: decode only, do not wait for nor draw the picture
   *   (the player fast-forwarding from a keyframe to the seek target, P8)
   * @returns {Promise<boolean>} true once drawn (or queued, with `draw` false); false if
   *   refused (a delta without its keyframe) or the decoder failed: the caller asks for
   *   a keyframe
   */
  async decode(chunk, key, seq, draw = true) {
    if (typeof VideoDecoder === 'undefined') return false;
    if (!key && this.keyNeeded) return false;
    const codec = CODEC_STRINGS[chunk.codecName];
    const config = this.config;
    if (!this.decoder || this.decoder.state === 'closed' || !config || config.codec !== codec ||
        config.width !== chunk.width || config.height !== chunk.height) {
      if (!key) { this.keyNeeded = true; return false; }
      this._open(codec, chunk.width, chunk.height);
    }
    const ts = Number(seq);
    const drawn = new Promise((resolve) => {
      const timer = draw ? setTimeout(() => this._settle(ts, false), OUTPUT_TIMEOUT_MS) : null;
      this.pending.push({ ts, width: chunk.width, height: chunk.height, resolve, timer, draw });
    });
    try {
      this.decoder.decode(new EncodedVideoChunk({ type: key ? 'key' : 'delta', timestamp: ts, data: chunk.data }));
    } catch (e) {
      this.errors += 1;
      this.keyNeeded = true;
      this._settle(ts, false);
    }
    if (key) this.keyNeeded = false;
    if (!draw) return !this.keyNeeded;
    const ok = await drawn;
    if (!ok) this.keyNeeded = true;
    return ok;
  }

  _open(codec, width, height) {
    this.close();
    this.decoder = new VideoDecoder({
      output: (frame) => this._output(frame),
      error: () => {
        // The decoder is closed by WebCodecs after an error: the next keyframe reopens it.
        this.errors += 1;
        this.keyNeeded = true;
        for (const p of this.pending.splice(0)) { clearTimeout(p.timer); p.resolve(false); }
      },
    });
    this.decoder.configure({ codec, codedWidth: width, codedHeight: height, optimizeForLatency: true });
    this.config = { codec, width, height };
  }

  _output(frame) {
    const p = this.pending.find((x) => x.ts === frame.timestamp);
    try {
      if (!p || p.draw) this.display.drawVideoFrame(frame, p ? p.width : frame.displayWidth, p ? p.height : frame.displayHeight);
      this.decoded += 1;
    } finally {
      frame.close();
    }
    // Outputs come in decode order (no B-frames): this one and any older are settled.
    this._settle(frame.timestamp, true);
  }

  _settle(ts, ok) {
    const keep = [];
    for (const p of this.pending) {
      if (p.ts <= ts) { if (p.timer) clearTimeout(p.timer); p.resolve(ok && p.ts === ts); } else keep.push(p);
    }
    this.pending = keep;
  }

  /** Close the decoder (a seek, the end of the session). */
  close() {
    for (const p of this.pending.splice(0)) { clearTimeout(p.timer); p.resolve(false); }
    if (this.decoder && this.decoder.state !== 'closed') {
      try { this.decoder.close(); } catch { /* already closed */ }
    }
    this.decoder = null;
    this.config = null;
    this.keyNeeded = true;
  }
}
