"""Faulty and hostile network peers for the agent's tests: a TCP proxy that can freeze
(a hung broker or dead network) and a scripted broker that ignores every rule."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from protocol.messages import (
    ControlMessage,
    Hello,
    Ticket,
    Welcome,
    parse_control,
    serialize_control,
)

__all__ = ["FreezableProxy", "HostileBroker"]


class FreezableProxy:
    """A TCP proxy (test side) between the agent and the broker that can *freeze*:
    it stops forwarding in both directions without closing anything — what a hung
    broker or a dead network looks like from the agent."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.frozen = asyncio.Event()
        self.port = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.bytes_to_broker = 0
        #: Connections accepted so far (a test waits for the agent to have dialed).
        self.connections = 0

    async def start(self) -> int:
        """Listen on 127.0.0.1 (a random port); return the port."""
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def drop(self) -> None:
        """Cut every current connection (a network failure); keep accepting new ones."""
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task

    def freeze(self) -> None:
        """Stop forwarding (connections stay open, bytes pile up unread)."""
        self.frozen.set()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        up_r, up_w = await asyncio.open_connection(*self.target)
        for src, dst, count in ((reader, up_w, True), (up_r, writer, False)):
            task = asyncio.create_task(self._pump(src, dst, count))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pump(
        self, src: asyncio.StreamReader, dst: asyncio.StreamWriter, count: bool
    ) -> None:
        try:
            while not self.frozen.is_set():
                data = await src.read(65536)
                if not data or self.frozen.is_set():
                    break
                if count:
                    self.bytes_to_broker += len(data)
                dst.write(data)
                await dst.drain()
            if self.frozen.is_set():
                await asyncio.Event().wait()  # hang forever, like a stopped process
        finally:
            dst.close()
            with contextlib.suppress(Exception):
                src._transport.close()  # type: ignore[attr-defined]

    async def close(self) -> None:
        """Stop listening and drop every connection."""
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task


class HostileBroker:
    """A scripted, *hostile* broker (test side): real TLS with its own throw-away
    organisation CA, the two REST calls the agent makes, and ``/ws/agent`` driven by
    the test. It forwards whatever the test wants, ignoring every rule — which is
    the point: the agent must stay safe anyway (G2, G4)."""

    def __init__(self, workdir: Any) -> None:
        from pathlib import Path

        self.workdir = Path(workdir)
        self.ws: Any = None
        self.texts: list[ControlMessage] = []
        self.binary: list[bytes] = []
        self.connected = asyncio.Event()
        self.changed = asyncio.Event()
        self.ca_pem = ""
        self.base_url = ""
        self.session_id = "s-hostile"
        self._runner: Any = None
        self._done = asyncio.Event()

    async def start(self) -> None:
        """Issue a CA + server certificate for 127.0.0.1 and listen on a random port."""
        from aiohttp import web
        from cryptography.hazmat.primitives import serialization

        from certs.keys import write_private_key_unencrypted
        from certs.testing import MemoryPki
        from certs.tls import server_context

        pki = MemoryPki.create("Hostile Org")
        leaf = pki.issuing.issue_server(ip_addresses=["127.0.0.1"])
        chain, key = self.workdir / "chain.pem", self.workdir / "key.pem"
        chain.write_bytes(leaf.fullchain_pem())
        write_private_key_unencrypted(key, leaf.key)
        self.ca_pem = pki.root.root.public_bytes(serialization.Encoding.PEM).decode()
        app = web.Application()
        app.router.add_post("/api/v1/agent/requests", self._request)
        app.router.add_get("/ws/agent", self._ws)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=server_context(chain, key))
        await site.start()
        port = self._runner.addresses[0][1]
        self.base_url = f"https://127.0.0.1:{port}"

    async def _request(self, request: Any) -> Any:
        from aiohttp import web

        return web.json_response(
            {"session_id": self.session_id, "ticket_id": "t-1", "token": "agent-token"}
        )

    async def _ws(self, request: Any) -> Any:
        from aiohttp import WSMsgType, web

        ws = web.WebSocketResponse(protocols=["clearpane.v1"])
        await ws.prepare(request)
        hello = await ws.receive()
        assert hello.type == WSMsgType.TEXT and isinstance(parse_control(hello.data), Hello)
        await ws.send_str(
            serialize_control(
                Welcome(
                    session_id=self.session_id, ticket=Ticket(id="t-1", title="Printer"),
                    role="agent", state="waiting", server_time_ms=time.time_ns() // 1_000_000,
                    resume_token="agent-token-2",
                )
            )
        )  # fmt: skip
        self.ws = ws
        self.connected.set()
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                self.texts.append(parse_control(msg.data))
            elif msg.type == WSMsgType.BINARY:
                self.binary.append(bytes(msg.data))
            self.changed.set()
        self._done.set()
        return ws

    async def send(self, msg: ControlMessage) -> None:
        """Send a control message to the agent."""
        await self.ws.send_str(serialize_control(msg))

    async def send_bytes(self, data: bytes) -> None:
        """Send a binary frame to the agent."""
        await self.ws.send_bytes(data)

    def of_type(self, kind: type[Any]) -> list[Any]:
        """Control messages received from the agent, of one type."""
        return [m for m in self.texts if isinstance(m, kind)]

    async def wait_for(self, predicate: Any, timeout: float = 10.0) -> None:
        """Wait until ``predicate()`` is true."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise TimeoutError("condition not reached")
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), 0.1)

    async def close(self) -> None:
        """Stop the server."""
        if self.ws is not None:
            await self.ws.close()
        if self._runner is not None:
            await self._runner.cleanup()
