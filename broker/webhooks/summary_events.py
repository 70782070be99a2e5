"""Webhooks that follow a session's end: ``session.summary`` — once a session has
ended (and again when the client rates it after the end), its signed summary
(broker/summary/) is queued for the endpoints that subscribe to it — and
``recording.available`` once the relay has finished and sealed its recording.

The outbox capture reports those sessions after their transaction commits; building
and signing reads the session log from disk, so it runs in a task of its own, never
inside the transaction. A broker stopped between the end and that task does not send
the summary; ``GET /api/v1/sessions/{id}/summary`` always has it (docs/webhooks.md).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

from aiohttp import web

from broker.clock import CLOCK
from broker.store.db import DB
from broker.store.queries import get_session
from broker.store.webhook_models import list_endpoints
from broker.summary import signed_summary
from broker.webhooks.capture import emit_after
from broker.webhooks.events import RECORDING_AVAILABLE, SESSION_SUMMARY

__all__ = ["FOLLOW_UPS", "SummaryEvents"]

log = logging.getLogger(__name__)


class SummaryEvents:
    """Queues ``session.summary`` events in background tasks; :meth:`close` waits."""

    def __init__(self, app: web.Application) -> None:
        self._app = app
        self._tasks: set[asyncio.Task[None]] = set()

    def session_final(self, session_id: str) -> None:
        """``session_id`` ended or was rated after its end (called after the commit)."""
        self._spawn(self._send(session_id), f"summary {session_id}")

    def recording_finished(self, session_id: str, size: int) -> None:
        """The relay finished and sealed ``session_id``'s recording (``size`` bytes)."""
        self._spawn(self._recording(session_id, size), f"recording {session_id}")

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _recording(self, session_id: str, size: int) -> None:
        app = self._app
        try:
            session = await get_session(app[DB], session_id)
            payload = {
                "session_id": session_id,
                "ticket_id": session.ticket_id if session else "",
                "recording": {"url": f"/api/v1/recordings/{session_id}", "bytes": size},
            }
            await emit_after(
                app[DB],
                RECORDING_AVAILABLE,
                payload,
                subject_id=session_id,
                at_ms=app[CLOCK].now_ms(),
            )
        except Exception:
            log.exception("session %s: recording.available could not be queued", session_id)

    async def _send(self, session_id: str) -> None:
        app = self._app
        try:
            endpoints = await list_endpoints(app[DB])
            if not any(SESSION_SUMMARY in e.events for e in endpoints):
                return  # nobody subscribes: do not read the log and sign for nothing
            document = await signed_summary(app, session_id)
            if document is None:
                return
            await emit_after(
                app[DB],
                SESSION_SUMMARY,
                document,
                subject_id=session_id,
                at_ms=app[CLOCK].now_ms(),
            )
        except Exception:  # never lose the broker over a summary: it is also at the API
            log.exception("session %s: the summary webhook could not be queued", session_id)

    async def close(self) -> None:
        """Wait for the summaries being built."""
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)


#: The app's follow-up webhooks (set while the webhooks context runs).
FOLLOW_UPS = web.AppKey[SummaryEvents]("webhooks_follow_ups")
