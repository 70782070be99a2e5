"""``WsEndpoint`` over a real aiohttp WebSocket on 127.0.0.1: a burst larger than the
socket takes at once arrives complete and in order (the sender waits for the paused
transport), and a peer that does not read is closed 1008 (the queue is bounded).

No fixed sleeps: each test waits for the state it needs (the burst queued and the
server's transport paused; the flood done) before the client starts reading."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
from aiohttp import web

from broker.wsio import MAX_QUEUED_BYTES, WsEndpoint
from tests.helpers import eventually

CHUNK = 32 * 1024


@asynccontextmanager
async def serve(
    script: Callable[[WsEndpoint], None],
) -> AsyncIterator[tuple[aiohttp.ClientWebSocketResponse, list[WsEndpoint], list[Any]]]:
    """A server whose handler runs ``script`` on a fresh endpoint; yields a client, the
    endpoints and the server side's protocols (``writing_paused`` tells when the
    transport stopped taking bytes)."""
    endpoints: list[WsEndpoint] = []
    protocols: list[Any] = []

    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=64 << 20)
        await ws.prepare(request)
        endpoint = WsEndpoint(ws, "test peer")
        endpoints.append(endpoint)
        protocols.append(request.protocol)
        await asyncio.sleep(0)  # let the sender task park itself
        script(endpoint)
        async for _ in ws:
            pass
        endpoint.stop()
        await endpoint.wait_closed()
        return ws

    app = web.Application()
    app.router.add_get("/ws", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        async with (
            aiohttp.ClientSession() as http,
            http.ws_connect(f"http://127.0.0.1:{port}/ws", max_msg_size=64 << 20) as client,
        ):
            yield client, endpoints, protocols
    finally:
        await runner.cleanup()


def numbered(i: int) -> bytes:
    return struct.pack(">I", i) + bytes(CHUNK - 4)


async def test_burst_keeps_order_while_the_transport_drains() -> None:
    n = 300  # ≈ 9.8 MB in one synchronous burst: more than the socket takes at once
    seen: dict[str, int] = {}

    def burst(endpoint: WsEndpoint) -> None:
        for i in range(n):
            endpoint.send_binary(numbered(i))
        seen["queued_after_burst"] = endpoint.queued
        endpoint.send_text("last")

    async with serve(burst) as (client, endpoints, protocols):
        # The client reads only once the server's transport stopped taking bytes.
        await eventually(
            lambda: "queued_after_burst" in seen and protocols[0].writing_paused,
            what="the burst queued and the server's transport paused",
        )
        got = [struct.unpack_from(">I", (await client.receive_bytes(timeout=10)))[0]
               for _ in range(n)]  # fmt: skip
        assert await client.receive_str(timeout=10) == "last"
        assert got == list(range(n))
        # The whole burst was queued at once: the sender, not the caller, writes it.
        assert seen["queued_after_burst"] == n
        # Drained and idle again: the next frame goes out, and nothing stays queued.
        endpoint = endpoints[0]
        endpoint.send_binary(numbered(n))
        assert struct.unpack_from(">I", await client.receive_bytes(timeout=10))[0] == n
        assert endpoint.queued == 0


async def test_a_peer_that_does_not_read_is_closed_1008() -> None:
    big = bytes(1024 * 1024)
    flooded = asyncio.Event()

    def flood(endpoint: WsEndpoint) -> None:
        for _ in range(2 * MAX_QUEUED_BYTES // len(big)):
            endpoint.send_binary(big)
        flooded.set()

    async with serve(flood) as (client, _, _protocols):
        await asyncio.wait_for(flooded.wait(), 10)  # the client has read nothing so far
        while True:
            msg = await client.receive(timeout=10)
            if msg.type is not aiohttp.WSMsgType.BINARY:
                break
        # The close frame says 1008 (the client may record 1006 once the TCP side ends).
        assert msg.type is aiohttp.WSMsgType.CLOSE and msg.data == 1008
