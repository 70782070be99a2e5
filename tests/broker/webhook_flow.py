"""A scripted real session for the webhook and summary tests: a client request, the
agent and an engineer's viewer over real WebSockets to the real broker, consent
granted, input applied (counts only), chat both ways, view revoked and granted
again, a rating and the end through the REST API."""

from __future__ import annotations

from dataclasses import dataclass

from broker.store import queries
from broker.store.db import DB
from broker.testing import RunningBroker
from protocol import messages as m
from tests.broker.conftest import agent_request, join, wait_for_row, ws_connect


@dataclass(frozen=True, slots=True)
class FlowResult:
    """What the flow did, for the assertions."""

    session_id: str
    ticket_id: str
    engineer_username: str
    viewer_id: str


async def run_session(
    b: RunningBroker,
    *,
    engineer: str = "eve",
    resolution: str = "Toner replaced",
    organisation: str | None = None,
) -> FlowResult:
    """Run the session described in the module docstring; return its ids."""
    if organisation is None:
        sid, agent_token = await agent_request(b)
    else:
        status, body, _ = await b.request(
            "POST",
            "/api/v1/agent/requests",
            json={
                "description": "My printer prints blank pages",
                "client_name": "Alice",
                "organisation": organisation,
            },
        )
        assert status == 201, body
        sid, agent_token = body["session_id"], body["token"]
    user, password = await b.create_user(
        engineer,
        "engineer",
        name="Eve Engineer",
        organisations=() if organisation is None else (organisation,),
    )
    eng = await b.login(user, password)
    async with ws_connect(b, "/ws/agent") as agent:
        await agent.say(m.Hello(token=agent_token, client="test-agent/0.1"))
        await agent.expect("welcome")
        await wait_for_row(b, sid, "waiting")
        ws_token = await join(b, eng, sid, ["view", "control"])
        async with ws_connect(b, "/ws/viewer", origin=b.base_url) as viewer:
            await viewer.say(m.Hello(token=ws_token, client="test-viewer"))
            vid = (await viewer.expect("welcome")).viewer_id
            req = await agent.expect("consent.request")
            await agent.say(
                m.ConsentGrant(
                    request_id=req.request_id, viewer_id=vid, permissions=("control", "view")
                )
            )
            await viewer.expect("consent.grant")
            await wait_for_row(b, sid, "live")
            await agent.say(
                m.LogLocal(
                    event="input.applied",
                    detail={"clicks": 3, "keys": 11, "special": "Enter", "scrolls": 1, "moves": 9},
                )
            )
            await agent.say(
                m.LogLocal(
                    event="input.applied",
                    detail={"clicks": 1, "keys": 4, "special": "", "scrolls": 0, "moves": 2},
                )
            )
            await viewer.say(m.Chat(text="Hello Alice, I can see your screen"))
            await agent.expect("chat")
            await agent.say(m.Chat(text="Thanks!"))
            await viewer.expect("chat")
            await agent.say(m.ConsentRevoke(viewer_id=vid, permissions=("control",)))
            await viewer.expect("consent.revoke")
            await viewer.say(m.PermissionRequest(permissions=("control",)))
            req2 = await agent.expect("consent.request")
            await agent.say(
                m.ConsentDeny(request_id=req2.request_id, viewer_id=vid, permissions=("control",))
            )
            await viewer.expect("consent.deny")
            await agent.say(m.Rating(score=5, comment="quick"))
            status, body, _ = await b.request(
                "POST", f"/api/v1/sessions/{sid}/end", token=eng, json={"resolution": resolution}
            )
            assert status == 200, body
            await agent.expect("session.ended")
    row = await wait_for_row(b, sid, "ended")
    return FlowResult(sid, row.ticket_id, engineer, vid)


async def integration_key(b: RunningBroker, admin_token: str, scopes: list[str]) -> str:
    """A new integration account with one API key of ``scopes``; the key."""
    username = f"desk{len(await queries.list_users(b.app[DB]))}"
    await b.create_user(username, "integration")
    user = await queries.get_user_by_username(b.app[DB], username)
    assert user is not None
    status, body, _ = await b.request(
        "POST",
        "/api/v1/api-keys",
        token=admin_token,
        json={"user_id": user.id, "name": "help desk", "scopes": scopes},
    )
    assert status == 201, body
    return str(body["key"])
