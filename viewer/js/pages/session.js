/**
 * Live session page: the remote screen, verification code, chat, the session log as the
 * client sees it, control request/release, and unmistakable overlays for consent, pause
 * and end. Engineers end with a resolution note; observers (supervisors) only watch.
 * @module pages/session
 */

import * as api from '../api.js';
import { Transport } from '../transport.js';
import { Display } from '../display.js';
import { SessionClient, endReasonText } from '../client.js';
import { InputCapture } from '../input.js';
import { CallClient, createCallPanel } from '../call.js';
import { desktopControls } from '../desktop.js';
import { transferSection } from './routing.js'; // issue 19
import { h, clear, pick, chip, stateChip, clock, toast } from '../dom.js';
import { t, has } from '../i18n.js';

/** People's words for log events (audit/ event names): `event.<name>` keys. */
// i18n-keys: event.session.requested event.session.started event.viewer.joined event.viewer.left
// i18n-keys: event.consent.requested event.consent.granted event.consent.denied event.consent.revoked
// i18n-keys: event.permission.released event.input.applied event.input.dropped event.chat.sent
// i18n-keys: event.session.paused event.session.resumed event.mask.changed event.call.started
// i18n-keys: session.perm.view session.perm.control session.perm.video
// i18n-keys: event.call.ended event.kill.triggered event.session.ended event.checkpoint.signed
/**
 * @param {string} event
 * @returns {string}
 */
export function eventLabel(event) {
  return has(`event.${event}`) ? t(`event.${event}`) : event;
}

/**
 * A short, plain-text summary of a log record's detail (never markup).
 * @param {any} detail
 * @returns {string}
 */
export function detailText(detail) {
  if (detail === null || detail === undefined) return '';
  if (typeof detail !== 'object') return String(detail);
  return Object.entries(detail)
    .filter(([, v]) => v !== null && v !== undefined && v !== '')
    .map(([k, v]) => `${k.replace(/_/g, ' ')}: ${Array.isArray(v) ? v.join(', ') : typeof v === 'object' ? JSON.stringify(v) : v}`)
    .join(' · ');
}

/** Retry interval while the client's agent is not connected (close code 1013). */
const RETRY_MS = 3000;

/**
 * The first 8 characters of a long identifier, for headings.
 * @param {string} [id]
 * @returns {string}
 */
function shortId(id) {
  if (!id) return '—';
  return id.length > 12 ? `${id.slice(0, 8)}…` : id;
}

/**
 * Render the live session page and join the session.
 * @param {HTMLElement} root
 * @param {Record<string, string>} params `id`, optional `as` = observer
 * @param {any} app
 * @returns {() => void} cleanup
 */
