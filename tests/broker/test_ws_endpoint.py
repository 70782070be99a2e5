"""``WsEndpoint``'s send fast path over a real aiohttp WebSocket on 127.0.0.1: frames
written at once while the sender task is idle, handed over to it when the transport
asks to drain, in order, and still bounded for a peer that does not read."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import aiohttp
from aiohttp import web

from broker.ws import MAX_QUEUED_BYTES, WsEndpoint

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
        await asyncio.sleep(0)  # let the sender task park itself: the fast path is open
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


async def test_burst_keeps_order_across_the_handover_to_the_sender() -> None:
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
        # The transport asked to drain during the burst, so the rest went through the
        # queue (if it had not, this test would not exercise the handover).
        assert seen["queued_after_burst"] > 0
        # Idle again: the next frame is written at once, nothing waits in the queue.
        endpoint = endpoints[0]
        await asyncio.sleep(0.05)
        endpoint.send_binary(numbered(n))
        assert endpoint.queued == 0
        assert struct.unpack_from(">I", await client.receive_bytes(timeout=10))[0] == n


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
        assert msg.type is aiohttp.WSMsgType.CLOSE or client.closed
        assert client.close_code == 1008
