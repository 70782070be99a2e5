/**
 * The client's desktop as the agent describes it (SPEC §3.5 `desktop.info`): a
 * monitor picker, shown when the client lets the engineer switch, and notes for what
 * the agent cannot do there (no input, no window list, a secure prompt).
 * @module desktop
 */

import { h, clear } from './dom.js';
import { t } from './i18n.js';

/**
 * Build the picker and the notes; they follow the client's `desktop` events.
 * @param {import('./client.js').SessionClient} client
 * @param {{engineer: boolean}} opts observers never switch monitors
 * @returns {{picker: HTMLSelectElement, notes: HTMLElement}}
 */
export function desktopControls(client, opts) {
  const picker = /** @type {HTMLSelectElement} */ (h('select', {
    id: 'monitor-select', class: 'monitor-select', hidden: true, 'aria-label': t('desktop.pick'),
  }));
  const notes = h('p', { id: 'desktop-notes', class: 'desktop-notes', hidden: true });
  picker.addEventListener('change', () => client.selectMonitor(Number(picker.value)));
  client.on('desktop', (info) => {
    const monitors = Array.isArray(info.monitors) ? info.monitors : [];
    clear(picker);
    monitors.forEach((m, i) => {
      const label = t('desktop.monitor', { n: i + 1, width: m.width, height: m.height });
      picker.appendChild(h('option', { value: String(i + 1), text: label }));
    });
    picker.appendChild(h('option', { value: '0', text: t('desktop.all') }));
    picker.value = String(info.monitor);
    picker.hidden = !(opts.engineer && info.switchable && monitors.length > 1);
    picker.dataset.monitor = String(info.monitor);
    const caps = info.capabilities || {};
    const lines = [];
    if (caps.secure_prompt) lines.push(t('desktop.securePrompt'));
    if (caps.input === false) lines.push(t('desktop.noInput'));
    if (caps.windows === false) lines.push(t('desktop.noWindows'));
    notes.textContent = lines.join(' ');
    notes.hidden = lines.length === 0;
  });
  return { picker, notes };
}
