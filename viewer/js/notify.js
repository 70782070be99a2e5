/**
 * Alerts for new queue items: a short chime (Web Audio, no file), a desktop notification
 * (the Notification API, permission asked once by a button — browsers require a click)
 * and a count in the tab title. The sound choice is saved in localStorage.
 * @module notify
 */

const SOUND_KEY = 'clearpane.sound';

export class Alerts {
  /**
   * @param {string} pageName shown in the tab title after the count
   */
  constructor(pageName) {
    this.pageName = pageName;
    this.baseTitle = document.title;
    /** @type {AudioContext|null} */
    this.audio = null;
    let saved = null;
    try { saved = localStorage.getItem(SOUND_KEY); } catch (e) { /* storage disabled */ }
    this.sound = saved !== 'off';
  }

  /** @param {boolean} on */
  setSound(on) {
    this.sound = on;
    try { localStorage.setItem(SOUND_KEY, on ? 'on' : 'off'); } catch (e) { /* storage disabled */ }
    if (on) this.chime();
  }

  /** @returns {'on'|'off'|'denied'|'unsupported'} desktop notifications */
  notifyState() {
    if (typeof Notification === 'undefined') return 'unsupported';
    if (Notification.permission === 'granted') return 'on';
    if (Notification.permission === 'denied') return 'denied';
    return 'off';
  }

  /** Ask for the notification permission (from a click). */
  async askNotify() {
    if (this.notifyState() === 'off') {
      try { await Notification.requestPermission(); } catch (e) { /* refused */ }
    }
  }

  /**
   * Show the waiting count in the tab title, e.g. "(2) Queue — Clearpane".
   * @param {number} n
   */
  setCount(n) {
    document.title = n > 0 ? `(${n}) ${this.pageName} — ${this.baseTitle}` : `${this.pageName} — ${this.baseTitle}`;
  }

  /**
   * Something new arrived: chime and, when the tab is hidden, a desktop notification.
   * @param {string} title
   * @param {string} body
   */
  ring(title, body) {
    if (this.sound) this.chime();
    if (this.notifyState() === 'on' && document.visibilityState !== 'visible') {
      try {
        const n = new Notification(title, { body, tag: 'clearpane-queue' });
        n.onclick = () => { window.focus(); n.close(); };
      } catch (e) { /* notifications unavailable in this context */ }
    }
  }

  /** Two soft tones (about 0.3 s). */
  chime() {
    try {
      this.audio = this.audio || new AudioContext();
      const ctx = this.audio;
      const now = ctx.currentTime;
      for (const [freq, at] of [[880, 0], [1320, 0.14]]) {
        const osc = ctx.createOscillator();
        const gain = ctx.createGain();
        osc.frequency.value = freq;
        gain.gain.setValueAtTime(0.0001, now + at);
        gain.gain.exponentialRampToValueAtTime(0.15, now + at + 0.02);
        gain.gain.exponentialRampToValueAtTime(0.0001, now + at + 0.16);
        osc.connect(gain).connect(ctx.destination);
        osc.start(now + at);
        osc.stop(now + at + 0.18);
      }
      /** @type {any} */ (window).__clearpaneChimes = (/** @type {any} */ (window).__clearpaneChimes || 0) + 1;
    } catch (e) { /* no audio output */ }
  }

  /** The page is left: restore the title, release audio. */
  close() {
    document.title = this.baseTitle;
    if (this.audio) this.audio.close().catch(() => {});
    this.audio = null;
  }
}
