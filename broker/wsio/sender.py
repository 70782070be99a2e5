"""One peer's outgoing side: a bounded queue drained by one sender task.

Sending never blocks a reader: the relay queues a frame (``send_text`` /
``send_binary``, synchronous) and this peer's own task writes it with aiohttp's
public ``send_str`` / ``send_bytes``, so a peer whose socket is slow waits alone.
Screen updates are bounded by the relay's per-viewer credit (SPEC §6); anything
else that piles up past the bound (a peer that stopped reading its socket) closes
that peer with 1008, so memory stays bounded whatever a peer does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque

from aiohttp import web

from protocol.limits import MAX_BINARY_MESSAGE

__all__ = ["CLOSE_TIMEOUT_S", "MAX_QUEUED_BYTES", "MAX_QUEUED_FRAMES", "WsEndpoint"]

log = logging.getLogger(__name__)

MAX_QUEUED_FRAMES = 2048
"""Frames waiting for one peer's socket before the peer counts as stalled."""
MAX_QUEUED_BYTES = 3 * MAX_BINARY_MESSAGE
"""Bytes waiting for one peer's socket (≈ the SPEC §6 bound of updates) before 1008."""
CLOSE_TIMEOUT_S = 2.0


class WsEndpoint:
    """One peer's outgoing side (the relay's ``Endpoint``): queue, bound, sender task."""

    def __init__(self, ws: web.WebSocketResponse, label: str) -> None:
        self.ws = ws
        self.label = label
        self._queue: deque[tuple[str | bytes, int]] = deque()
        self._bytes = 0
        self._closing: tuple[int, str] | None = None
        # The parked sender waits on one bare future (cheaper than an Event per frame).
        self._waiter: asyncio.Future[None] | None = None
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"send {label}")

    @property
    def queued(self) -> int:
        """Frames waiting to be sent."""
        return len(self._queue)

    def send_text(self, text: str) -> None:
        """Queue a text frame (counted in UTF-8 bytes, as it goes on the wire)."""
        self._put(text, len(text.encode()))

    def send_binary(self, data: bytes) -> None:
        """Queue a binary frame (the bytes object is shared, not copied)."""
        self._put(data, len(data))

    def close(self, code: int, reason: str) -> None:
        """Close after what is queued has been sent."""
        if self._closing is None:
            self._closing = (code, reason)
            self._wake()

    async def wait_closed(self, timeout: float = CLOSE_TIMEOUT_S) -> None:
        """Wait for the sender task to finish (then cancel it)."""
        with contextlib.suppress(TimeoutError, asyncio.CancelledError):
            await asyncio.wait_for(asyncio.shield(self._task), timeout)
        if not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def stop(self) -> None:
        """The connection is gone: drop the queue and end the sender."""
        self._queue.clear()
        self._bytes = 0
        if self._closing is None:
            self._closing = (1000, "")
        self._wake()

    def _put(self, item: str | bytes, size: int) -> None:
        if self._closing is not None:
            return
        if len(self._queue) >= MAX_QUEUED_FRAMES or self._bytes + size > MAX_QUEUED_BYTES:
            log.warning("%s is not reading its socket: closing it", self.label)
            self._queue.clear()
            self._bytes = 0
            self.close(1008, "too slow: not reading")
            return
        self._queue.append((item, size))
        self._bytes += size
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def _run(self) -> None:
        ws = self.ws
        loop = asyncio.get_running_loop()
        queue = self._queue
        try:
            while True:
                while queue:
                    item, size = queue.popleft()
                    self._bytes -= size
                    if ws.closed:
                        return
                    if isinstance(item, str):
                        await ws.send_str(item)
                    else:
                        await ws.send_bytes(item)
                if self._closing is not None:
                    if not ws.closed:
                        code, reason = self._closing
                        await ws.close(code=code, message=reason.encode()[:120])
                    return
                self._waiter = loop.create_future()
                try:
                    await self._waiter
                finally:
                    self._waiter = None
        except (ConnectionError, RuntimeError) as exc:
            log.debug("%s: send failed: %s", self.label, exc)
        except Exception:
            # Never die silently: a dead sender with a live queue would cut the
            # peer off from log events, consent requests and the end (G7).
            log.exception("%s: sender failed; closing the connection", self.label)
            if not ws.closed:
                with contextlib.suppress(Exception):
                    await ws.close(code=1011, message=b"internal error")
        finally:
            queue.clear()
            self._bytes = 0
