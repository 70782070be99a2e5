/**
 * The remote screen on a canvas. Knows images, rectangles and decoded video frames, not
 * the protocol.
 *
 * The canvas keeps the remote screen's real size in pixels; CSS scales it to fit its
 * container keeping the aspect ratio. {@link Display#toScreen} maps pointer coordinates on
 * the page back to remote screen coordinates. The live viewer and the recording player
 * both draw through this class.
 * @module display
 */

const MIME = { 1: 'image/jpeg', 2: 'image/png' };

/** A canvas showing the remote screen. */
export class Display {
  /**
   * @param {HTMLCanvasElement} canvas
   * @param {HTMLElement} [container] element whose size the canvas fits (default: parent)
   */
  constructor(canvas, container) {
    this.canvas = canvas;
    this.container = container || canvas.parentElement;
    this.ctx = canvas.getContext('2d', { alpha: false });
    this.width = 0;
    this.height = 0;
    this.framesDrawn = 0;
    this._observer = null;
    if (typeof ResizeObserver !== 'undefined' && this.container) {
      this._observer = new ResizeObserver(() => this.fit());
      this._observer.observe(this.container);
    }
  }

  /**
   * Set the remote screen size (clears the canvas when it changes).
   * @param {number} width
   * @param {number} height
   */
  resize(width, height) {
    if (width === this.width && height === this.height) return;
    this.width = width;
    this.height = height;
    this.canvas.width = width;
    this.canvas.height = height;
    this.ctx.fillStyle = '#000';
    this.ctx.fillRect(0, 0, width, height);
    this.fit();
  }

  /** Scale the canvas (CSS size) to fit the container, keeping the aspect ratio. */
  fit() {
    if (!this.container || !this.width || !this.height) return;
    const cw = this.container.clientWidth;
    const ch = this.container.clientHeight;
    if (!cw || !ch) return;
    const scale = Math.min(cw / this.width, ch / this.height);
    this.canvas.style.width = `${Math.floor(this.width * scale)}px`;
    this.canvas.style.height = `${Math.floor(this.height * scale)}px`;
  }

  /**
   * Decode the images of a screen update and copy its rectangles onto the canvas.
   * @param {{width: number, height: number, images: {codec: number, data: Uint8Array}[],
   *   rects: {image: number, sx: number, sy: number, dx: number, dy: number, w: number, h: number}[]}} update
   * @returns {Promise<void>} resolves once drawn
   */
  async draw(update) {
    const bitmaps = await Promise.all(
      update.images.map((img) => createImageBitmap(new Blob([img.data], { type: MIME[img.codec] || 'application/octet-stream' }))),
    );
    try {
      this.resize(update.width, update.height);
      for (const r of update.rects) {
        if (r.w > 0 && r.h > 0) this.ctx.drawImage(bitmaps[r.image], r.sx, r.sy, r.w, r.h, r.dx, r.dy, r.w, r.h);
      }
      this.framesDrawn += 1;
    } finally {
      for (const b of bitmaps) b.close();
    }
  }

  /**
   * Draw a decoded video frame (video.js) as the whole screen. The coded picture may
   * be a pixel larger than the screen (4:2:0 needs even sizes): only `width` × `height`
   * of its top-left is drawn. The caller closes the frame.
   * @param {CanvasImageSource} frame a WebCodecs VideoFrame
   * @param {number} width screen width
   * @param {number} height screen height
   */
  drawVideoFrame(frame, width, height) {
    this.resize(width, height);
    this.ctx.drawImage(frame, 0, 0, width, height, 0, 0, width, height);
    this.framesDrawn += 1;
  }

  /**
   * Map a point on the page (clientX/clientY) to remote screen coordinates.
   * @param {number} clientX
   * @param {number} clientY
   * @returns {{x: number, y: number} | null} null when outside the screen
   */
  toScreen(clientX, clientY) {
    if (!this.width || !this.height) return null;
    const box = this.canvas.getBoundingClientRect();
    if (!box.width || !box.height) return null;
    const x = Math.floor(((clientX - box.left) * this.width) / box.width);
    const y = Math.floor(((clientY - box.top) * this.height) / box.height);
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return null;
    return { x, y };
  }

  /**
   * Read back pixels (tests and diagnostics).
   * @param {number} x
   * @param {number} y
   * @param {number} w
   * @param {number} h
   * @returns {Uint8ClampedArray} RGBA
   */
  pixels(x, y, w, h) {
    return this.ctx.getImageData(x, y, w, h).data;
  }

  /** Stop watching the container size. */
  dispose() {
    if (this._observer) this._observer.disconnect();
  }
}