export function renderSession(root, params, app) {
  const sessionId = params.id;
  const as = params.as === 'observer' ? 'observer' : 'engineer';
  const isObserver = as === 'observer';

  /* ------------------------------------------------------------ layout */
  const title = h('h1', { class: 'session-title', id: 'session-title', text: t('session.title') });
  const subtitle = h('p', { class: 'session-sub muted', id: 'session-sub' });
  const stateBox = h('span', { id: 'session-state' }, stateChip('requested'));
  const roleChip = chip(isObserver ? t('session.role.observer') : t('session.role.engineer'), isObserver ? 'accent' : 'info');
  roleChip.id = 'session-role';
  // The code is read digit by digit (a screen reader would say "four hundred twelve"):
  // the visible groups are hidden from it, a spaced copy is read instead.
  const verifySpoken = h('span', { class: 'visually-hidden', id: 'verify-code-spoken' });
  const verify = h('div', { class: 'verify', id: 'verify', hidden: true, title: t('session.verify.hint') },
    h('span', { class: 'verify-label', text: t('session.verify.label') }),
    h('span', { class: 'verify-code', id: 'verify-code', 'aria-hidden': 'true' }), verifySpoken);
  // Status changes for screen readers (issue 22): consent, pause, end, the client's chat.
  const announcer = h('p', { class: 'visually-hidden', id: 'session-announce', 'aria-live': 'polite', 'aria-atomic': 'true' });
  const announce = (text) => {
    // A repeated text must be read again: clear first, then set on the next frame.
    announcer.textContent = '';
    requestAnimationFrame(() => { announcer.textContent = text; });
  };
  const permsBox = h('span', { class: 'perms', id: 'perms' });
  const btnControl = h('button', { type: 'button', class: 'btn btn-primary', id: 'btn-control', text: t('session.control.request'), disabled: true, hidden: isObserver });
  const btnCad = h('button', { type: 'button', class: 'btn btn-ghost', id: 'btn-cad', text: 'Ctrl+Alt+Del', hidden: true, title: t('session.cad.hint') }); // i18n-ok: key names, the same in every language
  const btnRefresh = h('button', { type: 'button', class: 'btn btn-ghost', id: 'btn-refresh', text: t('session.refresh'), title: t('session.refresh.hint') });
  const btnFull = h('button', { type: 'button', class: 'btn btn-ghost', id: 'btn-fullscreen', text: t('session.fullscreen') });
  const btnEnd = h('button', { type: 'button', class: 'btn btn-danger', id: 'btn-end', text: t('session.end'), hidden: isObserver });
  const btnLeave = h('button', { type: 'button', class: 'btn btn-secondary', id: 'btn-leave', text: t('session.leave') });

  const canvas = h('canvas', { id: 'screen', class: 'screen', width: '1', height: '1', 'aria-label': t('session.screen') });
  const overlayIcon = h('div', { class: 'overlay-icon', 'aria-hidden': 'true' });
  const overlayTitle = h('h2', { class: 'overlay-title', id: 'overlay-title' });
  const overlayText = h('p', { class: 'overlay-text', id: 'overlay-text' });
  const overlayActions = h('div', { class: 'overlay-actions' });
  const overlay = h('div', { class: 'overlay', id: 'overlay', role: 'alert' }, overlayIcon, overlayTitle, overlayText, overlayActions);
  const controlBanner = h('div', { class: 'control-banner', id: 'control-banner', hidden: true, text: t('session.control.banner') });
  const maskNote = h('div', { class: 'mask-note', id: 'mask-note', hidden: true });
  const stage = h('div', { class: 'stage', id: 'stage' }, canvas, overlay, controlBanner, maskNote);

  // Not a live region itself: the announcer reads the client's messages, not our own.
  // Focusable: a keyboard user scrolls it (WCAG 2.1.1, axe scrollable-region-focusable).
  const chatList = h('ol', { class: 'chat-list', id: 'chat-list', 'aria-label': t('session.tab.chat'), tabindex: '0' });
  const chatInput = h('textarea', { id: 'chat-input', rows: '2', maxlength: '4000', placeholder: t('session.chat.placeholder'), 'aria-label': t('session.chat.label') });
  const chatSend = h('button', { type: 'submit', class: 'btn btn-primary', id: 'chat-send', text: t('session.chat.send') });
  const canned = h('select', { id: 'chat-canned', class: 'chat-canned', 'aria-label': t('session.canned.label'), hidden: true },
    h('option', { value: '', text: t('session.canned.pick') }));
  canned.addEventListener('change', () => {
    if (canned.value) {
      chatInput.value = canned.value;
      chatInput.focus();
      canned.value = '';
    }
  });
  if (!isObserver) {
    api.cannedReplies().then((data) => {
      for (const r of api.listOf(data, 'replies')) canned.appendChild(h('option', { value: r.text, text: r.title }));
      canned.hidden = canned.options.length < 2;
    }).catch(() => { /* no replies: the picker stays hidden */ });
  }
  const chatForm = h('form', { class: 'chat-form', id: 'chat-form' }, canned, chatInput, chatSend);
  const logList = h('ol', { class: 'log-list', id: 'log-list', 'aria-label': t('session.tab.log'), tabindex: '0' });
  const tabChat = h('button', { type: 'button', class: 'tab active', id: 'tab-chat', role: 'tab', 'aria-selected': 'true', 'aria-controls': 'pane-chat', text: t('session.tab.chat') });
  const tabLog = h('button', { type: 'button', class: 'tab', id: 'tab-log', role: 'tab', 'aria-selected': 'false', 'aria-controls': 'pane-log', tabindex: '-1', text: t('session.tab.log') });
  const paneChat = h('div', { class: 'pane', id: 'pane-chat', role: 'tabpanel', 'aria-labelledby': 'tab-chat' }, chatList, chatForm);
  const paneLog = h('div', { class: 'pane', id: 'pane-log', hidden: true, role: 'tabpanel', 'aria-labelledby': 'tab-log' },
    h('p', { class: 'muted small', text: t('session.log.hint') }), logList);
  const viewersBox = h('ul', { class: 'viewers', id: 'viewers' });
  const callBox = h('div', { class: 'sidebar-section call-box', id: 'call-box', hidden: isObserver }, h('h3', { text: t('call.title') }));

  const resolution = h('textarea', { id: 'resolution', rows: '5', maxlength: '4000', required: true, placeholder: t('session.resolution.placeholder') });
  const endError = h('p', { class: 'form-error', hidden: true });
  const endConfirm = h('button', { type: 'submit', class: 'btn btn-danger', id: 'end-confirm', text: t('session.end') });
  const endCancel = h('button', { type: 'button', class: 'btn btn-ghost', id: 'end-cancel', text: t('common.cancel') });
  const endDialog = h('dialog', { class: 'dialog', id: 'end-dialog' },
    h('form', { method: 'dialog', id: 'end-form' },
      h('h2', { text: t('session.end.title') }),
      h('label', { for: 'resolution', text: t('session.resolution') }), resolution, endError,
      h('div', { class: 'dialog-actions' }, endCancel, endConfirm)));

  root.appendChild(h('section', { class: 'session-page' }, announcer,
    h('div', { class: 'session-bar' },
      h('div', { class: 'session-row' },
        h('a', { href: '#/queue', class: 'back', text: t('session.back') }),
        h('div', { class: 'session-heading' }, title, subtitle),
        h('div', { class: 'session-status' }, stateBox, roleChip, permsBox, verify)),
      h('div', { class: 'session-toolbar' },
        h('div', { class: 'session-actions' }, btnControl, btnCad, btnRefresh, btnFull),
        h('div', { class: 'session-actions' }, btnLeave, btnEnd))),
    h('div', { class: 'session-body' },
      stage,
      h('aside', { class: 'sidebar' },
        h('div', { class: 'sidebar-section' }, h('h3', { text: t('session.people') }), viewersBox),
        isObserver ? null : transferSection(sessionId, app), // issue 19: transfer, invite
        callBox,
        h('div', { class: 'tabs', role: 'tablist' }, tabChat, tabLog),
        paneChat, paneLog)),
    endDialog));

  let left = false;
  let retryTimer = null;

  /* ------------------------------------------------------------ overlay */
  const showOverlay = (kind, heading, text, actions = []) => {
    overlay.dataset.kind = kind;
    overlay.hidden = false;
    overlayTitle.textContent = heading;
    overlayText.textContent = text || '';
    clear(overlayActions);
    overlayActions.append(...actions);
  };
  const hideOverlay = () => {
    overlay.hidden = true;
    overlay.dataset.kind = '';
  };
  showOverlay('connecting', t('session.connecting'), t('session.connecting.text'));

  /* ------------------------------------------------------------ client */
  const display = new Display(canvas, stage);
  let client = null;
  const transport = new Transport({
    onText: (text) => client.onText(text),
    onBinary: (b) => client.onBinary(b),
    onClose: (code, reason) => client.onClose(code, reason),
  });
  client = new SessionClient({ transport, display });
  // desktop: the client's monitors and what its agent can do there (SPEC §3.5).
  const desk = desktopControls(client, { engineer: !isObserver });
  btnRefresh.after(desk.picker);
  stage.appendChild(desk.notes);
  const input = new InputCapture(canvas, display, (events) => client.sendInput(events));
  // Observers watch only: no call (the broker relays rtc.* only for a viewer holding video).
  const call = isObserver ? null : new CallClient({
    send: (m) => client.send(m),
    hasVideoPermission: () => client.permissions.has('video'),
  });
  const callPanel = call ? createCallPanel(callBox, call) : null;
  if (call) {
    client.on('rtc', (m) => call.handle(m));
    client.on('desktop', (info) => call.setClientDevices(info.capabilities || {}));
    call.on('error', (e) => toast(t('call.error', { message: e.message }), 'error'));
  }
  let controlAsked = false;
  let viewGranted = false;
  let clientName = t('session.the_client');

  const paintState = () => {
    clear(stateBox);
    stateBox.appendChild(stateChip(client.state || 'requested'));
    document.body.dataset.sessionState = client.state || '';
  };

  const paintPerms = (perms) => {
    clear(permsBox);
    for (const p of ['view', 'control', 'video']) if (perms.has(p)) permsBox.appendChild(chip(t(`session.perm.${p}`), p === 'control' ? 'accent' : 'ok'));
    const control = perms.has('control') && !client.ended;
    if (control && !client.paused) input.enable(); else input.disable();
    controlBanner.hidden = !control;
    btnCad.hidden = !control;
    stage.classList.toggle('in-control', control);
    btnControl.disabled = client.ended !== null || !viewGranted || (controlAsked && !control);
    btnControl.textContent = control ? t('session.control.release') : controlAsked ? t('session.control.waiting') : t('session.control.request');
    btnControl.classList.toggle('btn-warning', control);
    btnControl.classList.toggle('btn-primary', !control); // one colour pair at a time (contrast)
    btnControl.dataset.mode = control ? 'release' : 'request';
  };

  const paintOverlay = () => {
    if (client.handedOver) return; // issue 19: the "handed over" overlay stays
    if (client.ended) {
      const reason = client.ended.reason;
      const text = endReasonText(reason);
      const link = client.ticket && client.ticket.id ? h('a', { class: 'btn btn-secondary', href: `#/ticket/${encodeURIComponent(client.ticket.id)}`, text: t('session.open_ticket') }) : null;
      showOverlay(reason === 'killed_by_client' ? 'killed' : 'ended', text,
        reason === 'killed_by_client' ? t('session.killed.text', { name: clientName }) : t('session.ended.text'),
        [link, h('a', { class: 'btn btn-ghost', href: '#/queue', text: t('session.back_to_queue') })]);
      return;
    }
    if (client.recording === 'paused') {
      showOverlay('paused', t('session.recording.paused.title'), t('session.recording.paused.text'));
      return;
    }
    if (client.paused || client.state === 'paused') {
      showOverlay('paused', t('session.paused'), t('session.paused.text', { name: clientName }));
      return;
    }
    if (!viewGranted && client.state === 'requested') {
      showOverlay('consent', t('session.wait_connect'), t('session.wait_connect.text', { name: clientName }));
      return;
    }
    if (!viewGranted) {
      showOverlay('consent', t('session.wait_consent'), t('session.wait_consent.text', { name: clientName }));
      return;
    }
    if (display.framesDrawn === 0) {
      showOverlay('loading', t('session.loading'), t('session.loading.text'));
      return;
    }
    hideOverlay();
  };

  client.on('welcome', (m) => {
    const tk = m.ticket || {};
    title.textContent = tk.title || t('session.title');
    // Names, not ids (the ids stay in the tooltip for support).
    subtitle.textContent = t('session.sub_named', { client: clientName });
    subtitle.title = t('session.sub', { ticket: shortId(tk.id), session: shortId(m.session_id) });
    subtitle.title = t('session.sub', { ticket: tk.id || '—', session: m.session_id });
    paintState();
    paintOverlay();
  });
  client.on('state', (s) => {
    paintState();
    clear(viewersBox);
    for (const v of s.viewers || client.viewers) {
      viewersBox.appendChild(h('li', {},
        h('span', { class: 'viewer-name', text: v.viewer_id === client.viewerId ? t('session.you_named', { name: v.name || t('session.you') }) : v.name || v.viewer_id }),
        chip(v.role === 'observer' ? t('session.role.observer') : t('session.role.engineer'), v.role === 'observer' ? 'accent' : 'info')));
    }
    if (!viewersBox.firstChild) viewersBox.appendChild(h('li', { class: 'muted', text: t('session.connecting') }));
    paintOverlay();
  });
  client.on('permissions', (perms) => {
    viewGranted = perms.has('view');
    if (perms.has('control')) controlAsked = false;
    paintPerms(perms);
    paintOverlay();
  });
  client.on('consent', ({ result, permissions }) => {
    const what = permissions.map((p) => t(`perm.${p}`)).join(', '); // i18n-keys: perm.view perm.control perm.video
    // i18n-keys: session.announce.granted session.announce.denied session.announce.revoked
    if (['granted', 'denied', 'revoked'].includes(result)) announce(t(`session.announce.${result}`, { name: clientName, what }));
    if (result === 'denied' && permissions.includes('control')) {
      controlAsked = false;
      toast(t('session.control.declined'), 'error');
    } else if (result === 'denied' && permissions.includes('view')) {
      showOverlay('denied', t('session.declined'), t('session.declined.text'), [h('a', { class: 'btn btn-ghost', href: '#/queue', text: t('session.back_to_queue') })]);
    } else if (result === 'revoked' && permissions.includes('control')) {
      toast(t('session.control.revoked'), 'info');
    } else if (result === 'granted' && permissions.includes('control')) {
      toast(t('session.control.granted'), 'ok');
    }
    if (call && permissions.includes('video')) {
      // The client's consent prompt for `video` is the call prompt (call.js); the
      // agent then starts the call (call.start, rtc.offer).
      if (result === 'denied') call.requestDenied();
      else if (result === 'revoked') call.end('revoked');
    }
    paintPerms(client.permissions);
    if (!(result === 'denied' && permissions.includes('view'))) paintOverlay();
  });
  client.on('recording', () => paintOverlay());
  client.on('paused', () => {
    paintPerms(client.permissions); paintOverlay(); paintState();
    announce(client.paused ? t('session.announce.paused', { name: clientName }) : t('session.announce.resumed', { name: clientName }));
  });
  client.on('ended', () => {
    input.disable();
    if (call) call.end('session_ended');
    paintPerms(new Set());
    paintState();
    paintOverlay();
    btnEnd.disabled = true;
    chatSend.disabled = true;
    btnLeave.textContent = t('common.close');
    announce(t('session.announce.ended', { reason: endReasonText(client.ended ? client.ended.reason : '') }));
  });
  client.on('verification', (code) => {
    verify.hidden = false;
    document.getElementById('verify-code').textContent = code;
    verifySpoken.textContent = String(code).replace(/\D/g, '').split('').join(' '); // digits: the same in every language
  });
  client.on('frame', (seq) => {
    canvas.dataset.frames = String(display.framesDrawn);
    canvas.dataset.seq = String(seq);
    if (overlay.dataset.kind === 'loading') paintOverlay();
  });
  client.on('mask', (m) => {
    const n = (m.regions || 0) + (m.windows || 0);
    maskNote.hidden = n === 0;
    maskNote.textContent = t('session.masked', { windows: t('session.masked.windows', { count: m.windows || 0 }), regions: t('session.masked.regions', { count: m.regions || 0 }) });
  });
  const addChat = (m, local) => {
    const from = m.from || {};
    const mine = from.kind === 'viewer' && from.viewer_id === client.viewerId;
    // The broker does not echo our own messages; they are shown when sent.
    if (mine && !local) return;
    const who = mine ? t('session.you') : from.kind === 'agent' ? from.name || clientName : from.name || t('session.role.engineer');
    if (from.kind === 'agent' && from.name) clientName = from.name;
    chatList.appendChild(h('li', { class: `chat-msg ${mine ? 'mine' : from.kind === 'agent' ? 'theirs' : 'other'}` },
      h('div', { class: 'chat-head' }, h('span', { class: 'chat-who', text: who }), h('span', { class: 'chat-time', text: clock(m.at_ms || Date.now()) })),
      h('div', { class: 'chat-text', text: m.text })));
    chatList.scrollTop = chatList.scrollHeight;
    if (!mine && paneChat.hidden) tabChat.classList.add('unread');
    if (!mine) announce(t('session.announce.chat', { name: who, text: m.text }));
  };
  client.on('chat', (m) => addChat(m, false));
  const seenLog = new Set();
  client.on('log', (r) => {
    if (!r) return;
    const key = `${r.seq}:${r.hash || ''}`;
    if (seenLog.has(key)) return; // the REST backlog and the live feed may overlap
    seenLog.add(key);
    const event = String(r.event || '');
    logList.appendChild(h('li', { class: `log-item ev-${event.replace(/[^a-z0-9]/gi, '-')}`, dataset: { event, seq: String(r.seq ?? '') } },
      h('span', { class: 'log-time', text: clock(r.at_ms) }),
      h('span', { class: 'log-event', text: eventLabel(event) }),
      h('span', { class: 'log-actor', text: typeof r.actor === 'object' ? pick(r.actor, 'name', 'id') || '' : r.actor || '' }),
      h('span', { class: 'log-detail', text: detailText(r.detail) })));
    logList.scrollTop = logList.scrollHeight;
  });
  client.on('error', (e) => {
    if (!client.sessionId) return; // before welcome the close reason says it all
    if (e.code === 'forbidden' || e.code === 'not_granted' || e.code === 'wrong_state') toast(api.errorText(e.code, e.message) || e.code, 'error');
    else console.warn('clearpane:', e.code, e.message);
  });
  client.on('handed_over', () => {
    input.disable();
    // Nothing here acts on the session any more: the new engineer has it.
    for (const el of [btnEnd, btnControl, btnCad]) el.hidden = true;
    root.querySelector('#handover-box')?.remove();
    showOverlay('ended', t('handover.done.title'), t('handover.done.text'),
      [h('a', { class: 'btn btn-primary', href: '#/queue', text: t('session.back_to_queue') })]);
  });
  client.on('close', ({ code, reason }) => {
    input.disable();
    if (call) call.end('connection_lost');
    if (client.handedOver) return; // the overlay says the session was handed over
    if (!client.ended && code === 1013 && !left) {
      // The broker says "try again later": the client's agent is not connected yet.
      showOverlay('consent', t('session.wait_connect'), t('session.wait_connect.retry', { name: clientName }),
        [h('a', { class: 'btn btn-ghost', href: '#/queue', text: t('session.back_to_queue') })]);
      retryTimer = setTimeout(() => { if (!left) app.route(); }, RETRY_MS);
      return;
    }
    if (!client.ended) {
      showOverlay('lost', code === 4401 ? t('session.unauthorised') : t('session.lost'),
        reason || t('session.lost.text'), // i18n-ok: the broker's close reason
        [h('button', { type: 'button', class: 'btn btn-primary', text: t('session.rejoin'), on: { click: () => app.route() } }),
          h('a', { class: 'btn btn-ghost', href: '#/queue', text: t('session.back_to_queue') })]);
    }
  });

  /* ------------------------------------------------------------ actions */
  btnControl.addEventListener('click', () => {
    if (client.permissions.has('control')) {
      input.disable();
      client.releasePermissions(['control']);
    } else {
      controlAsked = true;
      client.requestPermissions(['control']);
    }
    paintPerms(client.permissions);
  });
  btnRefresh.addEventListener('click', () => client.refresh());
  btnCad.addEventListener('click', () => {
    // Browsers never deliver this combination to a page, so it gets a button.
    const [ctrl, alt, del] = [0xffe3, 0xffe9, 0xffff];
    client.sendInput([
      { type: 'key_down', keysym: ctrl, modifiers: 0 },
      { type: 'key_down', keysym: alt, modifiers: 2 },
      { type: 'key_down', keysym: del, modifiers: 6 },
      { type: 'key_up', keysym: del, modifiers: 6 },
      { type: 'key_up', keysym: alt, modifiers: 6 },
      { type: 'key_up', keysym: ctrl, modifiers: 2 },
    ]);
  });
  btnFull.addEventListener('click', () => {
    if (document.fullscreenElement) document.exitFullscreen();
    else stage.requestFullscreen().catch(() => toast(t('session.fullscreen.unavailable'), 'error'));
  });
  btnLeave.addEventListener('click', () => app.navigate('#/queue'));
  btnEnd.addEventListener('click', () => {
    endError.hidden = true;
    endDialog.showModal();
    resolution.focus();
  });
  endCancel.addEventListener('click', () => endDialog.close());
  endDialog.querySelector('form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const note = resolution.value.trim();
    if (!note) {
      endError.textContent = t('session.resolution.required');
      endError.hidden = false;
      return;
    }
    endConfirm.disabled = true;
    try {
      await api.endSession(sessionId, note);
      endDialog.close();
    } catch (e) {
      endError.textContent = e.message;
      endError.hidden = false;
    } finally {
      endConfirm.disabled = false;
    }
  });
  chatForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const text = chatInput.value;
    if (!text.trim() || client.ended) return;
    const sentText = client.sendChat(text);
    if (sentText) addChat({ text: sentText, at_ms: Date.now(), from: { kind: 'viewer', viewer_id: client.viewerId } }, true);
    chatInput.value = '';
  });
  chatInput.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && !ev.shiftKey) { ev.preventDefault(); chatForm.requestSubmit(); }
  });
  const selectTab = (chat) => {
    tabChat.classList.toggle('active', chat);
    tabLog.classList.toggle('active', !chat);
    // WAI-ARIA tabs: the selected tab is the one Tab reaches; arrows switch (below).
    tabChat.setAttribute('aria-selected', String(chat));
    tabLog.setAttribute('aria-selected', String(!chat));
    tabChat.tabIndex = chat ? 0 : -1;
    tabLog.tabIndex = chat ? -1 : 0;
    paneChat.hidden = !chat;
    paneLog.hidden = chat;
    if (chat) tabChat.classList.remove('unread');
  };
  tabChat.addEventListener('click', () => selectTab(true));
  tabLog.addEventListener('click', () => selectTab(false));
  for (const tab of [tabChat, tabLog]) {
    tab.addEventListener('keydown', (ev) => {
      if (ev.key !== 'ArrowLeft' && ev.key !== 'ArrowRight') return;
      ev.preventDefault();
      selectTab(tab === tabLog);
      (tab === tabLog ? tabChat : tabLog).focus();
    });
  }

  /* ------------------------------------------------------------ keyboard shortcuts */
  // Single keys work while the focus is not in a text field and not on the remote
  // screen under control (there every key belongs to the client; Shift+Escape leaves).
  const keysList = h('dl', { class: 'shortcut-list' },
    // i18n-keys: session.keys.help session.keys.chat session.keys.log session.keys.control session.keys.full session.keys.call session.keys.refresh session.keys.leave session.keys.screen
    [['?', 'help'], ['C', 'chat'], ['L', 'log'], ['R', 'control'], ['F', 'full'], ['V', 'call'], ['U', 'refresh'], ['S', 'screen'], ['Shift+Esc', 'leave']]
      .map(([key, what]) => [h('dt', {}, h('kbd', { text: key })), h('dd', { text: t(`session.keys.${what}`) })]));
  const keysClose = h('button', { type: 'button', class: 'btn btn-primary', id: 'keys-close', text: t('common.close') });
  const keysDialog = h('dialog', { class: 'dialog', id: 'keys-dialog', 'aria-labelledby': 'keys-title' },
    h('h2', { id: 'keys-title', text: t('session.keys.title') }), keysList,
    h('div', { class: 'dialog-actions' }, keysClose));
  keysClose.addEventListener('click', () => keysDialog.close());
  root.appendChild(keysDialog);
  const btnKeys = h('button', { type: 'button', class: 'btn btn-ghost', id: 'btn-keys', text: t('session.keys.button'), 'aria-keyshortcuts': '?' });
  btnKeys.addEventListener('click', () => keysDialog.showModal());
  btnFull.after(btnKeys);
  canvas.addEventListener('clearpane:leave-screen', () => { (btnControl.hidden ? btnRefresh : btnControl).focus(); });
  const onKey = (ev) => {
    if (ev.defaultPrevented || ev.ctrlKey || ev.altKey || ev.metaKey || keysDialog.open || endDialog.open) return;
    const el = /** @type {HTMLElement} */ (ev.target);
    if (el && (el.closest('input, textarea, select, [contenteditable]') || el === canvas)) return;
    const actions = {
      '?': () => keysDialog.showModal(),
      c: () => { selectTab(true); chatInput.focus(); },
      l: () => selectTab(paneChat.hidden),
      r: () => { if (!btnControl.disabled && !btnControl.hidden) btnControl.click(); },
      f: () => btnFull.click(),
      v: () => { const ask = callBox.querySelector('.call-ask'); if (ask && !ask.hidden) ask.click(); },
      u: () => btnRefresh.click(),
      s: () => { canvas.tabIndex = 0; canvas.focus(); },
    };
    const act = actions[ev.key.length === 1 ? ev.key.toLowerCase() : ''];
    if (act) { ev.preventDefault(); act(); }
  };
  document.addEventListener('keydown', onKey);

  /* ------------------------------------------------------------ join */
  (async () => {
    try {
      const info = await api.session(sessionId).catch(() => null);
      const s = info ? pick(info, 'session') || info : null;
      if (s) {
        clientName = pick(s, 'client_name', 'ticket.client_name') || clientName;
        title.textContent = pick(s, 'ticket.title', 'title') || title.textContent;
        const backlog = pick(s, 'log', 'records', 'log.records');
        if (Array.isArray(backlog)) for (const r of backlog) client.emit('log', r);
      }
      const joined = await api.join(sessionId, as, ['view']);
      if (left) return;
      // STUN/TURN servers (with short-lived TURN credentials) come with the join.
      if (call && Array.isArray(joined.ice_servers)) call.iceServers = joined.ice_servers;
      // In a cluster the join names the node holding the session (its frames stay there).
      if (joined.ws_url) transport.url = joined.ws_url;
      await client.connect(joined.ws_token);
      if (left) client.close();
    } catch (e) {
      if (left) return;
      if (e.status === 401) { app.fail(e); return; }
      showOverlay('lost', t('session.join_failed'), e.message || String(e), [h('a', { class: 'btn btn-ghost', href: '#/queue', text: t('session.back_to_queue') })]);
    }
  })();

  return () => {
    left = true;
    document.removeEventListener('keydown', onKey);
    if (keysDialog.open) keysDialog.close();
    clearTimeout(retryTimer);
    input.dispose();
    if (call) call.end('left');
    if (callPanel) callPanel.destroy();
    display.dispose();
    client.close();
    if (endDialog.open) endDialog.close();
    delete document.body.dataset.sessionState;
  };
}
