"""``broker.wsio.framewriter``: several WebSocket messages in one transport write,
over a real aiohttp WebSocket on 127.0.0.1.

The module is the one place that relies on aiohttp internals; these tests fail if
aiohttp changes them (the frame writer's ``transport`` / ``protocol`` / ``_closing``,
the protocol's ``writing_paused`` and ``_drain_helper``)."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from broker.wsio import WsEndpoint
from broker.wsio.framewriter import OP_BINARY, OP_TEXT, FrameWriter, frame_header


@asynccontextmanager
async def serve(
    script: Callable[[web.WebSocketResponse], Any],
) -> AsyncIterator[aiohttp.ClientWebSocketResponse]:
    """A server whose handler runs ``script(ws)`` once prepared; yields a client."""

    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(compress=False, max_msg_size=1 << 20)
        await ws.prepare(request)
        result = script(ws)
        if inspect.isawaitable(result):
            await result
        async for _ in ws:
            pass
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
            http.ws_connect(f"http://127.0.0.1:{port}/ws", max_msg_size=1 << 20) as client,
        ):
            yield client
    finally:
        await runner.cleanup()


def test_headers_follow_rfc6455_length_forms() -> None:
    assert frame_header(OP_BINARY, 0) == b"\x82\x00"
    assert frame_header(OP_TEXT, 125) == b"\x81\x7d"
    assert frame_header(OP_BINARY, 126) == b"\x82\x7e\x00\x7e"
    assert frame_header(OP_BINARY, 65535) == b"\x82\x7e\xff\xff"
    assert frame_header(OP_BINARY, 65536) == b"\x82\x7f" + (65536).to_bytes(8, "big")


# Every length form, and a burst past the join limit (written without a copy).
@pytest.mark.parametrize("sizes", [[0, 1, 125, 126, 127, 65535, 65536, 70000], [200_000] * 3])
async def test_frames_in_one_write_arrive_as_separate_messages(sizes: list[int]) -> None:
    frames = [(OP_BINARY, bytes([i % 251]) * n) for i, n in enumerate(sizes)]
    frames.insert(2, (OP_TEXT, "héllo".encode()))
    writes: list[int] = []

    def script(ws: web.WebSocketResponse) -> None:
        out = FrameWriter(ws)
        assert out.usable and not out.paused
        transport: Any = ws._writer.transport  # type: ignore[union-attr]
        real_write, real_lines = transport.write, transport.writelines
        depth = [0]

        def counted(real: Callable[[Any], None]) -> Callable[[Any], None]:
            def call(data: Any) -> None:
                # writelines may call write itself: count the outermost call only
                writes.append(depth[0])
                depth[0] += 1
                try:
                    real(data)
                finally:
                    depth[0] -= 1

            return call

        transport.write, transport.writelines = counted(real_write), counted(real_lines)
        out.write(frames)
        transport.write, transport.writelines = real_write, real_lines

    async with serve(script) as client:
        for opcode, payload in frames:
            msg = await client.receive(timeout=10)
            if opcode == OP_TEXT:
                assert msg.type is aiohttp.WSMsgType.TEXT and msg.data == payload.decode()
            else:
                assert msg.type is aiohttp.WSMsgType.BINARY and msg.data == payload
    assert writes.count(0) == 1  # all of them in one call


async def test_not_usable_once_aiohttp_closes_and_drain_waits_for_a_paused_socket() -> None:
    states: dict[str, Any] = {}

    async def script(ws: web.WebSocketResponse) -> None:
        out = FrameWriter(ws)
        protocol: Any = ws._writer.protocol  # type: ignore[union-attr]
        assert inspect.iscoroutinefunction(protocol._drain_helper)
        # Paused by the transport's high-water mark: drain waits until it resumes.
        protocol.pause_writing()
        assert out.paused
        waiting = asyncio.ensure_future(out.drain())
        await asyncio.sleep(0)
        states["waited"] = not waiting.done()
        protocol.resume_writing()
        await asyncio.wait_for(waiting, 5)
        await out.drain()  # not paused: returns at once
        await ws.close(code=1000)
        states["usable_after_close"] = out.usable

    async with serve(script) as client:
        msg = await client.receive(timeout=10)
        assert msg.type is aiohttp.WSMsgType.CLOSE
    assert states == {"waited": True, "usable_after_close": False}


async def test_endpoint_writes_one_loop_turn_of_frames_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[int] = []
    real = FrameWriter.write

    def counting(self: FrameWriter, frames: list[tuple[int, bytes]]) -> int:
        calls.append(len(frames))
        return real(self, frames)

    monkeypatch.setattr(FrameWriter, "write", counting)

    async def script(ws: web.WebSocketResponse) -> None:
        endpoint = WsEndpoint(ws, "test peer")
        for i in range(5):  # one loop turn
            endpoint.send_binary(bytes([i]) * 10)
        endpoint.send_text("end of turn")
        await asyncio.sleep(0)  # the next turn
        endpoint.send_binary(b"next turn")

    async with serve(script) as client:
        got = [(await client.receive(timeout=10)).data for _ in range(7)]
    assert got == [bytes([i]) * 10 for i in range(5)] + ["end of turn", b"next turn"]
    assert calls == [6, 1]
