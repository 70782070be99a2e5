/**
 * WebSocket transport to the broker's `/ws/viewer` (protocol/SPEC.md §1).
 *
 * Knows frames, not messages: text frames go to `onText`, binary frames (ArrayBuffer) to
 * `onBinary`. The first frame sent is the `hello` with the short-lived token; credentials
 * never go in the URL.
 * @module transport
 */

/** The WebSocket subprotocol (SPEC §1). */
export const SUBPROTOCOL = 'clearpane.v1';

/** The viewer's client string sent in `hello`. */
export const CLIENT_NAME = 'clearpane-viewer/0.1';

/**
 * The viewer endpoint on the page's own origin.
 * @param {Location} [loc]
 * @returns {string}
 */
export function viewerUrl(loc = window.location) {
  const scheme = loc.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${loc.host}/ws/viewer`;
}

/** One WebSocket connection carrying Clearpane frames. */
export class Transport {
  /**
   * @param {object} handlers
   * @param {(text: string) => void} handlers.onText
   * @param {(data: ArrayBuffer) => void} handlers.onBinary
   * @param {(code: number, reason: string) => void} [handlers.onClose]
   * @param {() => void} [handlers.onOpen]
   * @param {string} [url] defaults to {@link viewerUrl}
   */
  constructor(handlers, url) {
    this.handlers = handlers;
    this.url = url || viewerUrl();
    /** @type {WebSocket|null} */
    this.ws = null;
    this.closed = false;
  }

  /**
   * Open the socket and send `hello` with the token as the first message.
   * @param {string} token the `ws_token` from `POST /api/v1/sessions/{id}/join`
   * @returns {Promise<void>} resolves once open
   */
  connect(token) {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(this.url, SUBPROTOCOL);
      ws.binaryType = 'arraybuffer';
      this.ws = ws;
      let opened = false;
      ws.onopen = () => {
        opened = true;
        ws.send(JSON.stringify({ type: 'hello', token, client: CLIENT_NAME }));
        if (this.handlers.onOpen) this.handlers.onOpen();
        resolve();
      };
      ws.onmessage = (ev) => {
        if (typeof ev.data === 'string') this.handlers.onText(ev.data);
        else this.handlers.onBinary(ev.data);
      };
      ws.onerror = () => {
        if (!opened) reject(new Error('could not connect to the broker'));
      };
      ws.onclose = (ev) => {
        this.closed = true;
        if (!opened) reject(new Error(`connection refused (${ev.code})`));
        if (this.handlers.onClose) this.handlers.onClose(ev.code, ev.reason);
      };
    });
  }

  /** @returns {boolean} whether frames can be sent now */
  get isOpen() {
    return this.ws !== null && this.ws.readyState === WebSocket.OPEN;
  }

  /**
   * Send a text frame.
   * @param {string} text
   */
  sendText(text) {
    if (this.isOpen) this.ws.send(text);
  }

  /**
   * Send a binary frame.
   * @param {Uint8Array} bytes
   */
  sendBinary(bytes) {
    if (this.isOpen) this.ws.send(bytes);
  }

  /** Bytes queued in the socket but not yet sent (for input back-pressure). */
  get bufferedAmount() {
    return this.ws ? this.ws.bufferedAmount : 0;
  }

  /**
   * Close the socket.
   * @param {number} [code]
   * @param {string} [reason]
   */
  close(code = 1000, reason = '') {
    if (this.ws && this.ws.readyState <= WebSocket.OPEN) this.ws.close(code, reason);
  }
}
