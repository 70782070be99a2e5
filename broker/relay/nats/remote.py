"""The two halves of a WebSocket whose session lives in another process.

* :class:`Outbox` — publishes from synchronous code in call order (the relay's
  :class:`~broker.relay.backend.Endpoint` methods return at once; NATS's publish is
  a coroutine), so one session's messages reach NATS in the order the core made them.
* :class:`RemoteEndpoint` — on the session's home: an ``Endpoint`` that publishes
  what the core sends to a WebSocket held by another process.
* :class:`Attachment` — on the process holding the WebSocket: which session, which
  home, which subject; deliveries from the home go straight to the local endpoint.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from broker.relay.backend import Endpoint
from broker.relay.nats import wire

__all__ = ["Attachment", "Outbox", "RemoteEndpoint", "deliver"]

log = logging.getLogger(__name__)


class Outbox:
    """One task publishing ``(subject, payload)`` pairs in the order they were put."""

    def __init__(self, nc: Any) -> None:
        self._nc = nc
        self._queue: deque[tuple[str, bytes]] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._idle = asyncio.Event()
        self._idle.set()
        self._task = asyncio.get_running_loop().create_task(self._run(), name="nats outbox")

    def put(self, subject: str, payload: bytes) -> None:
        """Queue one message (never blocks)."""
        self._queue.append((subject, payload))
        self._idle.clear()
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def drain(self) -> None:
        """Wait until everything queued has been handed to NATS and flushed."""
        await self._idle.wait()
        with contextlib.suppress(Exception):
            await self._nc.flush(timeout=2)

    async def close(self) -> None:
        """Publish what is queued, then stop."""
        await self.drain()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        queue, publish = self._queue, self._nc.publish
        while True:
            while queue:
                subject, payload = queue.popleft()
                try:
                    await publish(subject, payload)
                except Exception as exc:  # a closed connection: the peer is told by heartbeats
                    log.warning("publish to %s failed: %s", subject, exc)
            self._idle.set()
            self._waiter = loop.create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None


class RemoteEndpoint:
    """On the home: a WebSocket held by another process, reached over NATS."""

    def __init__(self, outbox: Outbox, subject: str) -> None:
        self._outbox = outbox
        self.subject = subject

    def send_text(self, text: str) -> None:
        """See :meth:`broker.relay.backend.Endpoint.send_text`."""
        self._outbox.put(self.subject, wire.text(text))

    def send_binary(self, data: bytes) -> None:
        """See :meth:`broker.relay.backend.Endpoint.send_binary`."""
        self._outbox.put(self.subject, wire.binary(data))

    def close(self, code: int, reason: str) -> None:
        """See :meth:`broker.relay.backend.Endpoint.close`."""
        self._outbox.put(self.subject, wire.close(code, reason))


@dataclass(slots=True)
class Attachment:
    """On the process holding a WebSocket whose session's core runs elsewhere."""

    session_id: str
    ep: str
    endpoint: Endpoint
    to: str = ""
    """``agent`` or the viewer id the home gave."""
    home: str = ""
    """The home node's id (for its heartbeat)."""
    sub: Any = field(default=None, repr=False)


def deliver(endpoint: Endpoint, data: bytes) -> None:
    """Hand one frame from the home to the local WebSocket."""
    kind = data[:1]
    if kind == wire.BINARY:
        endpoint.send_binary(data[1:])
    elif kind == wire.TEXT:
        endpoint.send_text(data[1:].decode())
    elif kind == wire.CLOSE:
        endpoint.close(*wire.parse_close(data))
