"""Timers and the end of a session (SPEC §5, G5, fail-closed logging).

``tick`` runs consent deadlines, input counts (G7: within a second), checkpoints,
the agent's reconnect grace and the linger after the end. ``_end`` logs
``session.ended`` *before* anything stops, closes every viewer and seals the log;
:meth:`LifecycleMixin.abort` is the fail-closed path when the log itself failed.
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
from broker.relay.base import BROKER
from broker.relay.consenting import ConsentMixin
from protocol import messages as m
from protocol.state import EndReason, SessionEvent

__all__ = ["LifecycleMixin"]

log = logging.getLogger("broker.relay.session")

E = SessionEvent


class LifecycleMixin(ConsentMixin):
    """Timers, ending, sealing and aborting."""

    def tick(self, now_ms: int) -> list[Action]:
        """Timers: consent deadlines, input counts, checkpoints, agent grace, linger."""
        self._out = []
        if not self.machine.ended:
            for request in self.consent.expired(now_ms):
                self._answer_denied(request, request.permissions, now_ms, timed_out=True)
            if now_ms - self._last_flush_ms >= self.timings.input_flush_ms:
                self._last_flush_ms = now_ms
                for viewer in self._viewers.values():
                    self._flush_input(viewer, now_ms)
            if (
                self._agent_gone_ms is not None
                and now_ms - self._agent_gone_ms >= self.timings.agent_grace_ms
            ):
                self._end(EndReason.FAILED, BROKER, None, now_ms)
        if now_ms - self._last_checkpoint_ms >= self.timings.checkpoint_interval_ms:
            self._checkpoint(now_ms)
        if (
            self._ended_ms is not None
            and self.agent_connected
            and now_ms - self._ended_ms >= self.timings.ended_linger_ms
        ):
            self._emit(Close(self.session_id, AGENT, 4000, "session ended"))
        return self._take()

    # -- ending ----------------------------------------------------------------

    def end(self, reason: str, by: str, resolution: str | None, now_ms: int) -> list[Action]:
        """End the session from outside (REST end, broker shutdown)."""
        self._out = []
        if not self.machine.ended:
            self._end(EndReason(reason), by, resolution, now_ms)
        return self._take()

    def _end(self, reason: EndReason, by: str, resolution: str | None, now_ms: int) -> None:
        for viewer in self._viewers.values():
            self._flush_input(viewer, now_ms)
        detail: dict[str, Any] = {"reason": reason.value, "by": by}
        if resolution:
            detail["resolution"] = resolution
        self._transition(E.END, now_ms, BROKER, detail, reason=reason.value)
        self._ended_ms = now_ms
        for request in self.consent.open_requests():
            self.consent.close(request)
        self._emit(MarkEnded(self.session_id, reason.value, now_ms, resolution))
        ended = m.SessionEnded(reason=reason.value, by=by)
        shutdown = reason is EndReason.BROKER_SHUTDOWN
        code, why = (1001, "broker shutdown") if shutdown else (4000, "session ended")
        for vid, viewer in list(self._viewers.items()):
            viewer.flow.clear()
            self._send(vid, ended)
            self._emit(Close(self.session_id, vid, code, why))
        if self.agent_connected:
            self._send(AGENT, ended)
            self._checkpoint(now_ms)
            if shutdown:
                self._emit(Close(self.session_id, AGENT, code, why))
        else:
            self._finish(now_ms)

    def _finish(self, now_ms: int) -> None:
        """Ended and the agent gone: seal the log and let the registry forget us."""
        if self._closed:
            return
        self._checkpoint(now_ms)
        self._closed = True
        self._emit(SessionClosed(self.session_id))

    def close_log(self) -> None:
        """Release the session log (the registry forgot the session)."""
        try:
            self._log.close()
        except OSError:
            log.warning("session %s: closing the log failed", self.session_id)

    def abort(self, now_ms: int, why: str) -> list[Action]:
        """The log failed: end without logging (fail closed), close everyone, forget."""
        self._out = []
        if not self.machine.ended:
            self.machine.apply(
                self.machine.transition(E.END, now_ms, reason=EndReason.FAILED.value)
            )
            self._emit(MarkEnded(self.session_id, EndReason.FAILED.value, now_ms, None))
        ended = m.serialize_control(m.SessionEnded(reason=EndReason.FAILED.value, by=BROKER))
        for to in [*self._viewers, *([AGENT] if self.agent_connected else [])]:
            self._emit(SendText(self.session_id, to, ended))
            self._emit(Close(self.session_id, to, 1011, why[:120]))
        for viewer in list(self._viewers.values()):
            self._drop_viewer(viewer)
        self.agent_connected = False
        self._closed = True
        self._emit(SessionClosed(self.session_id))
        return self._take()
