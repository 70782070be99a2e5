"""``WsEndpoint`` over a real aiohttp WebSocket on 127.0.0.1: a burst larger than the
socket takes at once arrives complete and in order (the sender waits for the paused
transport), and a peer that does not read is closed 1008 (the queue is bounded)."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import aiohttp
from aiohttp import web

from broker.wsio import MAX_QUEUED_BYTES, WsEndpoint

CHUNK = 32 * 1024


@asynccontextmanager
async def serve(
    script: Callable[[WsEndpoint], None],
) -> AsyncIterator[tuple[aiohttp.ClientWebSocketResponse, list[WsEndpoint]]]:
    """A server whose handler runs ``script`` on a fresh endpoint; yields a client."""
    endpoints: list[WsEndpoint] = []

    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=64 << 20)
        await ws.prepare(request)
        endpoint = WsEndpoint(ws, "test peer")
        endpoints.append(endpoint)
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
            yield client, endpoints
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

    async with serve(burst) as (client, endpoints):
        await asyncio.sleep(0.2)  # the client reads only now: the transport paused
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

    def flood(endpoint: WsEndpoint) -> None:
        for _ in range(2 * MAX_QUEUED_BYTES // len(big)):
            endpoint.send_binary(big)

    async with serve(flood) as (client, _):
        await asyncio.sleep(0.2)
        while True:
            msg = await client.receive(timeout=10)
            if msg.type is not aiohttp.WSMsgType.BINARY:
                break
        # The close frame says 1008 (the client may record 1006 once the TCP side ends).
        assert msg.type is aiohttp.WSMsgType.CLOSE and msg.data == 1008
