"""Issue 14, item 11: before ``hello`` a peer gets little — frames over
MAX_HELLO_MESSAGE close the connection, and the broker holds at most so many sockets
without a verified hello per address and in total (429 before the upgrade)."""

from __future__ import annotations

import contextlib
from pathlib import Path

import aiohttp
import pytest

from broker.testing import FakeClock, RunningBroker, running_broker
from broker.wsio.preauth import PreAuthGate
from protocol import messages as m
from protocol.connection import Connection
from protocol.limits import MAX_HELLO_MESSAGE
from tests.broker.conftest import agent_request


def test_connection_refuses_a_large_frame_before_hello() -> None:
    conn = Connection(now_ms=0, require_hello=True)
    conn.receive_text('{"type":"hello","token":"' + "x" * MAX_HELLO_MESSAGE + '"}', 1)
    assert conn.closed and conn.close_code == 1009
    # After hello the normal 64 KiB limit applies: the same size is accepted.
    conn = Connection(now_ms=0, require_hello=True)
    conn.receive_text(m.serialize_control(m.Hello(token="t", client="c")), 1)
    conn.receive_text(m.serialize_control(m.Chat(text="y" * 3000)), 2)
    assert not conn.closed


def test_gate_counts_per_address_and_in_total() -> None:
    gate = PreAuthGate(per_address=2, total=3)
    a, b, c, d = object(), object(), object(), object()
    assert gate.enter(a, "1.1.1.1") and gate.enter(b, "1.1.1.1")
    assert not gate.enter(c, "1.1.1.1")  # per address
    assert gate.enter(c, "2.2.2.2")
    assert not gate.enter(d, "3.3.3.3")  # in total
    gate.leave(a)
    gate.leave(a)  # idempotent
    assert gate.count("1.1.1.1") == 1 and gate.enter(d, "3.3.3.3")


async def _open(http: aiohttp.ClientSession, b: RunningBroker) -> aiohttp.ClientWebSocketResponse:
    return await http.ws_connect(
        b.ws_url + "/ws/agent", protocols=("clearpane.v1",), ssl=b.ssl_context()
    )


async def test_broker_caps_sockets_without_hello(tmp_path: Path) -> None:
    async with (
        running_broker(tmp_path, clock=FakeClock(1_800_000_000_000), ws_preauth_per_address=3) as b,
        b.client() as http,
        contextlib.AsyncExitStack() as stack,
    ):
        idle = [await _open(http, b) for _ in range(3)]
        for ws in idle:
            stack.push_async_callback(ws.close)
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await _open(http, b)
        assert refused.value.status == 429
        # One of them says hello with a valid token: it no longer counts.
        _sid, token = await agent_request(b)
        await idle[0].send_str(m.serialize_control(m.Hello(token=token, client="a")))
        welcome = m.parse_control((await idle[0].receive()).data)
        assert welcome.type == "welcome"
        extra = await _open(http, b)
        stack.push_async_callback(extra.close)
        # An oversized first frame closes the socket (too_large, 1009).
        await extra.send_str('{"type":"hello","token":"' + "x" * 20_000 + '"}')
        while (await extra.receive()).type == aiohttp.WSMsgType.TEXT:
            pass  # the error message comes first, then the close
        assert extra.close_code == 1009
