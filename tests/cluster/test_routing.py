"""Keeping sessions in one process, and a node cut off from NATS (issue 15).

* A viewer's join answers the ``ws_url`` of the node holding the session (its
  ``CLEARPANE_NODE_URL``, the node's own HAProxy frontend): the viewer lands where the
  agent is and no frame crosses NATS. The pages' CSP lets them connect there.
* Node 2's NATS link is stalled (a real TCP proxy stops passing bytes, nothing closes):
  node 2 fences itself — the viewer it holds for a session homed on node 1 is closed
  with 1013 and rejoins through the load balancer and the join's ``ws_url`` to node 1,
  where the session goes on; the session homed on node 2 that had a viewer on node 1
  is ended cleanly (``failed``, the log sealed); node 2's health check answers 503
  until the link is back.
"""

from __future__ import annotations

import json
import time

import aiohttp

from audit.checkpoint import Checkpoint, verify_sealed_log
from audit.jsonl import load_records
from broker.relay.nats import LINK_LOST, RETRY_CLOSE
from protocol import messages as m
from protocol.media import AckFrame, ScreenUpdateFrame, parse_binary
from tests.broker.conftest import update
from tests.cluster.conftest import LinkProxy
from tests.cluster.testing import Api, signer_key, start_session, ws
from tests.helpers import eventually
from tools.cluster import LocalCluster


def wss(url: str) -> str:
    return url.replace("https://", "wss://")


async def health(api: Api, base: str) -> int:
    async with api.http.get(base + "/api/v1/health") as r:
        return r.status


async def test_a_viewer_is_sent_to_the_node_holding_the_session(cluster: LocalCluster) -> None:
    api = Api(cluster)
    try:
        _, eng = await api.engineer(cluster)
        for home in (0, 1):
            async with ws(cluster.pinned_url(home), "/ws/agent", api.ssl) as agent:
                sid, _ = await start_session(api, cluster, eng, agent, ["view"])
                join = await api.call("POST", f"/sessions/{sid}/join", eng, {"permissions": ["view"]})  # fmt: skip
                assert join["ws_url"] == wss(cluster.pinned_url(home)) + "/ws/viewer"
                url = join["ws_url"].removesuffix("/ws/viewer").replace("wss://", "https://")
                async with ws(url, "/ws/viewer", api.ssl, origin=cluster.url) as viewer:
                    await viewer.say(m.Hello(token=join["ws_token"], client="test-viewer"))
                    vid = (await viewer.expect("welcome")).viewer_id
                    req = await agent.expect("consent.request")
                    await agent.say(m.ConsentGrant(request_id=req.request_id, viewer_id=vid,
                                                   permissions=("view",)))  # fmt: skip
                    await viewer.expect("consent.grant")
                    await agent.ws.send(update(1, full=True))
                    frame = parse_binary(await viewer.expect_binary())
                    assert isinstance(frame, ScreenUpdateFrame) and frame.seq == 1
                    await viewer.ws.send(bytes(AckFrame(1)))
                    assert isinstance(parse_binary(await agent.expect_binary()), AckFrame)
                    await agent.say(m.Kill())
                    await viewer.expect("session.ended")
                # In one process: neither node attached anything through NATS.
                for node in cluster.nodes:
                    assert not node.saw(rf"session {sid}: .* attached to its home"), node.name

        # The pages may open WebSockets to both nodes (learnt from their heartbeats).
        async def csp() -> str | None:
            async with api.http.get(cluster.url + "/") as r:
                policy = r.headers["Content-Security-Policy"]
            wanted = [wss(cluster.pinned_url(i)) for i in (0, 1)]
            return policy if all(w in policy for w in wanted) else None

        policy = await eventually(csp, timeout=10, interval=0.2, what="both nodes in the CSP")
        assert "connect-src 'self' wss://127.0.0.1:" in policy
    finally:
        await api.http.close()


