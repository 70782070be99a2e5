"""Test helpers for webhooks: :class:`WebhookReceiver`, a REAL aiohttp server on
127.0.0.1 that records what it receives and answers with a chosen status (or late),
and can be stopped and started again on the same port (a receiver that goes down and
comes back)."""

from __future__ import annotations

import asyncio
import socket
import ssl
from dataclasses import dataclass

from aiohttp import web

__all__ = ["ReceivedWebhook", "WebhookReceiver", "free_port"]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True, slots=True)
class ReceivedWebhook:
    """One request the receiver got: path, headers and the raw body."""

    path: str
    headers: dict[str, str]
    body: bytes


class WebhookReceiver:
    """A webhook receiver on ``http://127.0.0.1:<port>/hook``. Not listening until
    :meth:`start`; ``status`` and ``delay_s`` shape its answers."""

    def __init__(self, port: int | None = None, *, status: int = 200) -> None:
        self.port = port if port is not None else free_port()
        self.status = status
        self.delay_s = 0.0
        self.received: list[ReceivedWebhook] = []
        self._runner: web.AppRunner | None = None
        self._tls = False
        self._arrived = asyncio.Condition()

    @property
    def url(self) -> str:
        """Where to send webhooks."""
        return f"{'https' if self._tls else 'http'}://127.0.0.1:{self.port}/hook"

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        async with self._arrived:
            self.received.append(ReceivedWebhook(request.path, dict(request.headers), body))
            self._arrived.notify_all()
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        return web.Response(status=self.status, text="ok")

    async def start(self, ssl_context: ssl.SSLContext | None = None) -> None:
        """Listen (again) on the receiver's port; with ``ssl_context``, over TLS."""
        app = web.Application()
        app.router.add_post("/hook", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port, ssl_context=ssl_context).start()
        self._tls = ssl_context is not None

    async def stop(self) -> None:
        """Stop listening (connections are then refused)."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def wait_for(self, count: int, timeout_s: float = 5.0) -> list[ReceivedWebhook]:
        """Wait until at least ``count`` requests arrived; return them all."""
        async with asyncio.timeout(timeout_s), self._arrived:
            await self._arrived.wait_for(lambda: len(self.received) >= count)
        return list(self.received)
