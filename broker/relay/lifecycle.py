"""Timers and the end of a session (SPEC §5, G5, fail-closed logging).

``tick`` runs consent deadlines, input counts (G7: within a second), checkpoints,
the agent's reconnect grace and the linger after the end. ``_end`` logs
``session.ended`` *before* anything stops, closes every viewer and seals the log;
:meth:`Lifecycle.abort` is the fail-closed path when the log itself failed.
"""

from __future__ import annotations

import logging
from typing import Any

from broker.relay.actions import (
    AGENT,
    Action,
    Close,
    MarkEnded,
    SendText,
    SessionClosed,
)
from broker.relay.base import BROKER, SessionContext
from broker.relay.consenting import ConsentFlow
from broker.relay.input import InputRelay
from protocol import messages as m
from protocol.state import EndReason, SessionEvent

__all__ = ["Lifecycle"]

log = logging.getLogger("broker.relay.session")

E = SessionEvent


class Lifecycle:
    """The session's timers and its end: ending, sealing and aborting."""

    def __init__(self, ctx: SessionContext, consent: ConsentFlow, inputs: InputRelay) -> None:
        self._ctx = ctx
        self._consent = consent
        self._input = inputs

    def tick(self, now_ms: int) -> list[Action]:
        """Timers: consent deadlines, input counts, checkpoints, agent grace, linger."""
        self._ctx.out = []
        if not self._ctx.machine.ended:
            for request in self._ctx.consent.expired(now_ms):
                self._consent.answer_denied(request, request.permissions, now_ms, timed_out=True)
            if now_ms - self._ctx.last_flush_ms >= self._ctx.timings.input_flush_ms:
                self._ctx.last_flush_ms = now_ms
                for viewer in self._ctx.viewers.values():
                    self._input.flush(viewer, now_ms)
            if (
                self._ctx.agent_gone_ms is not None
                and now_ms - self._ctx.agent_gone_ms >= self._ctx.timings.agent_grace_ms
            ):
                self.end_now(EndReason.FAILED, BROKER, None, now_ms)
        if now_ms - self._ctx.last_checkpoint_ms >= self._ctx.timings.checkpoint_interval_ms:
            self._ctx.checkpoint(now_ms)
        if (
            self._ctx.ended_ms is not None
            and self._ctx.agent_connected
            and now_ms - self._ctx.ended_ms >= self._ctx.timings.ended_linger_ms
        ):
            self._ctx.emit(Close(self._ctx.session_id, AGENT, 4000, "session ended"))
        return self._ctx.take()

    # -- ending ----------------------------------------------------------------

    def end(self, reason: str, by: str, resolution: str | None, now_ms: int) -> list[Action]:
        """End the session from outside (REST end, broker shutdown)."""
        self._ctx.out = []
        if not self._ctx.machine.ended:
            self.end_now(EndReason(reason), by, resolution, now_ms)
        return self._ctx.take()

    def end_now(self, reason: EndReason, by: str, resolution: str | None, now_ms: int) -> None:
        """End: log ``session.ended`` first, then stop everyone and seal (G5)."""
        for viewer in self._ctx.viewers.values():
            self._input.flush(viewer, now_ms)
        detail: dict[str, Any] = {"reason": reason.value, "by": by}
        if resolution:
            detail["resolution"] = resolution
        self._ctx.transition(E.END, now_ms, BROKER, detail, reason=reason.value)
        self._ctx.ended_ms = now_ms
        for request in self._ctx.consent.open_requests():
            self._ctx.consent.close(request)
        self._ctx.emit(MarkEnded(self._ctx.session_id, reason.value, now_ms, resolution))
        ended = m.SessionEnded(reason=reason.value, by=by)
        shutdown = reason is EndReason.BROKER_SHUTDOWN
        code, why = (1001, "broker shutdown") if shutdown else (4000, "session ended")
        for vid, viewer in list(self._ctx.viewers.items()):
            viewer.flow.clear()
            self._ctx.send(vid, ended)
            self._ctx.emit(Close(self._ctx.session_id, vid, code, why))
        if self._ctx.agent_connected:
            self._ctx.send(AGENT, ended)
            self._ctx.checkpoint(now_ms)
            if shutdown:
                self._ctx.emit(Close(self._ctx.session_id, AGENT, code, why))
        else:
            self.finish(now_ms)

    def finish(self, now_ms: int) -> None:
        """Ended and the agent gone: seal the log and let the registry forget us."""
        if self._ctx.closed:
            return
        self._ctx.checkpoint(now_ms)
        self._ctx.closed = True
        self._ctx.emit(SessionClosed(self._ctx.session_id))

    def close_log(self) -> None:
        """Release the session log (the registry forgot the session)."""
        try:
            self._ctx.log.close()
        except OSError:
            log.warning("session %s: closing the log failed", self._ctx.session_id)

    def abort(self, now_ms: int, why: str) -> list[Action]:
        """The log failed: end without logging (fail closed), close everyone, forget."""
        self._ctx.out = []
        if not self._ctx.machine.ended:
            self._ctx.machine.apply(
                self._ctx.machine.transition(E.END, now_ms, reason=EndReason.FAILED.value)
            )
            self._ctx.emit(MarkEnded(self._ctx.session_id, EndReason.FAILED.value, now_ms, None))
        ended = m.serialize_control(m.SessionEnded(reason=EndReason.FAILED.value, by=BROKER))
        for to in [*self._ctx.viewers, *([AGENT] if self._ctx.agent_connected else [])]:
            self._ctx.emit(SendText(self._ctx.session_id, to, ended))
            self._ctx.emit(Close(self._ctx.session_id, to, 1011, why[:120]))
        for viewer in list(self._ctx.viewers.values()):
            self._ctx.drop_viewer(viewer)
        self._ctx.agent_connected = False
        self._ctx.closed = True
        self._ctx.emit(SessionClosed(self._ctx.session_id))
        return self._ctx.take()
