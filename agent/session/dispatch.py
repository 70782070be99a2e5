"""Reading from the broker and dispatching each message (SPEC §3, §4).

Binary frames: acknowledgements (flow control) and engineer input (through the
``InputGate``, G4). Control messages: consent, keys, roster, refresh, chat, log
records, checkpoints, call signalling and the end of the session. The close code
decides between a final end and a reconnect.
"""

from __future__ import annotations

import logging
from typing import Any

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from agent.connection import FINAL_CLOSE_CODES, ConnectionLost, broker_connection, received
from agent.errors import FinalError
from agent.i18n import _
from agent.session.calls import CallGlue
from agent.session.consent_flow import ConsentFlow
from agent.session.core import CALL_MESSAGE_TYPES, SessionCore
from agent.session.keys import KeyExchange
from agent.session.waiting import queue_text
from protocol.connection import BinaryReceived
from protocol.media import AckFrame, BinaryMessage, InputFrame
from protocol.messages import (
    AuditRecipient,
    Chat,
    CheckpointMessage,
    ConsentRequest,
    ControlMessage,
    ErrorMessage,
    KeyCommit,
    KeyReveal,
    LogEvent,
    MonitorSelect,
    PermissionRelease,
    QueuePosition,
    RecordingState,
    Refresh,
    SessionEnded,
    SessionStateMessage,
    ViewerJoined,
    ViewerLeft,
)

log = logging.getLogger(__name__)


