"""The relay's recording hooks and its timer task, for ``broker.ws``.

:class:`RecorderHooks` connects the relay to ``broker.recording``: every relayed
frame is written first (G10: recording fails closed, alerts on failure), a closed
session's recording is finished, and a FULL update is asked for when the recorder
needs a seek point (P8). :func:`run_ticker` runs the relay's timers.
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from audit.recording import RECORDING_FILE
from broker.clock import CLOCK
from broker.recording import RECORDER
from broker.recording_alert import RecordingAlerts
from broker.relay import InProcessRelay
from broker.relay.actions import Record
from broker.webhooks.summary_events import FOLLOW_UPS

log = logging.getLogger("broker.ws")

KEYFRAME_ASK_MS = 5_000
"""How often, at most, the relay asks an agent for a FULL update for the recorder."""


class RecorderHooks:
    """``record`` / ``closed`` for the relay backend, and the keyframe asks."""

    def __init__(self, app: web.Application) -> None:
        self._app = app
        self._recorder = app.get(RECORDER)
        recorder = self._recorder
        self._alerts = RecordingAlerts(app, recorder) if recorder is not None else None
        self._asked: dict[str, int] = {}

    def attach(self, backend: InProcessRelay) -> None:
        """Let the alerts pause and resume the backend's sessions (G10)."""
        if self._alerts is not None:  # evidence (G10): recording fails closed
            self._alerts.attach(backend)

    def record(self, action: Record) -> bool:
        """The relay's recording hook (``broker.recording``; never raises)."""
        recorder = self._recorder
        if recorder is None:
            return True
        ok = recorder.record(action.session_id, action.direction, action.data, action.at_ms)
        if not ok and self._alerts is not None:
            self._alerts.alert(action.session_id, False, action.at_ms)
        return ok

    def closed(self, sid: str) -> None:
        """A session is gone: finish its recording (then announce it: issue 18)."""
        if self._recorder is not None:
            self._recorder.finish(sid)
            follow_ups = self._app.get(FOLLOW_UPS)
            path = self._recorder.folder(sid) / RECORDING_FILE
            if follow_ups is not None and path.is_file():
                follow_ups.recording_finished(sid, path.stat().st_size)

    async def keyframes(self, backend: InProcessRelay) -> None:
        """Ask for a FULL update when the recorder needs a seek point (P8)."""
        recorder, asked = self._recorder, self._asked
        if recorder is None:
            return
        now = self._app[CLOCK].now_ms()
        for session in backend.core:
            sid = session.session_id
            if (
                session.state.value == "live"
                and now - asked.get(sid, 0) >= KEYFRAME_ASK_MS
                and recorder.wants_keyframe(sid, now)
            ):
                asked[sid] = now
                await backend.request_keyframe(sid)
        for sid in [s for s in asked if backend.core.get(s) is None]:
            del asked[sid]


async def run_ticker(backend: InProcessRelay, hooks: RecorderHooks, every_s: float) -> None:
    """Forever: the relay's timers, then the recorder's keyframe asks."""
    while True:
        await asyncio.sleep(every_s)
        try:
            await backend.tick()
            await hooks.keyframes(backend)
        except Exception:
            log.exception("relay tick failed")
