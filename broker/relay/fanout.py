"""Binary frames of the session core: fan-out, flow control, the input gate.

Screen updates and video chunks go only to viewers holding ``view`` while ``live`` (G2, G6), shared
by reference and metered per viewer (SPEC §6, :mod:`broker.relay.flow`). Input
goes to the agent only from the viewer whose number is in the header, holding
``control``, while ``live`` (G4, defence in depth; the agent checks again and
alone checks the seq, which only it can authenticate). Unknown kinds are dropped, never forwarded (G3, SPEC §10.3).
"""

from __future__ import annotations

import logging

from broker.relay.actions import AGENT, Action, Record, SendBinary
from broker.relay.base import SessionBase, ViewerSlot
from broker.relay.flow import Update
from protocol import messages as m
from protocol.errors import ErrorCode, ProtocolError
from protocol.media import AckFrame, BinaryMessage, InputFrame, ScreenUpdateFrame, VideoChunkFrame
from protocol.state import SessionState

__all__ = ["FanoutMixin"]

log = logging.getLogger("broker.relay.session")

S = SessionState


class FanoutMixin(SessionBase):
    """Screen updates to viewers, acknowledgements to the agent, input to the agent."""

    def agent_binary(self, frame: BinaryMessage, data: bytes, now_ms: int) -> list[Action]:
        """A binary frame from the agent; ``data`` is the frame as received."""
        self._out = []
        if isinstance(frame, ScreenUpdateFrame | VideoChunkFrame):
            # A video chunk (SPEC §4.4) is metered like an update; its KEY flag is FULL.
            self._on_update(frame, data, now_ms)
        elif isinstance(frame, (InputFrame, AckFrame)):
            self._error(
                AGENT, ProtocolError.of(ErrorCode.FORBIDDEN, "agents do not send this kind")
            )
        # UnknownBinary: skipped (SPEC §4).
        return self._take()

    def viewer_binary(
        self, viewer_id: str, frame: BinaryMessage, data: bytes, now_ms: int
    ) -> list[Action]:
        """A binary frame from viewer ``viewer_id``; ``data`` is the frame as received."""
        self._out = []
        viewer = self._viewers.get(viewer_id)
        if viewer is None or self.machine.ended:
            return []
        if isinstance(frame, InputFrame):
            self._on_input(viewer, frame, data, now_ms)
        elif isinstance(frame, AckFrame):
            self._on_ack(viewer, frame.seq)
        elif isinstance(frame, ScreenUpdateFrame | VideoChunkFrame):
            self._error(
                viewer_id, ProtocolError.of(ErrorCode.FORBIDDEN, "viewers do not send updates")
            )
        return self._take()

    def _on_update(
        self, frame: ScreenUpdateFrame | VideoChunkFrame, data: bytes, now_ms: int
    ) -> None:
        if self.state is not S.LIVE:
            # Before consent, while paused, after the end: nothing is relayed (G2, G6).
            return
        if frame.seq <= self.last_update_seq:
            self._error(
                AGENT, ProtocolError.of(ErrorCode.INVALID_FIELD, "update seq must increase")
            )
            return
        self.last_update_seq = frame.seq
        update = Update(frame.seq, frame.full, data)
        relayed = False
        for vid, viewer in self._viewers.items():
            if self.consent.holds(vid, "view"):
                relayed = True
                sent = viewer.flow.offer(update)
                if sent is not None:
                    self._emit(SendBinary(self.session_id, vid, sent.data, update=True))
        if relayed:  # recorded once, as relayed: only what a consented viewer could see
            self._emit(Record(self.session_id, "agent", data, now_ms))

    def request_keyframe(self, now_ms: int) -> list[Action]:
        """Ask the agent for a ``FULL`` update (the recorder wants a seek point)."""
        self._out = []
        if self.state is S.LIVE and self.agent_connected:
            self._send(AGENT, m.Refresh())
        return self._take()

    def _on_ack(self, viewer: ViewerSlot, seq: int) -> None:
        advanced, to_send = viewer.flow.ack(seq)
        if advanced and seq > self.agent_acked and self.agent_connected:
            self.agent_acked = seq
            self._emit(SendBinary(self.session_id, AGENT, bytes(AckFrame(seq))))
        if to_send is not None and self.state is S.LIVE:
            self._emit(SendBinary(self.session_id, viewer.viewer_id, to_send.data, update=True))

    def _on_input(self, viewer: ViewerSlot, frame: InputFrame, data: bytes, now_ms: int) -> None:
        reason: str | None = None
        if frame.sender != viewer.number:
            reason = "sender_mismatch"
        elif not self.consent.holds(viewer.viewer_id, "control"):
            reason = "not_granted"
        elif self.state is not S.LIVE:
            reason = "not_live"
        # No replay check here: the broker holds no input key, so it cannot tell a
        # genuine seq n from a forged one; a counter moved by the forgery would drop
        # the genuine frame. The agent's InputOpener, which authenticates, keeps the
        # only replay counter and moves it only on frames that authenticate (SPEC §8.3).
        if reason is not None:
            viewer.input_dropped += 1
            first = not viewer.drop_reasons
            viewer.drop_reasons.add(reason)
            log.warning(
                "session %s: input from %s dropped (%s)", self.session_id, viewer.viewer_id, reason
            )
            if first:
                self._error(
                    viewer.viewer_id,
                    ProtocolError.of(ErrorCode.NOT_GRANTED, f"input dropped: {reason}"),
                )
            return
        viewer.input_forwarded += 1
        self._emit(SendBinary(self.session_id, AGENT, data))
