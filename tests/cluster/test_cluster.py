"""A whole session across two broker processes behind HAProxy, on NATS and PostgreSQL:
the agent on node 1, the engineer on node 2 (each pinned through its own HAProxy
frontend), consent, frames with flow control, input under control, chat, the kill,
the sealed log and the recording afterwards. Then node failure: the agent's node is
killed mid-session; the viewer on the other node is told, the agent reconnecting
through the load balancer is told the session ended, and the evidence is intact.

The agent and viewer are scripted protocol peers (tests/broker/test_ws.py's ``Peer``)
over real TLS WebSockets; everything between them is the real thing."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed

from audit.checkpoint import Checkpoint, verify_sealed_log
from audit.jsonl import load_records
from audit.recording import DIR_AGENT, FRAME_BINARY, FRAME_TEXT, open_recording
from broker.relay.nats import NODE_FAILED
from protocol import messages as m
from protocol.limits import MAX_INFLIGHT_UPDATES
from protocol.media import AckFrame, InputFrame, ScreenUpdateFrame, parse_binary
from tests.broker.conftest import update
from tests.cluster.testing import Api, signer_key, start_session, ws
from tests.helpers import eventually
from tools.cluster import LocalCluster


async def test_a_session_across_two_nodes(cluster: LocalCluster) -> None:
    api = Api(cluster)
    try:
        _, eng = await api.engineer(cluster)
        async with ws(cluster.pinned_url(0), "/ws/agent", api.ssl) as agent:
            sid, token = await start_session(api, cluster, eng, agent, ["view", "control", "video"])
            async with ws(
                cluster.pinned_url(1), "/ws/viewer", api.ssl, origin=cluster.url
            ) as viewer:
                await viewer.say(m.Hello(token=token, client="test-viewer"))
                vid = (await viewer.expect("welcome")).viewer_id
                await eventually(
                    lambda: cluster.nodes[1].saw(
                        rf"session {sid}: {vid} attached to its home node1"
                    )
                )
                req = await agent.expect("consent.request")
                await agent.ws.send(update(1))  # before consent: never relayed
                await agent.say(m.ConsentGrant(request_id=req.request_id, viewer_id=vid,
                                               permissions=("view", "control", "video")))  # fmt: skip
                assert set((await viewer.expect("consent.grant")).permissions) == {
                    "view",
                    "control",
                    "video",
                }

                # Frames, latest wins: without acks at most MAX_INFLIGHT_UPDATES arrive.
                for seq in range(2, 12):
                    await agent.ws.send(update(seq, full=seq == 2))
                got = [
                    parse_binary(await viewer.expect_binary()).seq
                    for _ in range(MAX_INFLIGHT_UPDATES)
                ]  # type: ignore[union-attr]
                assert got == [2, 3]
                await viewer.ws.send(bytes(AckFrame(3)))
                latest = parse_binary(await viewer.expect_binary())
                assert isinstance(latest, ScreenUpdateFrame) and latest.seq == 11
                ack = parse_binary(await agent.expect_binary())
                assert isinstance(ack, AckFrame) and ack.seq == 3

                # Input under control reaches the agent, from the other process.
                await viewer.ws.send(bytes(InputFrame(1, 1, b"\x5a" * 32)))
                frame = parse_binary(await agent.expect_binary())
                assert isinstance(frame, InputFrame) and frame.sender == 1

                await viewer.say(m.Chat(text="Hello Alice"))
                assert (await agent.expect("chat")).from_.viewer_id == vid
                await agent.say(m.Chat(text="Thanks!"))
                assert (await viewer.expect("chat")).text == "Thanks!"

                # The signalling of a video call crosses the processes both ways.
                await agent.say(m.RtcOffer(sdp="v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\n"))
                assert (await viewer.expect("rtc.offer")).sdp.startswith("v=0")
                await viewer.say(m.RtcAnswer(sdp="v=0\r\no=- 2 2 IN IP4 127.0.0.1\r\ns=-\r\n"))
                assert (await agent.expect("rtc.answer")).sdp.startswith("v=0")

                await agent.say(m.Kill())
                assert (await agent.expect("session.ended")).reason == "killed_by_client"
                assert (await viewer.expect("session.ended")).reason == "killed_by_client"
                assert (await viewer.closed())[0] == 4000
                checkpoint = await agent.expect("checkpoint")
        admin, _ = await api.engineer(cluster)
        row = await api.call("GET", f"/sessions/{sid}", admin)
        assert row["state"] == "ended" and row["outcome"] == "killed_by_client"

        folder = cluster.data_dir / "sessions" / sid
        records = load_records(folder / "log.jsonl")
        events = [r.event for r in records]
        assert events[-1] == "session.ended"
        for name in ("consent.granted", "input.forwarded", "chat.sent", "kill.triggered"):
            assert name in events
        report = verify_sealed_log(records, Checkpoint.from_dict(checkpoint.checkpoint),
                                   signer_key(cluster), session_id=sid, final=True)  # fmt: skip
        assert report.ok, report
        streamed = [msg.record for msg in agent.seen if isinstance(msg, m.LogEvent)]
        assert [r["hash"] for r in streamed] == [r.hash for r in records]
        recording = await _recording(folder, "Thanks!")
        seqs = [parse_binary(f.payload).seq for f in recording.frames
                if f.direction == DIR_AGENT and f.frame_type == FRAME_BINARY
                and f.payload[0] == ScreenUpdateFrame.kind]  # fmt: skip
        assert 2 in seqs and 11 in seqs and 1 not in seqs  # relayed ones, none before consent
    finally:
        await api.http.close()


async def _recording(folder: Path, text: str) -> Any:
    """The recording once it holds ``text`` (the home node writes every half second)."""

    def holding() -> Any:
        if not (folder / "recording.cprec").exists():
            return None
        rec = open_recording(folder)
        found = any(f.frame_type == FRAME_TEXT and text in f.text() for f in rec.frames)
        return rec if found else None

    return await eventually(holding, timeout=10, interval=0.1, what=f"{text!r} recorded")


async def test_the_agents_node_dies_mid_session(cluster: LocalCluster) -> None:
    """Decided (docs/operations.md §6): the session ends cleanly from the shared store."""
    api = Api(cluster)
    try:
        admin, eng = await api.engineer(cluster)
        async with ws(cluster.pinned_url(0), "/ws/agent", api.ssl) as agent:
            sid, token = await start_session(api, cluster, eng, agent, ["view"])
            welcome = next(msg for msg in agent.seen if isinstance(msg, m.Welcome))
            async with ws(
                cluster.pinned_url(1), "/ws/viewer", api.ssl, origin=cluster.url
            ) as viewer:
                await viewer.say(m.Hello(token=token, client="test-viewer"))
                vid = (await viewer.expect("welcome")).viewer_id
                req = await agent.expect("consent.request")
                await agent.say(m.ConsentGrant(request_id=req.request_id, viewer_id=vid,
                                               permissions=("view",)))  # fmt: skip
                await viewer.expect("consent.grant")
                await agent.ws.send(update(1))
                assert parse_binary(await viewer.expect_binary()).seq == 1  # type: ignore[union-attr]

                t0 = time.monotonic()
                cluster.kill(0)  # the agent's node, SIGKILL
                ended = await viewer.expect("session.ended", timeout=10)
                told_s = time.monotonic() - t0
                assert ended.reason == "failed" and (await viewer.closed())[0] == 4000
                with pytest.raises(ConnectionClosed):  # its node is gone: so is the socket
                    async with asyncio.timeout(5):
                        while True:
                            await agent.ws.recv()
        # The agent reconnects through the load balancer (node 1 is gone from it).
        async with ws(cluster.url, "/ws/agent", api.ssl) as again:
            await again.say(m.Hello(token=welcome.resume_token, client="test-agent/cluster"))
            error = await again.expect("error")
            assert error.code == "session_ended"
            assert (await again.closed())[0] == 4000

        async def ended() -> Any:
            row = await api.call("GET", f"/sessions/{sid}", admin)
            return row if row["state"] == "ended" else None

        row = await eventually(ended, timeout=10, interval=0.1, what="the session ended")
        assert row["outcome"] == "failed"
        # Evidence intact: the chain node 1 wrote, continued and sealed by node 2.
        folder = cluster.data_dir / "sessions" / sid
        records = load_records(folder / "log.jsonl")
        assert records[-1].event == "session.ended"
        assert (
            records[-1].detail["reason"] == "failed"
            and records[-1].detail["resolution"] == NODE_FAILED
        )
        assert "consent.granted" in [r.event for r in records]
        last = json.loads((folder / "checkpoints.jsonl").read_text().splitlines()[-1])
        report = verify_sealed_log(records, Checkpoint.from_dict(last), signer_key(cluster),
                                   session_id=sid, final=True)  # fmt: skip
        assert report.ok, report
        assert told_s < 6, f"the viewer was told after {told_s:.1f} s"
    finally:
        await api.http.close()
