"""One peer's outgoing side: a bounded queue, written once per loop turn.

Sending never blocks a reader: the relay queues a frame (``send_text`` /
``send_binary``, synchronous). Everything queued for a peer during one loop turn is
written at the end of the turn as **one** buffer of WebSocket frames
(:class:`broker.wsio.framewriter.FrameWriter`: one TLS record stream, one system
call, instead of one coroutine and one write per message — issue 16). When the
peer's socket is slow (the transport's buffer above its high-water mark) the peer's
own task waits for it to drain and then writes what piled up, so a slow peer waits
alone. Screen updates are bounded by the relay's per-viewer credit (SPEC §6);
anything else that piles up past the bound (a peer that stopped reading its socket)
closes that peer with 1008, so memory stays bounded whatever a peer does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque

from aiohttp import web

from broker.wsio.framewriter import OP_BINARY, OP_TEXT, FrameWriter
from protocol.limits import MAX_BINARY_MESSAGE

__all__ = ["CLOSE_TIMEOUT_S", "MAX_QUEUED_BYTES", "MAX_QUEUED_FRAMES", "WsEndpoint"]

log = logging.getLogger(__name__)

MAX_QUEUED_FRAMES = 2048
"""Frames waiting for one peer's socket before the peer counts as stalled."""
MAX_QUEUED_BYTES = 3 * MAX_BINARY_MESSAGE
"""Bytes waiting for one peer's socket (≈ the SPEC §6 bound of updates) before 1008."""
CLOSE_TIMEOUT_S = 2.0


class WsEndpoint:
    """One peer's outgoing side (the relay's ``Endpoint``): queue, bound, one write
    per loop turn, and a task that waits out a slow socket and closes."""

    def __init__(self, ws: web.WebSocketResponse, label: str) -> None:
        self.ws = ws
        self.label = label
        self._out = FrameWriter(ws)
        self._loop = asyncio.get_running_loop()
        self._queue: deque[tuple[int, bytes]] = deque()
        self._bytes = 0
        self._closing: tuple[int, str] | None = None
        self._scheduled = False  # a write at the end of this loop turn is due
        self._slow = False  # the socket is backed up: the task writes after it drains
        # The parked task waits on one bare future (cheaper than an Event).
        self._waiter: asyncio.Future[None] | None = None
        self._task = self._loop.create_task(self._run(), name=f"send {label}")

    @property
    def queued(self) -> int:
        """Frames waiting to be sent."""
        return len(self._queue)

    def send_text(self, text: str) -> None:
        """Queue a text frame (counted in UTF-8 bytes, as it goes on the wire)."""
        self._put(OP_TEXT, text.encode())

    def send_binary(self, data: bytes) -> None:
        """Queue a binary frame (the bytes object is shared until it is written)."""
        self._put(OP_BINARY, data)

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

    def _put(self, opcode: int, data: bytes) -> None:
        if self._closing is not None:
            return
        size = len(data)
        if len(self._queue) >= MAX_QUEUED_FRAMES or self._bytes + size > MAX_QUEUED_BYTES:
            log.warning("%s is not reading its socket: closing it", self.label)
            self._queue.clear()
            self._bytes = 0
            self.close(1008, "too slow: not reading")
            return
        self._queue.append((opcode, data))
        self._bytes += size
        if not self._scheduled and not self._slow:
            self._scheduled = True
            self._loop.call_soon(self._flush)

    def _flush(self) -> None:
        """End of the loop turn: everything queued goes out in one write."""
        self._scheduled = False
        if self._slow or self._task.done():
            return
        try:
            self._write_queued()
        except (ConnectionError, RuntimeError) as exc:
            log.debug("%s: send failed: %s", self.label, exc)
            self.stop()

    def _write_queued(self) -> None:
        queue = self._queue
        if not queue:
            return
        out = self._out
        if not out.usable or self.ws.closed:
            queue.clear()  # the socket is closing: nothing may follow its close frame
            self._bytes = 0
            return
        if out.paused:  # let the task wait for the socket to drain (the reader goes on)
            self._slow = True
            self._wake()
            return
        frames = list(queue)
        queue.clear()
        self._bytes = 0
        out.write(frames)

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def _run(self) -> None:
        ws = self.ws
        loop = self._loop
        queue = self._queue
        try:
            while True:
                if self._slow or (queue and self._closing is not None):
                    await self._out.drain()
                    self._slow = False
                    self._write_queued()
                    if self._slow:
                        continue
                if self._closing is not None and not queue:
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
            if self._closing is None:
                self._closing = (1000, "")
