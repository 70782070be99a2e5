"""/ws/agent and /ws/viewer against the REAL broker (TLS, SQLite) with a scripted
agent and viewer speaking protocol messages through the `websockets` client."""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed

from audit.checkpoint import Checkpoint, verify_sealed_log
from audit.jsonl import load_records
from broker.pki import PKI
from broker.relay.control import RELAY
from broker.store import queries
from broker.store.db import DB
from broker.testing import FakeClock, running_broker
from protocol import messages as m
from protocol.limits import MAX_TEXT_MESSAGE
from protocol.media import AckFrame, ScreenUpdateFrame, parse_binary
from tests.broker.conftest import (
    Peer,
    agent_request,
    engineer_token,
    join,
    update,
    wait_for_row,
    ws_connect,
)


async def test_full_session_happy_path(tmp_path: Path) -> None:
    async with running_broker(tmp_path) as b:
        sid, agent_token = await agent_request(b)
        async with ws_connect(b, "/ws/agent") as agent:
            assert agent.ws.subprotocol == "clearpane.v1"
            await agent.say(m.Hello(token=agent_token, client="test-agent/0.1"))
            welcome = await agent.expect("welcome")
            assert welcome.role == "agent" and welcome.session_id == sid
            assert welcome.state == "waiting" and welcome.resume_token
            assert (await agent.expect("audit.recipient")).certificate.startswith("-----BEGIN")
            await wait_for_row(b, sid, "waiting")

            eng = await engineer_token(b)
            ws_token = await join(b, eng, sid, ["view", "control"])
            async with ws_connect(b, "/ws/viewer", origin=b.base_url) as viewer:
                await viewer.say(m.Hello(token=ws_token, client="test-viewer"))
                vwelcome = await viewer.expect("welcome")
                vid = vwelcome.viewer_id
                assert vwelcome.role == "engineer" and vid == "v1"

                joined = await agent.expect("viewer.joined")
                assert joined.viewer_id == vid and joined.user.name == "Eve Engineer"
                req = await agent.expect("consent.request")
                assert set(req.permissions) == {"view", "control"}

                # nothing is relayed before consent
                await agent.ws.send(update(1))
                await agent.say(
                    m.ConsentGrant(request_id=req.request_id, viewer_id=vid, permissions=("view",))
                )
                grant = await viewer.expect("consent.grant")
                assert grant.permissions == ("view",)
                await wait_for_row(b, sid, "live")
                row = await queries.get_session(b.app[DB], sid)
                assert row is not None and row.answered_at_ms is not None

                await agent.ws.send(update(2))
                frame = parse_binary(await viewer.expect_binary())
                assert isinstance(frame, ScreenUpdateFrame) and frame.seq == 2
                await viewer.ws.send(bytes(AckFrame(2)))
                ack = parse_binary(await agent.expect_binary())
                assert isinstance(ack, AckFrame) and ack.seq == 2

                await viewer.say(m.Chat(text="Hello Alice, I can see your screen"))
                chat = await agent.expect("chat")
                assert chat.from_.viewer_id == vid and chat.at_ms
                await agent.say(m.Chat(text="Thanks!"))
                chat = await viewer.expect("chat")
                assert chat.text == "Thanks!" and chat.from_.kind == "agent"

                await agent.say(m.Kill())
                ended = await agent.expect("session.ended")
                assert ended.reason == "killed_by_client"
                vended = await viewer.expect("session.ended")
                assert vended.reason == "killed_by_client"
                code, _ = await viewer.closed()
                assert code == 4000
                checkpoint = await agent.expect("checkpoint")

        row = await wait_for_row(b, sid, "ended")
        assert row.end_reason == "killed_by_client"

        log_path = b.data_dir / "sessions" / sid / "log.jsonl"
        records = load_records(log_path)
        events = [r.event for r in records]
        assert events[0] == "session.requested"
        for name in ("viewer.joined", "consent.requested", "consent.granted", "chat.sent"):
            assert name in events
        assert events[-2:] == ["kill.triggered", "session.ended"]
        pki = b.app[PKI]
        cp = Checkpoint.from_dict(checkpoint.checkpoint)
        report = verify_sealed_log(
            records, cp, pki.signing_key.public_key(), session_id=sid, final=True
        )
        assert report.ok, report
        # the agent's streamed copy is the same chain
        streamed = [msg.record for msg in agent.seen if isinstance(msg, m.LogEvent)]
        assert [r["hash"] for r in streamed] == [r.hash for r in records]


