/**
 * Pointer and keyboard capture for remote control (protocol/SPEC.md §4.2).
 *
 * Events are captured ONLY while enabled (the client granted `control`, G4). They are
 * collected into batches and handed to `sendBatch(events)` at most once per animation
 * frame (pointer moves coalesce: only the latest move survives between other events).
 * The keysym mapping turns KeyboardEvent.key / code into X11 keysyms.
 * @module input
 */

/** Modifier bits (SPEC §4.2). */
export const MOD_SHIFT = 1;
export const MOD_CTRL = 2;
export const MOD_ALT = 4;
export const MOD_META = 8;

/** KeyboardEvent.key names → X11 keysyms for non-printable keys. */
const NAMED_KEYSYMS = {
  Backspace: 0xff08, Tab: 0xff09, Enter: 0xff0d, Escape: 0xff1b, Delete: 0xffff,
  Home: 0xff50, ArrowLeft: 0xff51, ArrowUp: 0xff52, ArrowRight: 0xff53, ArrowDown: 0xff54,
  PageUp: 0xff55, PageDown: 0xff56, End: 0xff57, Insert: 0xff63, Pause: 0xff13,
  ScrollLock: 0xff14, PrintScreen: 0xff61, ContextMenu: 0xff67, NumLock: 0xff7f,
  CapsLock: 0xffe5, F1: 0xffbe, F2: 0xffbf, F3: 0xffc0, F4: 0xffc1, F5: 0xffc2, F6: 0xffc3,
  F7: 0xffc4, F8: 0xffc5, F9: 0xffc6, F10: 0xffc7, F11: 0xffc8, F12: 0xffc9,
};

/** Modifier keys need the side from KeyboardEvent.code. */
const CODE_KEYSYMS = {
  ShiftLeft: 0xffe1, ShiftRight: 0xffe2, ControlLeft: 0xffe3, ControlRight: 0xffe4,
  AltLeft: 0xffe9, AltRight: 0xffea, MetaLeft: 0xffeb, MetaRight: 0xffec,
  Numpad0: 0xffb0, Numpad1: 0xffb1, Numpad2: 0xffb2, Numpad3: 0xffb3, Numpad4: 0xffb4,
  Numpad5: 0xffb5, Numpad6: 0xffb6, Numpad7: 0xffb7, Numpad8: 0xffb8, Numpad9: 0xffb9,
  NumpadMultiply: 0xffaa, NumpadAdd: 0xffab, NumpadSubtract: 0xffad, NumpadDecimal: 0xffae,
  NumpadDivide: 0xffaf, NumpadEnter: 0xff8d,
};

/**
 * X11 keysym for a keyboard event, or 0 when unknown.
 * Printable characters: Latin-1 maps directly, other Unicode to 0x01000000 + code point.
 * @param {{key: string, code: string}} ev
 * @returns {number}
 */
export function keysymFor(ev) {
  if (ev.code && CODE_KEYSYMS[ev.code] !== undefined && !(ev.code.startsWith('Numpad') && ev.key && ev.key.length === 1 && !/[0-9.*+\-/]/.test(ev.key))) {
    return CODE_KEYSYMS[ev.code];
  }
  if (NAMED_KEYSYMS[ev.key] !== undefined) return NAMED_KEYSYMS[ev.key];
  if (ev.key === 'Shift') return 0xffe1;
  if (ev.key === 'Control') return 0xffe3;
  if (ev.key === 'Alt') return 0xffe9;
  if (ev.key === 'Meta') return 0xffeb;
  if (ev.key === 'AltGraph') return 0xfe03;
  const chars = [...(ev.key || '')];
  if (chars.length === 1) {
    const cp = chars[0].codePointAt(0);
    if ((cp >= 0x20 && cp <= 0x7e) || (cp >= 0xa0 && cp <= 0xff)) return cp;
    if (cp > 0xff) return 0x01000000 + cp;
  }
  return 0;
}

/**
 * Modifier bits of an event.
 * @param {KeyboardEvent|MouseEvent} ev
 * @returns {number}
 */
export function modifiersOf(ev) {
  return (ev.shiftKey ? MOD_SHIFT : 0) | (ev.ctrlKey ? MOD_CTRL : 0) | (ev.altKey ? MOD_ALT : 0) | (ev.metaKey ? MOD_META : 0);
}

const BUTTONS = { 0: 1, 1: 2, 2: 3 };
const MAX_BATCH = 256;

