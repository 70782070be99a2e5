"""Issue 14, items 4 and 6 against the real broker: logout, disable, password and
role changes revoke tokens at once on every request and WebSocket hello (store-backed:
a second broker node on the same database refuses them too); a viewer join token opens
one connection only."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from broker.server import start_server
from broker.testing import RunningBroker, fast_passwords, running_broker
from protocol import messages as m
from tests.broker.conftest import agent_request, join, staff, ws_connect


async def _uid(broker: RunningBroker, admin: str, username: str) -> str:
    users = (await broker.request("GET", "/api/v1/users", token=admin))[1]["users"]
    return str(next(u["id"] for u in users if u["username"] == username))


@asynccontextmanager
async def second_node(first: RunningBroker) -> AsyncIterator[RunningBroker]:
    """Another broker process on the same data directory and database (a second node
    behind the load balancer): same keys, same store, its own memory."""
    server = await start_server(first.config, passwords=fast_passwords())
    node = RunningBroker(
        server=server,
        base_url=f"https://127.0.0.1:{server.port}",
        ws_url=f"wss://127.0.0.1:{server.port}",
        ca_cert_path=first.ca_cert_path,
        admin_username=first.admin_username,
        admin_password=first.admin_password,
        _ssl=ssl.create_default_context(cafile=str(first.ca_cert_path)),
    )
    try:
        yield node
    finally:
        if node._http is not None:
            await node._http.close()
        await server.stop()


async def test_logout_revokes_the_token_on_every_node(tmp_path: Path) -> None:
    async with running_broker(tmp_path) as node_a, second_node(node_a) as node_b:
        token = await staff(node_a, "erin", "engineer")
        other = await node_a.login(*await node_a.create_user("olga", "engineer"))
        assert (await node_b.request("GET", "/api/v1/me", token=token))[0] == 200
        status, body, _ = await node_a.request("POST", "/api/v1/auth/logout", token=token)
        assert status == 200 and body == {"status": "logged_out"}
        for node in (node_a, node_b):
            status, body, _ = await node.request("GET", "/api/v1/me", token=token)
            assert status == 401 and "revoked" in body["error"]["message"]
        assert (await node_b.request("GET", "/api/v1/me", token=other))[0] == 200


async def test_disable_password_and_role_change_revoke_every_token(
    broker: RunningBroker,
) -> None:
    admin = await staff(broker, "root", "admin")
    for username, change in (
        ("dora", {"disabled": True}),
        ("pete", {"password": "a brand new password"}),
        ("rosa", {"role": "reviewer"}),
    ):
        token = await staff(broker, username, "engineer")
        assert (await broker.request("GET", "/api/v1/me", token=token))[0] == 200
        uid = await _uid(broker, admin, username)
        status, body, _ = await broker.request(
            "PATCH", f"/api/v1/users/{uid}", token=admin, json=change
        )
        assert status == 200, body
        assert (await broker.request("GET", "/api/v1/me", token=token))[0] == 401, change
    # A change that grants nothing new (skills) keeps the token valid.
    token = await staff(broker, "sam", "engineer")
    uid = await _uid(broker, admin, "sam")
    await broker.request("PATCH", f"/api/v1/users/{uid}", token=admin, json={"skills": ["mac"]})
    assert (await broker.request("GET", "/api/v1/me", token=token))[0] == 200
    # After the password change, the new password gives a working token.
    fresh = await broker.login("pete", "a brand new password")
    assert (await broker.request("GET", "/api/v1/me", token=fresh))[0] == 200


async def test_join_token_is_single_use_and_revocable_at_hello(tmp_path: Path) -> None:
    async with running_broker(tmp_path) as b:
        sid, agent_token = await agent_request(b)
        async with ws_connect(b, "/ws/agent") as agent:
            await agent.say(m.Hello(token=agent_token, client="a"))
            await agent.expect("welcome")
            user, password = await b.create_user("eve", "engineer", name="Eve Engineer")
            eng = await b.login(user, password)
            ws_token = await join(b, eng, sid, ["view"])
            async with ws_connect(b, "/ws/viewer", origin=b.base_url) as first:
                await first.say(m.Hello(token=ws_token, client="v"))
                assert (await first.expect("welcome")).viewer_id
                async with ws_connect(b, "/ws/viewer", origin=b.base_url) as second:
                    await second.say(m.Hello(token=ws_token, client="v"))
                    assert (await second.closed())[0] == 4401
                    (refusal,) = [e for e in second.seen if isinstance(e, m.ErrorMessage)]
                    assert "already used" in refusal.message
            # A join token of a user whose password changed is refused at hello.
            admin = await staff(b, "root", "admin")
            unused = await join(b, eng, sid, ["view"])
            uid = await _uid(b, admin, "eve")
            await b.request(
                "PATCH", f"/api/v1/users/{uid}", token=admin, json={"password": "x" * 12}
            )
            async with ws_connect(b, "/ws/viewer", origin=b.base_url) as late:
                await late.say(m.Hello(token=unused, client="v"))
                assert (await late.closed())[0] == 4401
                (refusal,) = [e for e in late.seen if isinstance(e, m.ErrorMessage)]
                assert "revoked" in refusal.message
