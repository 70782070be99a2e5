"""The waiting client's place in line, pushed (issue 20): "You are number 2 in the
queue, expected wait about 4 minutes".

:class:`QueueNotices` recomputes every waiting request's position (earliest SLA
deadline first, as the engineers' queue orders them) when something changes the queue
— a new request or redeemed code, an agent that attaches, a session answered, ended or
changing state (:meth:`kick`) — and sends ``queue.position`` (SPEC §3.2) to each
waiting agent connected to this node whose position or estimate changed. A slow
refresh (``REFRESH_S``) catches what no event here reports: another node's changes in a
cluster, and the estimate drifting as time passes.

The estimate is the recent answer rate: with *k* requests answered in the last
``RATE_WINDOW_MS``, the *n*-th in line waits about n × window ÷ k, capped at its SLA
deadline (the promise; escalation acts before it). Without a recent answer there is no
estimate and the client is told only the latest answer time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from dataclasses import dataclass

from aiohttp import web

from broker.clock import CLOCK
from broker.relay.backend import Endpoint, InProcessRelay
from broker.store import queries
from broker.store.db import DB
from protocol.messages import QueuePosition, serialize_control

__all__ = ["QUEUE_NOTICES", "QueueNotices", "estimate_wait_s", "kick"]

log = logging.getLogger(__name__)

QUEUE_NOTICES = web.AppKey["QueueNotices"]("queue_notices")

REFRESH_S = 15.0
"""Recompute at least this often (cluster peers' changes, the estimate's drift)."""
RATE_WINDOW_MS = 3_600_000
"""How far back answers count for the answer rate (one hour)."""
SETTLE_S = 0.05
"""Several changes at once (an answer is a state change too) make one push."""


def estimate_wait_s(position: int, answered_recently: int, remaining_ms: int) -> int | None:
    """The expected wait of the ``position``-th request: ``position`` × the mean
    interval between recent answers, rounded up to a whole minute and capped at the
    time left to its SLA deadline; None without a recent answer."""
    if answered_recently <= 0:
        return None
    seconds = position * (RATE_WINDOW_MS / 1000) / answered_recently
    seconds = min(seconds, max(remaining_ms, 0) / 1000)
    return max(60, math.ceil(seconds / 60) * 60)


@dataclass(frozen=True, slots=True)
class _Sent:
    endpoint: Endpoint
    position: int
    expected_wait_s: int | None


class QueueNotices:
    """Pushes ``queue.position`` to waiting agents on this node."""

    def __init__(self, app: web.Application, backend: InProcessRelay) -> None:
        self._app = app
        self._backend = backend
        self._changed = asyncio.Event()
        self._sent: dict[str, _Sent] = {}

    def kick(self) -> None:
        """The queue may have changed: push soon (never blocks)."""
        self._changed.set()

    def start(self) -> asyncio.Task[None]:
        """Start pushing (and push once now: agents that reconnect after a restart
        learn their place); cancel the task to stop."""
        self.kick()
        return asyncio.get_running_loop().create_task(self.run(), name="queue notices")

    async def run(self) -> None:
        """Push on every change (and every ``REFRESH_S``) until cancelled."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), REFRESH_S)
            await asyncio.sleep(SETTLE_S)
            self._changed.clear()
            try:
                await self.push_once()
            except Exception:  # the store may be briefly away: the next change retries
                log.exception("queue position push failed")

    async def push_once(self) -> int:
        """Send ``queue.position`` where it changed; return how many were sent."""
        db, now = self._app[DB], self._app[CLOCK].now_ms()
        waiting = await queries.waiting_sessions(db)
        answered = await queries.count_answered_since(db, now - RATE_WINDOW_MS)
        sent = 0
        still: dict[str, _Sent] = {}
        for position, item in enumerate(waiting, 1):
            sid = item.session.id
            endpoint = self._backend.agent_endpoint(sid)
            if endpoint is None:
                continue
            deadline = item.session.deadline_ms
            wait = estimate_wait_s(position, answered, deadline - now)
            last = self._sent.get(sid)
            still[sid] = _Sent(endpoint, position, wait)
            if last == still[sid]:
                continue
            msg = QueuePosition(position, expected_wait_s=wait, answer_by_ms=deadline)
            endpoint.send_text(serialize_control(msg))
            sent += 1
        self._sent = still  # answered, ended and gone sessions drop out
        return sent


def kick(app: web.Application) -> None:
    """Tell the pusher the queue may have changed (no-op before the relay runs)."""
    notices = app.get(QUEUE_NOTICES)
    if notices is not None:
        notices.kick()
