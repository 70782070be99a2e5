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
from agent.session.core import CALL_MESSAGE_TYPES
from agent.session.stream import StreamMixin
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
    RecordingState,
    Refresh,
    SessionEnded,
    SessionStateMessage,
    ViewerJoined,
    ViewerLeft,
)

log = logging.getLogger(__name__)


class DispatchMixin(StreamMixin):
    """Reads the socket and routes each message to the part that owns it."""

    async def _reader(self, ws: ClientConnection) -> None:
        # One protocol.Connection per socket holds the rules (parsers, limits, what is
        # fatal); after a fatal mistake the socket is closed with its code: reconnect.
        conn = broker_connection()
        try:
            async for raw in ws:
                for event in received(conn, raw):
                    if isinstance(event, BinaryReceived):
                        self._on_binary(event.message)
                    else:
                        await self._dispatch(event.message)
                if conn.close_code is not None:
                    await ws.close(conn.close_code, conn.close_reason or "")
                    raise ConnectionLost(f"the broker broke the protocol: {conn.close_reason}")
        except ConnectionClosed as exc:
            code = exc.rcvd.code if exc.rcvd is not None else None
            if self.killswitch.killed or self._end_reason is not None:
                return
            if code in FINAL_CLOSE_CODES:
                if code == 4000:
                    self._mark_ended("ended", "broker")
                    return
                raise FinalError("the broker closed the session", FINAL_CLOSE_CODES[code]) from exc
            raise ConnectionLost(f"connection lost (code {code})") from exc
        if self.killswitch.killed or self._end_reason is not None:
            return
        code = ws.close_code
        if code in FINAL_CLOSE_CODES:
            if code == 4000:
                self._mark_ended("ended", "broker")
                return
            raise FinalError("the broker closed the session", FINAL_CLOSE_CODES[code])
        raise ConnectionLost(f"connection closed (code {code})")

    def _on_binary(self, frame: BinaryMessage) -> None:
        if isinstance(frame, AckFrame):
            for seq in [s for s in self._inflight if s <= frame.seq]:
                del self._inflight[seq]
            self._poke()
        elif isinstance(frame, InputFrame):
            self._on_input(frame)
        # screen updates never come to the agent; unknown kinds are skipped (SPEC §4)

    def _on_input(self, frame: InputFrame) -> None:
        gate = self._gate
        if gate is None:
            return
        result = gate.handle(frame)
        now = self._clock()
        who = result.viewer_id or f"v{frame.sender}"
        if result.applied_any:
            detail: dict[str, Any] = {"viewer_id": who, **result.summary.detail()}
            self._log_local("input.applied", detail, now, actor=who, name=self._name(who))
        elif result.rejected is not None:
            detail = {"viewer_id": who, "reason": result.rejected, "events": result.summary.dropped}
            self._log_local("input.dropped", detail, now, actor=who)

    def _on_recording_state(self, msg: RecordingState) -> None:
        """The company's recording stopped or works again (G10: the broker relays no
        screen update it cannot record). Updates sent meanwhile are never acknowledged:
        forget them, so the stream restarts at once with the FULL update asked next."""
        self._inflight.clear()
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
        self.observer.notice(text)
        self._poke()

    def _on_monitor_select(self, msg: MonitorSelect, now: int) -> None:
        """The engineer asks for another monitor: applied only if the client allowed
        switching and the viewer holds ``view``; the client is told and it is logged."""
        who = msg.viewer_id or "?"
        if not self.consent.may(who, "view"):
            return
        reason = self._desktop.select(self._source, msg.monitor)
        if reason is not None:
            log.info("monitor.select from %s refused: %s", who, reason)
            return
        self._log_local("monitor.selected", {"monitor": msg.monitor, "viewer_id": who}, now)
        self.observer.notice(
            _("The engineer now sees all your monitors.")
            if msg.monitor == 0
            else _("The engineer now sees monitor {n}.").format(n=msg.monitor)
        )
        self._need_full = True
        self._poke()

    async def _dispatch(self, msg: ControlMessage) -> None:
        now = self._clock()
        if isinstance(msg, ConsentRequest):
            self._on_consent_request(msg, now)
        elif isinstance(msg, KeyCommit):
            self._on_key_commit(msg)
        elif isinstance(msg, KeyReveal):
            self._on_key_reveal(msg)
        elif isinstance(msg, AuditRecipient):
            self._on_audit_recipient(msg)
        elif isinstance(msg, ViewerJoined):
            self.consent_names[msg.viewer_id] = msg.user.name
            self._user_names[msg.user.id] = msg.user.name
            self._publish_status()
        elif isinstance(msg, ViewerLeft):
            self._on_viewer_left(msg.viewer_id)
        elif isinstance(msg, PermissionRelease):
            if msg.viewer_id is not None:
                lost = self.consent.release(msg.viewer_id, msg.permissions)
                if lost is not None:
                    self._after_loss(msg.viewer_id, lost.permissions, "released")
        elif isinstance(msg, SessionStateMessage):
            self._on_session_state(msg)
        elif isinstance(msg, Refresh):
            self._need_full = True
            self._poke()
        elif isinstance(msg, MonitorSelect):
            self._on_monitor_select(msg, now)
        elif isinstance(msg, Chat):
            sender = msg.from_.name if msg.from_ is not None else "?"
            self.observer.chat(sender, msg.text, msg.at_ms or now)
        elif isinstance(msg, LogEvent):
            if self.local_log is not None:
                self.local_log.record_broker(msg.record, now)
        elif isinstance(msg, CheckpointMessage):
            self._checkpoint = dict(msg.checkpoint)
            if self.local_log is not None:
                self.local_log.save_checkpoint(self._checkpoint)
            assert self._checkpoint_evt is not None
            if self._end_reason is not None:  # the final one seals session.ended
                self._checkpoint_evt.set()
        elif msg.type in CALL_MESSAGE_TYPES:
            self._on_call_message(msg)
        elif isinstance(msg, SessionEnded):
            self._mark_ended(msg.reason, msg.by)
        elif isinstance(msg, RecordingState):
            self._on_recording_state(msg)
        elif isinstance(msg, ErrorMessage):
            log.info("broker error: %s", msg.code)
        # Anything else is not for the agent: ignored.
