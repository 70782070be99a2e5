"""The ``session.summary`` webhook: once a session has ended (and again when the
client rates it after the end), its signed summary (broker/summary/) is queued for
the endpoints that subscribe to it.

The outbox capture reports those sessions after their transaction commits; building
and signing reads the session log from disk, so it runs in a task of its own, never
inside the transaction. A broker stopped between the end and that task does not send
the summary; ``GET /api/v1/sessions/{id}/summary`` always has it (docs/webhooks.md).
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from broker.clock import CLOCK
from broker.store.db import DB
from broker.store.webhook_models import list_endpoints
from broker.summary import signed_summary
from broker.webhooks.capture import emit_after
from broker.webhooks.events import SESSION_SUMMARY

__all__ = ["SummaryEvents"]

log = logging.getLogger(__name__)


class SummaryEvents:
    """Queues ``session.summary`` events in background tasks; :meth:`close` waits."""

    def __init__(self, app: web.Application) -> None:
        self._app = app
        self._tasks: set[asyncio.Task[None]] = set()

    def session_final(self, session_id: str) -> None:
        """``session_id`` ended or was rated after its end (called after the commit)."""
        task = asyncio.get_running_loop().create_task(
            self._send(session_id), name=f"summary {session_id}"
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

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