async def test_rest_end_ends_the_live_session(tmp_path: Path) -> None:
    async with running_broker(tmp_path) as b:
        sid, agent_token = await agent_request(b)
        async with ws_connect(b, "/ws/agent") as agent:
            await agent.say(m.Hello(token=agent_token, client="a"))
            await agent.expect("welcome")
            eng = await engineer_token(b)
            ws_token = await join(b, eng, sid, ["view"])
            async with ws_connect(b, "/ws/viewer", origin=b.base_url) as viewer:
                await viewer.say(m.Hello(token=ws_token, client="v"))
                await viewer.expect("welcome")
                await agent.expect("consent.request")
                status, body, _ = await b.request(
                    "POST",
                    f"/api/v1/sessions/{sid}/end",
                    token=eng,
                    json={"resolution": "Replaced the toner"},
                )
                assert status == 200, body
                assert body["state"] == "ended"
                ended = await agent.expect("session.ended")
                assert ended.reason == "ended_by_engineer" and ended.by == "Eve Engineer"
                assert (await viewer.closed())[0] == 4000
        row = await wait_for_row(b, sid, "ended")
        assert row.resolution == "Replaced the toner"


@pytest.mark.parametrize("case", ["missing", "garbage", "wrong_type", "expired", "not_hello"])
async def test_hello_and_auth_failures_close_4401(tmp_path: Path, case: str) -> None:
    clock = FakeClock()
    async with running_broker(tmp_path, clock=clock) as b:
        sid, agent_token = await agent_request(b)
        async with ws_connect(b, "/ws/agent") as agent:
            if case == "missing":
                # say nothing: the broker gives up after HANDSHAKE_TIMEOUT_S; send a
                # binary frame instead, which is "hello not first" just as well
                await agent.ws.send(update(1))
            elif case == "garbage":
                await agent.say(m.Hello(token="not-a-jwt", client="a"))
            elif case == "wrong_type":
                eng = await engineer_token(b)
                await agent.say(m.Hello(token=eng, client="a"))  # an access token
            elif case == "expired":
                clock.advance(b.config.agent_token_ttl_s + 60)
                await agent.say(m.Hello(token=agent_token, client="a"))
            else:
                await agent.say(m.Chat(text="hi"))
            code, reason = await agent.closed()
            assert code == 4401, (code, reason)
            assert reason
            assert "unauthorized" in agent.errors()
        row = await queries.get_session(b.app[DB], sid)
        assert row is not None and row.state == "requested"