/** Captures input on the screen canvas while enabled and sends it in batches. */
export class InputCapture {
  /**
   * @param {HTMLElement} target the element that receives pointer and key events (the canvas)
   * @param {{toScreen: (cx: number, cy: number) => ({x: number, y: number} | null)}} display
   * @param {(events: import('./codec.js').InputEvent[]) => void} sendBatch
   */
  constructor(target, display, sendBatch) {
    this.target = target;
    this.display = display;
    this.sendBatch = sendBatch;
    this.enabled = false;
    /** @type {import('./codec.js').InputEvent[]} */
    this.queue = [];
    this.flushScheduled = false;
    this.pressedKeys = new Map();
    this.pressedButtons = new Set();
    this.last = { x: 0, y: 0 };
    this._handlers = {
      pointermove: (e) => this._pointer(e, 'pointer_move'),
      pointerdown: (e) => this._pointer(e, 'button_down'),
      pointerup: (e) => this._pointer(e, 'button_up'),
      wheel: (e) => this._wheel(e),
      keydown: (e) => this._key(e, 'key_down'),
      keyup: (e) => this._key(e, 'key_up'),
      contextmenu: (e) => { if (this.enabled) e.preventDefault(); },
      blur: () => this._releaseAll(),
    };
    for (const [name, fn] of Object.entries(this._handlers)) {
      target.addEventListener(name, fn, name === 'wheel' ? { passive: false } : undefined);
    }
  }

  /** Start capturing (control granted). Focuses the target so keys arrive. */
  enable() {
    this.enabled = true;
    this.target.classList.add('controlling');
    this.target.tabIndex = 0;
    this.target.focus();
  }

  /** Stop capturing at once (control revoked or released); pressed keys are released. */
  disable() {
    if (this.enabled) this._releaseAll();
    this.enabled = false;
    this.queue = [];
    this.target.classList.remove('controlling');
  }

  _push(ev) {
    if (!this.enabled) return;
    const tail = this.queue[this.queue.length - 1];
    if (ev.type === 'pointer_move' && tail && tail.type === 'pointer_move') this.queue[this.queue.length - 1] = ev;
    else this.queue.push(ev);
    if (this.queue.length >= MAX_BATCH) this.flush();
    else if (!this.flushScheduled) {
      this.flushScheduled = true;
      setTimeout(() => this.flush(), 16);
    }
  }

  /** Send what is queued now. */
  flush() {
    this.flushScheduled = false;
    if (!this.enabled || this.queue.length === 0) { this.queue = []; return; }
    const batch = this.queue.splice(0, MAX_BATCH);
    this.sendBatch(batch);
    if (this.queue.length) this.flush();
  }

  _pointer(e, kind) {
    if (!this.enabled) return;
    const p = this.display.toScreen(e.clientX, e.clientY);
    if (kind === 'button_down') { this.target.focus(); e.preventDefault(); }
    if (!p) return;
    this.last = p;
    if (kind === 'pointer_move') { this._push({ type: 'pointer_move', x: p.x, y: p.y }); return; }
    const button = BUTTONS[e.button];
    if (!button) return;
    if (kind === 'button_down') this.pressedButtons.add(button); else this.pressedButtons.delete(button);
    this._push({ type: kind, x: p.x, y: p.y, button });
  }

  _wheel(e) {
    if (!this.enabled) return;
    e.preventDefault();
    const p = this.display.toScreen(e.clientX, e.clientY) || this.last;
    // Lines of scrolling: one notch ≈ 100 px in Chromium; keep the sign.
    const unit = e.deltaMode === 1 ? 1 : e.deltaMode === 2 ? 10 : 1 / 100;
    const clamp = (v) => Math.max(-32768, Math.min(32767, Math.round(v * unit) || Math.sign(v)));
    this._push({ type: 'wheel', x: p.x, y: p.y, dx: clamp(e.deltaX), dy: clamp(e.deltaY) });
  }

  _key(e, type) {
    if (!this.enabled) return;
    // The keyboard way out of the remote screen (never sent to the client): Shift+Escape
    // releases the keys held and moves the focus to the next control of the page.
    if (e.key === 'Escape' && e.shiftKey && !e.ctrlKey && !e.altKey) {
      e.preventDefault();
      e.stopPropagation();
      if (type === 'key_down') {
        this._releaseAll();
        this.target.blur();
        this.target.dispatchEvent(new CustomEvent('clearpane:leave-screen', { bubbles: true }));
      }
      return;
    }
    const keysym = keysymFor(e);
    e.preventDefault();
    e.stopPropagation();
    if (!keysym) return;
    if (type === 'key_down') this.pressedKeys.set(e.code || String(keysym), keysym);
    else this.pressedKeys.delete(e.code || String(keysym));
    this._push({ type, keysym, modifiers: modifiersOf(e) });
  }

  _releaseAll() {
    if (!this.enabled) return;
    for (const keysym of this.pressedKeys.values()) this.queue.push({ type: 'key_up', keysym, modifiers: 0 });
    for (const button of this.pressedButtons) this.queue.push({ type: 'button_up', x: this.last.x, y: this.last.y, button });
    this.pressedKeys.clear();
    this.pressedButtons.clear();
    this.flush();
  }

  /** Remove all listeners. */
  dispose() {
    this.disable();
    for (const [name, fn] of Object.entries(this._handlers)) this.target.removeEventListener(name, fn);
  }
}
