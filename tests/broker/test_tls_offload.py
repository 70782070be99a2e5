"""TLS offload (issue 16, deploy/tls-offload/haproxy.cfg): a real HAProxy terminates
TLS with the broker's certificate; the broker listens on plain HTTP on 127.0.0.1.
Through the proxy a session relays as over the broker's own TLS, the viewer's Origin
and the ``clearpane.v1`` subprotocol are still enforced, and ``X-Forwarded-For`` is
believed only from the proxy (which replaces whatever a client sent)."""

from __future__ import annotations

import shutil
from pathlib import Path

import aiohttp
import pytest

from broker.testing import RunningBroker
from broker.testing_haproxy import running_behind_haproxy
from protocol import messages as m
from protocol.media import AckFrame, ScreenUpdateFrame, parse_binary
from tests.broker.conftest import agent_request, engineer_token, join, update, ws_connect

pytestmark = pytest.mark.skipif(
    shutil.which("haproxy") is None and not Path("/usr/sbin/haproxy").exists(),
    reason="haproxy is not installed (make system-deps)",
)
LOGIN = "/api/v1/auth/login"


async def test_a_session_relays_through_the_proxy_with_origin_and_subprotocol_enforced(
    tmp_path: Path,
) -> None:
    async with running_behind_haproxy(tmp_path) as off:
        b = off.broker
        assert b.ws_url.startswith("wss://") and b.base_url != off.direct_url
        sid, agent_token = await agent_request(b)
        async with ws_connect(b, "/ws/agent") as agent:
            assert agent.ws.subprotocol == "clearpane.v1"
            await agent.say(m.Hello(token=agent_token, client="a"))
            await agent.expect("welcome")
            eng = await engineer_token(b)
            for origin in ("https://evil.example", off.direct_url, None):
                # The broker's own plain origin is not the public one either.
                async with ws_connect(b, "/ws/viewer", origin=origin) as bad:
                    assert await bad.closed() == (4403, "forbidden")
            async with ws_connect(b, "/ws/viewer", origin=b.base_url, subprotocols=None) as bare:
                code, _ = await bare.closed()  # refused before its hello
                (refusal,) = [e for e in bare.seen if isinstance(e, m.ErrorMessage)]
                assert code == 4401 and "subprotocol" in refusal.message
            ws_token = await join(b, eng, sid, ["view"])
            async with ws_connect(b, "/ws/viewer", origin=b.base_url) as viewer:
                await viewer.say(m.Hello(token=ws_token, client="v"))
                vid = (await viewer.expect("welcome")).viewer_id
                req = await agent.expect("consent.request")
                await agent.say(
                    m.ConsentGrant(request_id=req.request_id, viewer_id=vid, permissions=("view",))
                )
                await viewer.expect("consent.grant")
                await agent.ws.send(update(1))
                frame = parse_binary(await viewer.expect_binary())
                assert isinstance(frame, ScreenUpdateFrame) and frame.seq == 1
                await viewer.ws.send(bytes(AckFrame(1)))
                ack = parse_binary(await agent.expect_binary())
                assert isinstance(ack, AckFrame) and ack.seq == 1


async def _login(
    http: aiohttp.ClientSession, url: str, username: str, password: str, spoofed: str
) -> int:
    async with http.post(
        url + LOGIN,
        json={"username": username, "password": password},
        headers={"X-Forwarded-For": spoofed},
    ) as r:
        return r.status


async def test_forwarded_for_is_the_proxys_word_not_a_clients(tmp_path: Path) -> None:
    async with running_behind_haproxy(tmp_path, login_address_free_failures=3) as off:
        b: RunningBroker = off.broker
        name, password = await b.create_user("erin", "engineer")
        async with b.client() as http:
            # Through the proxy: every attempt claims another address; the proxy replaces
            # the header with the real one, so the attempts count against one address.
            for i in range(4):
                assert await _login(http, b.base_url, f"u{i}", "wrong!", f"203.0.113.{i}") == 401
            assert await _login(http, b.base_url, name, password, "198.51.100.1") == 429
        # Straight to the broker's plain port from an address that is not the proxy
        # (127.0.0.2): the header is ignored, the attempts count against 127.0.0.2.
        conn = aiohttp.TCPConnector(local_addr=("127.0.0.2", 0))
        async with aiohttp.ClientSession(connector=conn) as direct:
            for i in range(4):
                status = await _login(direct, off.direct_url, f"w{i}", "wrong!", f"192.0.2.{i}")
                assert status == 401
            assert await _login(direct, off.direct_url, name, password, "192.0.2.99") == 429
