"""Admins are told when a session's recording cannot be written (G10, fail closed).

:func:`wire` connects the recorder (``broker.recording``) to the relay: a recording that
cannot be written pauses the session's screen updates (``recording.state`` to agent and
viewers, ``recording.paused`` in the log), and once it can again the relay resumes with a
FULL update. Each change is logged at ERROR/WARNING and sent as a webhook event
(``recording.unavailable`` / ``recording.restored``) for the admins' alerting.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiohttp import web

from broker.clock import CLOCK, iso_ms
from broker.recording import RecordingService
from broker.relay import InProcessRelay
from broker.store.db import DB
from broker.webhooks.capture import emit_after
from broker.webhooks.events import RECORDING_RESTORED, RECORDING_UNAVAILABLE

__all__ = ["RecordingAlerts"]

log = logging.getLogger("broker.recording")


class RecordingAlerts:
    """Relay the recorder's state changes to the relay and to the admins."""

    def __init__(self, app: web.Application, recorder: RecordingService) -> None:
        self._app = app
        self._recorder = recorder
        self._backend: InProcessRelay | None = None
        self._since: dict[str, int] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def attach(self, backend: InProcessRelay) -> None:
        """Start forwarding: the recorder's tick reports to ``backend``."""
        self._backend = backend
        self._recorder.on_change = self.changed

    def changed(self, sid: str, ok: bool) -> None:
        """A recording stopped being writable (``ok`` False) or works again."""
        now = self._app[CLOCK].now_ms()
        if self._backend is not None:
            self._backend.recording_changed(sid, ok)
        self.alert(sid, ok, now)

    def alert(self, sid: str, ok: bool, now_ms: int) -> None:
        """Log and queue the webhook event for one change (once per pause)."""
        if not ok:
            if sid in self._since:
                return
            self._since[sid] = now_ms
            allowed = self._backend is not None and self._backend.allow_unrecorded
            state = "off" if allowed else "paused"
            log.error(
                "ALERT session %s: its recording cannot be written; screen updates %s",
                sid,
                "go on UNRECORDED (allowed by the organisation)" if allowed else "are paused",
            )
            payload: dict[str, Any] = {"session_id": sid, "state": state, "since": iso_ms(now_ms)}
            self._emit(RECORDING_UNAVAILABLE, sid, payload, now_ms)
        else:
            since = self._since.pop(sid, now_ms)
            log.warning("session %s: recording restored after %.1f s", sid, (now_ms - since) / 1000)
            payload = {"session_id": sid, "since": iso_ms(since), "gap_s": (now_ms - since) / 1000}
            self._emit(RECORDING_RESTORED, sid, payload, now_ms)

    def _emit(self, event: str, sid: str, payload: dict[str, Any], at_ms: int) -> None:
        async def send() -> None:
            try:
                await emit_after(self._app[DB], event, payload, subject_id=sid, at_ms=at_ms)
            except Exception as exc:  # the store may be on the same full disk
                log.error("session %s: webhook %s could not be queued: %s", sid, event, exc)

        task = asyncio.get_running_loop().create_task(send(), name=f"alert {event}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
