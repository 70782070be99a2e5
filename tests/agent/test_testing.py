"""The test helpers of ``agent.testing`` against the REAL broker: a scripted viewer
must see everything the broker sent before it closed, even when its own reply to
the last message races the close (SPEC §7: ``session.ended`` precedes close 4000)."""

from __future__ import annotations

from pathlib import Path

from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

from agent.testing import ScriptedViewer
from broker.testing import running_broker
from protocol import messages as m
from protocol.e2e import AgentKeyAgreement

ROUNDS = 3


async def test_scripted_viewer_keeps_reading_when_its_reply_meets_the_close(
    tmp_path: Path,
) -> None:
    async with running_broker(tmp_path) as b:
        await b.create_user("eve", "engineer", name="Eve Engineer", password="pw-eve-eve-eve")
        token = await b.login("eve", "pw-eve-eve-eve")
        for i in range(ROUNDS):
            status, body, _ = await b.request(
                "POST", "/api/v1/agent/requests",
                json={"description": f"round {i}", "client_name": "Alice"},
            )  # fmt: skip
            assert status == 201, body
            sid, agent_token = body["session_id"], body["token"]
            async with connect(
                b.ws_url + "/ws/agent",
                ssl=b.ssl_context(),
                subprotocols=[Subprotocol("clearpane.v1")],
                compression=None,
            ) as agent:

                async def expect(kind: type[m.ControlMessage]) -> m.ControlMessage:
                    while True:
                        raw = await agent.recv()
                        if isinstance(raw, str):
                            msg = m.parse_control(raw)
                            if isinstance(msg, kind):
                                return msg

                await agent.send(m.serialize_control(m.Hello(token=agent_token, client="t")))
                await expect(m.Welcome)
                status, body, _ = await b.request(
                    "POST", f"/api/v1/sessions/{sid}/join", token=token,
                    json={"permissions": ["view"]},
                )  # fmt: skip
                assert status == 200, body
                viewer = ScriptedViewer(b.ws_url + "/ws/viewer", b.ssl_context(), b.base_url)
                await viewer.connect(body["ws_token"])
                try:
                    request = await expect(m.ConsentRequest)
                    assert isinstance(request, m.ConsentRequest)
                    await agent.send(m.serialize_control(m.ConsentGrant(
                        request_id=request.request_id, viewer_id=viewer.viewer_id,
                        permissions=("view",),
                    )))  # fmt: skip
                    await viewer.start_keys()
                    commit = await expect(m.KeyCommit)
                    assert isinstance(commit, m.KeyCommit)
                    public = AgentKeyAgreement(sid, viewer.viewer_id).on_commit(commit.commitment)
                    # key.agent, then at once the kill: the viewer's key.reveal (its
                    # reply to key.agent) meets the broker's session.ended + close.
                    await agent.send(m.serialize_control(
                        m.KeyAgent(viewer_id=viewer.viewer_id, agent_public=public)
                    ))  # fmt: skip
                    await agent.send(m.serialize_control(m.Kill()))
                    await viewer.wait_for(lambda v=viewer: v.close_code is not None)
                    assert viewer.close_code == 4000
                    assert viewer.of_type(m.KeyAgent), f"round {i}"
                    ended = viewer.of_type(m.SessionEnded)
                    assert ended and ended[0].reason == "killed_by_client", f"round {i}"
                finally:
                    await viewer.close()
