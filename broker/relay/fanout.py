"""The session's stream part: binary frames, fan-out and flow control.

Screen updates and video chunks go only to viewers holding ``view`` while
``live`` (G2, G6), shared by reference and metered per viewer (SPEC §6,
:mod:`broker.relay.flow`). Input frames go to :mod:`broker.relay.input`. Unknown
kinds are dropped, never forwarded (G3, SPEC §10.3).
"""

from __future__ import annotations

import logging

from broker.relay.actions import AGENT, Action, Record, SendBinary
from broker.relay.base import SessionContext, ViewerSlot
from broker.relay.flow import Update
from broker.relay.input import InputRelay
from protocol import messages as m
from protocol.errors import ErrorCode, ProtocolError
from protocol.media import AckFrame, BinaryMessage, InputFrame, ScreenUpdateFrame, VideoChunkFrame
from protocol.state import SessionState

__all__ = ["Fanout"]

log = logging.getLogger("broker.relay.session")

S = SessionState


class Fanout:
    """The session's stream part: screen updates and video chunks to viewers,
    acknowledgements to the agent; input frames go to the :class:`InputRelay`."""

    def __init__(self, ctx: SessionContext, inputs: InputRelay) -> None:
        self._ctx = ctx
        self._input = inputs

    def agent_binary(self, frame: BinaryMessage, data: bytes, now_ms: int) -> list[Action]:
        """A binary frame from the agent; ``data`` is the frame as received."""
        self._ctx.out = []
        if isinstance(frame, ScreenUpdateFrame | VideoChunkFrame):
            # A video chunk (SPEC §4.4) is metered like an update; its KEY flag is FULL.
            self._on_update(frame, data, now_ms)
        elif isinstance(frame, (InputFrame, AckFrame)):
            self._ctx.error(
                AGENT, ProtocolError.of(ErrorCode.FORBIDDEN, "agents do not send this kind")
            )
        # UnknownBinary: skipped (SPEC §4).
        return self._ctx.take()

    def viewer_binary(
        self, viewer_id: str, frame: BinaryMessage, data: bytes, now_ms: int
    ) -> list[Action]:
        """A binary frame from viewer ``viewer_id``; ``data`` is the frame as received."""
        self._ctx.out = []
        viewer = self._ctx.viewers.get(viewer_id)
        if viewer is None or self._ctx.machine.ended:
            return []
        if isinstance(frame, InputFrame):
            self._input.on_input(viewer, frame, data, now_ms)
        elif isinstance(frame, AckFrame):
            self._on_ack(viewer, frame.seq)
        elif isinstance(frame, ScreenUpdateFrame | VideoChunkFrame):
            self._ctx.error(
                viewer_id, ProtocolError.of(ErrorCode.FORBIDDEN, "viewers do not send updates")
            )
        return self._ctx.take()

    def _on_update(
        self, frame: ScreenUpdateFrame | VideoChunkFrame, data: bytes, now_ms: int
    ) -> None:
        if self._ctx.state is not S.LIVE:
            # Before consent, while paused, after the end: nothing is relayed (G2, G6).
            return
        if frame.seq <= self._ctx.last_update_seq:
            self._ctx.error(
                AGENT, ProtocolError.of(ErrorCode.INVALID_FIELD, "update seq must increase")
            )
            return
        ctx = self._ctx
        ctx.last_update_seq = frame.seq
        if ctx.recording_paused:  # G10: nothing relayed that cannot be recorded
            return
        update = Update(frame.seq, frame.full, data)
        viewing = [vid for vid in ctx.viewers if ctx.consent.holds(vid, "view")]
        if viewing:  # recorded once, as relayed: only what a consented viewer could see;
            # recorded FIRST: a Record that fails cancels the sends after it (backend).
            ctx.emit(Record(ctx.session_id, "agent", data, now_ms))
        for vid in viewing:
            sent = ctx.viewers[vid].flow.offer(update)
            if sent is not None:
                ctx.emit(SendBinary(ctx.session_id, vid, sent.data, update=True))

    def recording_changed(
        self, ok: bool, now_ms: int, *, allowed: bool = False, reason: str = "recording_unavailable"
    ) -> list[Action]:
        """The recorder says the recording cannot be written (``ok`` False) or works
        again. Fail closed (G10): paused, no screen update is relayed and agent and
        viewers are told why; with ``allowed`` (the organisation allows unrecorded
        sessions) updates go on and the log says the session is unrecorded. Once it
        works again: logged, told, and the agent asked for a FULL update.

        The pause record itself may not be writable (the same full disk): the pause
        holds anyway and is logged with its start time when writes work again.
        """
        ctx = self._ctx
        ctx.out = []
        if ctx.machine.ended:
            return []
        if not ok and ctx.recording_since_ms is None:
            ctx.recording_since_ms = now_ms
            ctx.recording_paused = not allowed
            state = "paused" if not allowed else "off"
            try:
                event = "recording.paused" if not allowed else "recording.unavailable"
                detail = {"reason": reason, "unrecorded_allowed": allowed}
                ctx.append(event, "broker", detail, now_ms)
            except OSError:
                ctx.recording_unlogged = True
            msg = m.RecordingState(state=state, reason=reason, since_ms=now_ms)
            ctx.send(AGENT, msg)
            ctx.to_viewers(msg)
        elif ok and ctx.recording_since_ms is not None:
            since, ctx.recording_since_ms = ctx.recording_since_ms, None
            ctx.recording_paused = False
            ctx.append(
                "recording.resumed",
                "broker",
                {"reason": reason, "since_ms": since, "gap_ms": now_ms - since,
                 "pause_logged_late": ctx.recording_unlogged},
                now_ms,
            )  # fmt: skip
            ctx.recording_unlogged = False
            msg = m.RecordingState(state="on", reason=reason, since_ms=since)
            ctx.send(AGENT, msg)
            ctx.to_viewers(msg)
            if ctx.state is S.LIVE and ctx.agent_connected:
                ctx.send(AGENT, m.Refresh())  # the new segment starts with a FULL update
        return ctx.take()

    def request_keyframe(self, now_ms: int) -> list[Action]:
        """Ask the agent for a ``FULL`` update (the recorder wants a seek point)."""
        self._ctx.out = []
        if self._ctx.state is S.LIVE and self._ctx.agent_connected:
            self._ctx.send(AGENT, m.Refresh())
        return self._ctx.take()

    def _on_ack(self, viewer: ViewerSlot, seq: int) -> None:
        advanced, to_send = viewer.flow.ack(seq)
        if advanced and seq > self._ctx.agent_acked and self._ctx.agent_connected:
            self._ctx.agent_acked = seq
            self._ctx.emit(SendBinary(self._ctx.session_id, AGENT, bytes(AckFrame(seq))))
        if to_send is not None and self._ctx.state is S.LIVE:
            self._ctx.emit(
                SendBinary(self._ctx.session_id, viewer.viewer_id, to_send.data, update=True)
            )