async def test_a_node_that_loses_nats_fences_itself(
    cluster: LocalCluster, nats_link: LinkProxy
) -> None:
    api = Api(cluster)
    try:
        admin, eng = await api.engineer(cluster)
        assert await health(api, cluster.pinned_url(1)) == 200
        async with (
            ws(cluster.pinned_url(0), "/ws/agent", api.ssl) as agent1,
            ws(cluster.pinned_url(1), "/ws/agent", api.ssl) as agent2,
        ):
            # Session 1: home node 1, its viewer held by node 2 (the cross path, forced).
            sid1, token1 = await start_session(api, cluster, eng, agent1, ["view"])
            # Session 2: home node 2, its viewer held by node 1.
            sid2, token2 = await start_session(api, cluster, eng, agent2, ["view"])
            async with (
                ws(cluster.pinned_url(1), "/ws/viewer", api.ssl, origin=cluster.url) as viewer1,
                ws(cluster.pinned_url(0), "/ws/viewer", api.ssl, origin=cluster.url) as viewer2,
            ):
                for agent, viewer, token in ((agent1, viewer1, token1), (agent2, viewer2, token2)):
                    await viewer.say(m.Hello(token=token, client="test-viewer"))
                    vid = (await viewer.expect("welcome")).viewer_id
                    req = await agent.expect("consent.request")
                    await agent.say(m.ConsentGrant(request_id=req.request_id, viewer_id=vid,
                                                   permissions=("view",)))  # fmt: skip
                    await viewer.expect("consent.grant")
                for sid, node in ((sid1, 1), (sid2, 0)):
                    pattern = rf"session {sid}: v\d+ attached to its home"
                    await eventually(lambda n=node, p=pattern: cluster.nodes[n].saw(p))

                t0 = time.monotonic()
                nats_link.stall()
                # Node 2's viewer of session 1: closed with "try again" (not ended).
                code, _ = await viewer1.closed(timeout=15)
                fenced_s = time.monotonic() - t0
                assert code == RETRY_CLOSE
                assert not any(isinstance(x, m.SessionEnded) for x in viewer1.seen)
                # Session 2 (homed on node 2, viewer elsewhere) ends cleanly, both sides.
                ended = await agent2.expect("session.ended", timeout=10)
                assert ended.reason == "failed"
                assert (await viewer2.expect("session.ended", timeout=10)).reason == "failed"
                assert await health(api, cluster.pinned_url(1)) == 503

                # The viewer of session 1 rejoins: through the load balancer (node 2 is out
                # of rotation) and the join's ws_url to node 1, where the session goes on.
                join = await api.call("POST", f"/sessions/{sid1}/join", eng, {"permissions": ["view"]})  # fmt: skip
                assert join["ws_url"] == wss(cluster.pinned_url(0)) + "/ws/viewer"
                async with ws(cluster.pinned_url(0), "/ws/viewer", api.ssl, origin=cluster.url) as again:  # fmt: skip
                    await again.say(m.Hello(token=join["ws_token"], client="test-viewer"))
                    vid = (await again.expect("welcome")).viewer_id
                    req = await agent1.expect("consent.request", timeout=10)
                    assert req.viewer_id == vid
                    await agent1.say(m.ConsentGrant(request_id=req.request_id, viewer_id=vid,
                                                    permissions=("view",)))  # fmt: skip
                    await again.expect("consent.grant")
                    await agent1.ws.send(update(7, full=True))
                    assert parse_binary(await again.expect_binary()).seq == 7  # type: ignore[union-attr]
                    assert not any(isinstance(x, m.SessionEnded) for x in agent1.seen)
        assert fenced_s < 8, f"node 2 fenced itself after {fenced_s:.1f} s"

        # Session 2's evidence: ended by its own node, sealed, the reason written down.
        folder = cluster.data_dir / "sessions" / sid2
        records = load_records(folder / "log.jsonl")
        assert records[-1].event == "session.ended"
        assert records[-1].detail["resolution"] == LINK_LOST
        last = json.loads((folder / "checkpoints.jsonl").read_text().splitlines()[-1])
        report = verify_sealed_log(records, Checkpoint.from_dict(last), signer_key(cluster),
                                   session_id=sid2, final=True)  # fmt: skip
        assert report.ok, report
        row = await api.call("GET", f"/sessions/{sid2}", admin)
        assert row["state"] == "ended" and row["outcome"] == "failed"
    finally:
        nats_link.heal()

        async def healthy() -> bool:
            try:
                return await health(api, cluster.pinned_url(1)) == 200
            except aiohttp.ClientError:
                return False

        try:
            await eventually(healthy, timeout=20, interval=0.2, what="node 2 serving again")
        finally:
            await api.http.close()


async def test_an_agent_on_a_fenced_node_reconnects_to_a_healthy_one(
    cluster: LocalCluster, nats_link: LinkProxy
) -> None:
    """The agent's socket held by node 2 for a session homed on node 1: node 2 loses NATS
    and closes it with 1013; the agent comes back through the load balancer, which has
    taken node 2 out of rotation, and the session goes on at its home."""
    api = Api(cluster)
    try:
        _, eng = await api.engineer(cluster)
        async with ws(cluster.pinned_url(0), "/ws/agent", api.ssl) as first:
            sid, token = await start_session(api, cluster, eng, first, ["view"])
            welcome = next(x for x in first.seen if isinstance(x, m.Welcome))
        async with (
            ws(cluster.pinned_url(0), "/ws/viewer", api.ssl, origin=cluster.url) as viewer,
            ws(cluster.pinned_url(1), "/ws/agent", api.ssl) as agent,
        ):
            # The agent reconnects to node 2: attached over NATS to its home on node 1.
            await agent.say(m.Hello(token=welcome.resume_token, client="test-agent/cluster"))
            await agent.expect("welcome")
            await eventually(lambda: cluster.nodes[1].saw(
                rf"session {sid}: agent attached to its home node1"))  # fmt: skip
            await viewer.say(m.Hello(token=token, client="test-viewer"))
            vid = (await viewer.expect("welcome")).viewer_id
            req = await agent.expect("consent.request")
            await agent.say(m.ConsentGrant(request_id=req.request_id, viewer_id=vid,
                                           permissions=("view",)))  # fmt: skip
            await viewer.expect("consent.grant")

            haproxy_log = cluster.workdir / "haproxy.log"
            downs = haproxy_log.read_text().count("node2 is DOWN")
            nats_link.stall()
            code, _ = await agent.closed(timeout=15)
            assert code == RETRY_CLOSE  # "try again", not the end of the session
            # Node 2 answers 503 and HAProxy's check takes it out of the rotation.
            await eventually(
                lambda: haproxy_log.read_text().count("node2 is DOWN") > downs,
                timeout=10,
                what="node 2 out of rotation",
            )
            async with ws(cluster.url, "/ws/agent", api.ssl) as again:
                await again.say(m.Hello(token=welcome.resume_token, client="test-agent/cluster"))
                await again.expect("welcome", timeout=10)
                await again.ws.send(update(3, full=True))
                frame = parse_binary(await viewer.expect_binary(timeout=10))
                assert isinstance(frame, ScreenUpdateFrame) and frame.seq == 3
                assert not any(isinstance(x, m.SessionEnded) for x in viewer.seen)
    finally:
        nats_link.heal()

        async def healthy() -> bool:
            try:
                return await health(api, cluster.pinned_url(1)) == 200
            except aiohttp.ClientError:
                return False

        try:
            await eventually(healthy, timeout=20, interval=0.2, what="node 2 serving again")
        finally:
            await api.http.close()