async def test_handshake_timeout_closes_4401(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import broker.ws

    monkeypatch.setattr(broker.ws, "HANDSHAKE_TIMEOUT_S", 0.3)
    async with running_broker(tmp_path) as b, ws_connect(b, "/ws/agent") as agent:
        code, reason = await agent.closed()
        # SPEC §10.5: the close reason is the error code; the error message says why.
        assert (code, reason) == (4401, "unauthorized")
        assert [e.message for e in agent.seen if isinstance(e, m.ErrorMessage)] == [
            "no hello in time"
        ]


async def test_viewer_token_on_agent_endpoint_and_bad_origin(tmp_path: Path) -> None:
    async with running_broker(tmp_path) as b:
        sid, agent_token = await agent_request(b)
        async with ws_connect(b, "/ws/agent") as agent:
            await agent.say(m.Hello(token=agent_token, client="a"))
            await agent.expect("welcome")
            eng = await engineer_token(b)
            ws_token = await join(b, eng, sid, ["view"])
            async with ws_connect(b, "/ws/agent") as impostor:
                await impostor.say(m.Hello(token=ws_token, client="a"))
                assert (await impostor.closed())[0] == 4401
            for origin in ("https://evil.example", None):
                async with ws_connect(b, "/ws/viewer", origin=origin) as viewer:
                    # closed before it can even say hello
                    code, reason = await viewer.closed()
                    assert (code, reason) == (4403, "forbidden")
                    (refusal,) = [e for e in viewer.seen if isinstance(e, m.ErrorMessage)]
                    assert "origin" in refusal.message
            # the agent was never asked about the rejected viewers
            await agent.say(m.Chat(text="anyone?"))  # wrong_state: nobody is live
            err = await agent.expect("error")
            assert err.code == "wrong_state"
            assert not [msg for msg in agent.seen if msg.type == "consent.request"]


async def test_a_second_hello_is_fatal(tmp_path: Path) -> None:
    """SPEC §1: one ``hello`` per connection; a second closes with 4401 (the core's rule)."""
    async with running_broker(tmp_path) as b:
        _, agent_token = await agent_request(b)
        async with ws_connect(b, "/ws/agent") as agent:
            await agent.say(m.Hello(token=agent_token, client="a"))
            await agent.expect("welcome")
            await agent.say(m.Hello(token=agent_token, client="a"))
            assert await agent.closed() == (4401, "unauthorized")
            assert agent.errors() == ["unauthorized"]


async def test_malformed_and_oversize_frames(tmp_path: Path) -> None:
    async with running_broker(tmp_path) as b:
        _, agent_token = await agent_request(b)
        hello = m.Hello(token=agent_token, client="a")
        async with ws_connect(b, "/ws/agent") as agent:
            await agent.say(hello)
            await agent.expect("welcome")
            # unknown type and unknown binary kind: reported / skipped, connection stays
            await agent.ws.send(json.dumps({"type": "teleport"}))
            assert (await agent.expect("error")).code == "unknown_type"
            await agent.ws.send(b"\x7f whatever")
            await agent.ws.send(json.dumps({"type": "chat"}))
            assert (await agent.expect("error")).code == "invalid_field"
            # malformed JSON is fatal: 4400
            await agent.ws.send("{not json")
            code, reason = await agent.closed()
            assert code == 4400 and reason
        async with ws_connect(b, "/ws/agent") as agent:
            await agent.say(hello)
            await agent.expect("welcome")
            await agent.ws.send(b"\x01\x00")  # a screen update shorter than its header
            assert (await agent.closed())[0] == 4400
        async with ws_connect(b, "/ws/agent") as agent:
            await agent.say(hello)
            await agent.expect("welcome")
            await agent.ws.send(json.dumps({"type": "chat", "text": "x" * (MAX_TEXT_MESSAGE + 10)}))
            assert (await agent.closed())[0] == 1009
        async with ws_connect(b, "/ws/agent") as agent:
            await agent.say(hello)
            await agent.expect("welcome")
            await agent.ws.send(b"\x01" + b"\x00" * (8 * 1024 * 1024 + 1))
            assert (await agent.closed())[0] == 1009


async def test_control_rate_limit_closes_4429(tmp_path: Path) -> None:
    async with running_broker(tmp_path) as b:
        _, agent_token = await agent_request(b)
        async with ws_connect(b, "/ws/agent") as agent:
            await agent.say(m.Hello(token=agent_token, client="a"))
            await agent.expect("welcome")
            for _ in range(300):
                await agent.ws.send(json.dumps({"type": "refresh"}))
            code, _ = await agent.closed()
            assert code == 4429
            assert "rate_limited" in agent.errors()


async def test_shutdown_ends_live_sessions_and_seals_logs(tmp_path: Path) -> None:
    async with running_broker(tmp_path) as b:
        sid, agent_token = await agent_request(b)
        agent_cm = ws_connect(b, "/ws/agent")
        agent = await agent_cm.__aenter__()
        try:
            await agent.say(m.Hello(token=agent_token, client="a"))
            await agent.expect("welcome")
            await b.server.stop()
            ended = await agent.expect("session.ended")
            assert ended.reason == "broker_shutdown"
            await agent.expect("checkpoint")
            assert (await agent.closed())[0] == 1001
        finally:
            await agent_cm.__aexit__(None, None, None)
        records = load_records(b.data_dir / "sessions" / sid / "log.jsonl")
        assert records[-1].event == "session.ended"
        assert records[-1].detail["reason"] == "broker_shutdown"


async def test_stalled_viewer_stays_bounded_and_input_needs_control(tmp_path: Path) -> None:
    from broker.ws import RelayService

    async with running_broker(tmp_path) as b:
        sid, agent_token = await agent_request(b)
        async with ws_connect(b, "/ws/agent") as agent:
            await agent.say(m.Hello(token=agent_token, client="a"))
            await agent.expect("welcome")
            eng = await engineer_token(b)
            ws_token = await join(b, eng, sid, ["view", "control"])
            async with ws_connect(b, "/ws/viewer", origin=b.base_url) as viewer:
                await viewer.say(m.Hello(token=ws_token, client="v"))
                vid = (await viewer.expect("welcome")).viewer_id
                req = await agent.expect("consent.request")
                await agent.say(
                    m.ConsentGrant(request_id=req.request_id, viewer_id=vid, permissions=("view",))
                )
                await viewer.expect("consent.grant")
                # input without control (and with a forged sender) never reaches the agent
                from protocol.media import InputFrame

                await viewer.ws.send(bytes(InputFrame(1, 1, b"\x00" * 32)))
                await viewer.ws.send(bytes(InputFrame(7, 2, b"\x00" * 32)))
                assert (await viewer.expect("error")).code == "not_granted"
                # the viewer now stops reading and acking; the agent floods
                for seq in range(1, 301):
                    await agent.ws.send(update(seq, full=False))
                await agent.say(m.Chat(text="still there?"))
                while (await agent.expect("log.event")).record["event"] != "chat.sent":
                    pass  # once the chat is logged, the flood before it was processed
                service = b.app[RELAY]
                assert isinstance(service, RelayService)
                session = service.backend.session(sid)
                assert session is not None
                flow = session.flow(vid)
                assert flow.inflight == 2 and flow.pending is not None
                assert flow.pending.seq == 300
                assert all(e.queued <= 64 for e in service.endpoints)
                assert not [f for f in agent.binary if parse_binary(f).kind == 0x02]


async def read_and_ack(viewer: Peer, order: list[str]) -> int:
    """Read until the close (returning its code), acking every update as it is drawn;
    an ack that meets the close is dropped and reading goes on."""
    try:
        while True:
            raw = await viewer.ws.recv()
            if isinstance(raw, bytes):
                frame = parse_binary(raw)
                if isinstance(frame, ScreenUpdateFrame):
                    order.append("update")
                    with contextlib.suppress(ConnectionClosed):
                        await viewer.ws.send(bytes(AckFrame(frame.seq)))
            else:
                order.append(m.parse_control(raw).type)
    except ConnectionClosed as exc:
        assert exc.rcvd is not None
        return exc.rcvd.code


async def test_session_ended_always_precedes_the_close_on_kill(tmp_path: Path) -> None:
    """Kill with a viewer connected that is busy acking a stream: every round, the
    viewer reads ``session.ended`` and only then the 4000 close (WsEndpoint drains its
    queue before closing; nothing else closes the socket first)."""
    async with running_broker(tmp_path) as b:
        eng = await engineer_token(b)
        for round_ in range(8):
            sid, agent_token = await agent_request(b)
            async with ws_connect(b, "/ws/agent") as agent:
                await agent.say(m.Hello(token=agent_token, client="test-agent"))
                await agent.expect("welcome")
                ws_token = await join(b, eng, sid, ["view"])
                async with ws_connect(b, "/ws/viewer", origin=b.base_url) as viewer:
                    await viewer.say(m.Hello(token=ws_token, client="test-viewer"))
                    vid = (await viewer.expect("welcome")).viewer_id
                    req = await agent.expect("consent.request")
                    grant = m.ConsentGrant(
                        request_id=req.request_id, viewer_id=vid, permissions=("view",)
                    )
                    await agent.say(grant)
                    await viewer.expect("consent.grant")
                    order: list[str] = []
                    reader = asyncio.create_task(read_and_ack(viewer, order))
                    for seq in range(1, 4 + round_ % 4):
                        await agent.ws.send(update(seq, full=seq == 1))
                    await agent.say(m.Kill())
                    async with asyncio.timeout(5):
                        code = await reader
                    assert code == 4000, (round_, order)
                    texts = [t for t in order if t != "update"]
                    assert texts and texts[-1] == "session.ended", (round_, order)
