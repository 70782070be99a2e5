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
        self._ctx.last_update_seq = frame.seq
        update = Update(frame.seq, frame.full, data)
        relayed = False
        for vid, viewer in self._ctx.viewers.items():
            if self._ctx.consent.holds(vid, "view"):
                relayed = True
                sent = viewer.flow.offer(update)
                if sent is not None:
                    self._ctx.emit(SendBinary(self._ctx.session_id, vid, sent.data, update=True))
        if relayed:  # recorded once, as relayed: only what a consented viewer could see
            self._ctx.emit(Record(self._ctx.session_id, "agent", data, now_ms))

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
