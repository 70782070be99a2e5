"""The session's input part (G4, G7): input frames to the agent, and their counts
in the log.

Input goes to the agent only from the viewer whose number is in the header,
holding ``control``, while ``live`` (G4, defence in depth; the agent checks again
and alone checks the seq, which only it can authenticate, SPEC §8.3). What was
forwarded or dropped is logged as counts (the broker cannot see keys anyway),
at most ``input_flush_ms`` late.
"""

from __future__ import annotations

import logging

from broker.relay.actions import AGENT, SendBinary
from broker.relay.base import SessionContext, ViewerSlot
from protocol.errors import ErrorCode, ProtocolError
from protocol.media import InputFrame
from protocol.state import SessionState

__all__ = ["InputRelay"]

log = logging.getLogger("broker.relay.session")

S = SessionState


class InputRelay:
    """Forwards or drops each input frame; logs the counts."""

    def __init__(self, ctx: SessionContext) -> None:
        self._ctx = ctx

    def flush(self, viewer: ViewerSlot, now_ms: int) -> None:
        """Log forwarded/dropped input as counts (the broker cannot see keys anyway)."""
        if viewer.input_forwarded:
            self._ctx.append(
                "input.forwarded",
                self._ctx.actor(viewer.user),
                {"viewer_id": viewer.viewer_id, "batches": viewer.input_forwarded},
                now_ms,
            )
            viewer.input_forwarded = 0
        if viewer.input_dropped:
            self._ctx.append(
                "input.dropped",
                self._ctx.actor(viewer.user),
                {
                    "viewer_id": viewer.viewer_id,
                    "batches": viewer.input_dropped,
                    "reasons": sorted(viewer.drop_reasons),
                },
                now_ms,
            )
            viewer.input_dropped = 0
            viewer.drop_reasons.clear()

    def on_input(self, viewer: ViewerSlot, frame: InputFrame, data: bytes, now_ms: int) -> None:
        """Forward ``frame`` to the agent, or drop it and count why."""
        reason: str | None = None
        if frame.sender != viewer.number:
            reason = "sender_mismatch"
        elif not self._ctx.consent.holds(viewer.viewer_id, "control"):
            reason = "not_granted"
        elif self._ctx.state is not S.LIVE:
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
                "session %s: input from %s dropped (%s)",
                self._ctx.session_id,
                viewer.viewer_id,
                reason,
            )
            if first:
                self._ctx.error(
                    viewer.viewer_id,
                    ProtocolError.of(ErrorCode.NOT_GRANTED, f"input dropped: {reason}"),
                )
            return
        viewer.input_forwarded += 1
        self._ctx.emit(SendBinary(self._ctx.session_id, AGENT, data))