class Reader:
    """The session's reader part: reads the socket (through the shared
    ``protocol.Connection``) and routes each message to the part that owns it."""

    def __init__(
        self, core: SessionCore, exchange: KeyExchange, consenting: ConsentFlow, calls: CallGlue
    ) -> None:
        self._core = core
        self._exchange = exchange
        self._consenting = consenting
        self._calls = calls
        self._chats_shown: set[tuple[int, str]] = set()  # (at_ms, text): shown once

    async def read(self, ws: ClientConnection) -> None:
        # One protocol.Connection per socket holds the rules (parsers, limits, what is
        # fatal); after a fatal mistake the socket is closed with its code: reconnect.
        """Read until the socket closes; the close code decides end or reconnect."""
        conn = broker_connection()
        try:
            async for raw in ws:
                for event in received(conn, raw):
                    if isinstance(event, BinaryReceived):
                        self.on_binary(event.message)
                    else:
                        await self.dispatch(event.message)
                if conn.close_code is not None:
                    await ws.close(conn.close_code, conn.close_reason or "")
                    raise ConnectionLost(f"the broker broke the protocol: {conn.close_reason}")
        except ConnectionClosed as exc:
            code = exc.rcvd.code if exc.rcvd is not None else None
            if self._core.killswitch.killed or self._core.end_reason is not None:
                return
            if code in FINAL_CLOSE_CODES:
                if code == 4000:
                    self._core.mark_ended("ended", "broker")
                    return
                raise FinalError("the broker closed the session", FINAL_CLOSE_CODES[code]) from exc
            raise ConnectionLost(f"connection lost (code {code})") from exc
        if self._core.killswitch.killed or self._core.end_reason is not None:
            return
        code = ws.close_code
        if code in FINAL_CLOSE_CODES:
            if code == 4000:
                self._core.mark_ended("ended", "broker")
                return
            raise FinalError("the broker closed the session", FINAL_CLOSE_CODES[code])
        raise ConnectionLost(f"connection closed (code {code})")

    def on_binary(self, frame: BinaryMessage) -> None:
        """An ack (flow control) or an input frame (to the gate)."""
        if isinstance(frame, AckFrame):
            for seq in [s for s in self._core.inflight if s <= frame.seq]:
                del self._core.inflight[seq]
            self._core.poke()
        elif isinstance(frame, InputFrame):
            self.on_input(frame)
        # screen updates never come to the agent; unknown kinds are skipped (SPEC §4)

    def on_input(self, frame: InputFrame) -> None:
        """Pass an input frame through the ``InputGate`` and log the result."""
        gate = self._core.gate
        if gate is None:
            return
        result = gate.handle(frame)
        now = self._core.clock()
        who = result.viewer_id or f"v{frame.sender}"
        if result.applied_any:
            detail: dict[str, Any] = {"viewer_id": who, **result.summary.detail()}
            self._core.log_local(
                "input.applied", detail, now, actor=who, name=self._core.name_of(who)
            )
        elif result.rejected is not None:
            detail = {"viewer_id": who, "reason": result.rejected, "events": result.summary.dropped}
            self._core.log_local("input.dropped", detail, now, actor=who)

    def on_recording_state(self, msg: RecordingState) -> None:
        """The company's recording stopped or works again (G10: the broker relays no
        screen update it cannot record). Updates sent meanwhile are never acknowledged:
        forget them, so the stream restarts at once with the FULL update asked next."""
        self._core.inflight.clear()
        if msg.state == "paused":
            text = _(
                "Screen sharing paused: recording unavailable. The company cannot record "
                "the session right now, so nothing of your screen is shown until it can."
            )
        elif msg.state == "off":
            text = _(
                "The company's recording is unavailable; your organisation allows the "
                "session to go on unrecorded (the session log says so)."
            )
        else:
            text = _("The recording works again: screen sharing resumed.")
        self._core.observer.notice(text)
        self._core.poke()

    def on_monitor_select(self, msg: MonitorSelect, now: int) -> None:
        """The engineer asks for another monitor: applied only if the client allowed
        switching and the viewer holds ``view``; the client is told and it is logged."""
        who = msg.viewer_id or "?"
        if not self._core.consent.may(who, "view"):
            return
        reason = self._core.desktop.select(self._core.source, msg.monitor)
        if reason is not None:
            log.info("monitor.select from %s refused: %s", who, reason)
            return
        self._core.log_local("monitor.selected", {"monitor": msg.monitor, "viewer_id": who}, now)
        self._core.observer.notice(
            _("The engineer now sees all your monitors.")
            if msg.monitor == 0
            else _("The engineer now sees monitor {n}.").format(n=msg.monitor)
        )
        self._core.need_full = True
        self._core.poke()

    def _show_chat(self, sender: str, text: str, at_ms: int) -> None:
        key = (at_ms, text)
        if key in self._chats_shown:
            return  # the same message as its log record (or the other way round)
        self._chats_shown.add(key)
        self._core.observer.chat(sender, text, at_ms)

    def _chat_from_log(self, record: dict[str, Any]) -> None:
        """A chat logged while this computer was away reaches it only as its log
        record (re-sent after the reconnect): show it as chat too (issue 13)."""
        detail = record.get("detail")
        if record.get("event") != "chat.sent" or not isinstance(detail, dict):
            return
        text, at_ms, who = detail.get("text"), record.get("at_ms"), detail.get("from")
        if record.get("actor") == "client" or not isinstance(text, str):
            return  # our own message, already shown when sent
        if isinstance(at_ms, int):
            name = self._core.lookup_name(str(who or record.get("actor", ""))) or "?"
            self._show_chat(name, text, at_ms)

    async def dispatch(self, msg: ControlMessage) -> None:
        """Route one control message to the part that owns it."""
        now = self._core.clock()
        if isinstance(msg, ConsentRequest):
            self._consenting.on_request(msg, now)
        elif isinstance(msg, KeyCommit):
            self._exchange.on_commit(msg)
        elif isinstance(msg, KeyReveal):
            self._exchange.on_reveal(msg)
        elif isinstance(msg, AuditRecipient):
            self._exchange.on_audit_recipient(msg)
        elif isinstance(msg, ViewerJoined):
            self._core.consent_names[msg.viewer_id] = msg.user.name
            self._core.user_names[msg.user.id] = msg.user.name
            self._core.publish_status()
        elif isinstance(msg, ViewerLeft):
            self._consenting.on_viewer_left(msg.viewer_id)
        elif isinstance(msg, PermissionRelease):
            if msg.viewer_id is not None:
                lost = self._core.consent.release(msg.viewer_id, msg.permissions)
                if lost is not None:
                    self._consenting.after_loss(msg.viewer_id, lost.permissions, "released")
        elif isinstance(msg, SessionStateMessage):
            self._consenting.on_session_state(msg)
        elif isinstance(msg, Refresh):
            self._core.need_full = True
            self._core.poke()
        elif isinstance(msg, MonitorSelect):
            self.on_monitor_select(msg, now)
        elif isinstance(msg, Chat):
            sender = msg.from_.name if msg.from_ is not None else "?"
            self._show_chat(sender, msg.text, msg.at_ms or now)
        elif isinstance(msg, LogEvent):
            if self._core.local_log is not None:
                self._core.local_log.record_broker(msg.record, now)
            self._chat_from_log(msg.record)
        elif isinstance(msg, CheckpointMessage):
            self._core.checkpoint = dict(msg.checkpoint)
            if self._core.local_log is not None:
                self._core.local_log.save_checkpoint(self._core.checkpoint)
            assert self._core.checkpoint_evt is not None
            if self._core.end_reason is not None:  # the final one seals session.ended
                self._core.checkpoint_evt.set()
        elif msg.type in CALL_MESSAGE_TYPES:
            self._calls.on_message(msg)
        elif isinstance(msg, SessionEnded):
            self._core.mark_ended(msg.reason, msg.by)
        elif isinstance(msg, RecordingState):
            self.on_recording_state(msg)
        elif isinstance(msg, QueuePosition):
            # Pushed by the broker whenever the client's place or expected wait moves.
            text = queue_text(msg.position, msg.expected_wait_s, msg.answer_by_ms)
            self._core.observer.notice(text)
        elif isinstance(msg, ErrorMessage):
            log.info("broker error: %s", msg.code)
        # Anything else is not for the agent: ignored.
