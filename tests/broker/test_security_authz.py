"""Issue 14, items 3 and 5: tickets are scoped to the engineer's organisations (the
role table in broker/auth/policy.py, with "all engineers see all" as a setting); the
ticket view lists only the sessions the engineer may open; a supervisor joins another
engineer's session only as a view-only observer."""

from __future__ import annotations

from pathlib import Path

from broker.auth.policy import TICKET_SCOPE
from broker.testing import FakeClock, RunningBroker, running_broker
from tests.broker.conftest import staff


async def _ticket(broker: RunningBroker, token: str, org: str, title: str) -> str:
    status, body, _ = await broker.request(
        "POST", "/api/v1/tickets", token=token, json={"title": title, "organisation": org}
    )
    assert status == 201, body
    return str(body["id"])


async def _set_orgs(broker: RunningBroker, admin: str, username: str, orgs: list[str]) -> None:
    users = (await broker.request("GET", "/api/v1/users", token=admin))[1]["users"]
    uid = next(u["id"] for u in users if u["username"] == username)
    status, body, _ = await broker.request(
        "PATCH", f"/api/v1/users/{uid}", token=admin, json={"organisations": orgs}
    )
    assert status == 200 and body["organisations"] == sorted(orgs), body


async def test_engineer_sees_and_edits_only_tickets_in_scope(broker: RunningBroker) -> None:
    assert TICKET_SCOPE["engineer"] == "scoped" and TICKET_SCOPE["supervisor"] == "all"
    admin = await staff(broker, "root", "admin")
    acme = await staff(broker, "erin", "engineer")
    globex = await staff(broker, "gus", "engineer")
    sup = await staff(broker, "sue", "supervisor")
    await _set_orgs(broker, admin, "erin", ["Acme"])
    await _set_orgs(broker, admin, "gus", ["Globex"])
    acme_t = await _ticket(broker, admin, "Acme", "Acme printer")
    globex_t = await _ticket(broker, admin, "Globex", "Globex VPN")
    pool_t = await _ticket(broker, admin, "", "No organisation")

    listed = (await broker.request("GET", "/api/v1/tickets", token=acme))[1]["tickets"]
    assert {t["id"] for t in listed} == {acme_t, pool_t}
    listed = (await broker.request("GET", "/api/v1/tickets", token=sup))[1]["tickets"]
    assert {t["id"] for t in listed} == {acme_t, globex_t, pool_t}
    # Another organisation's ticket: 404 alike for read, edit and invitation.
    for method, path, body in (
        ("GET", f"/api/v1/tickets/{globex_t}", None),
        ("PATCH", f"/api/v1/tickets/{globex_t}", {"status": "closed", "title": "pwned"}),
        ("POST", f"/api/v1/tickets/{globex_t}/invitations", {}),
    ):
        status, answer, _ = await broker.request(method, path, token=acme, json=body)
        assert status == 404 and answer["error"]["code"] == "not_found", (method, path)
    assert (await broker.request("GET", f"/api/v1/tickets/{globex_t}", token=globex))[1][
        "title"
    ] == "Globex VPN"
    status, body, _ = await broker.request(
        "PATCH", f"/api/v1/tickets/{acme_t}", token=acme, json={"status": "assigned"}
    )
    assert status == 200 and body["status"] == "assigned"
    # A ticket the engineer created is theirs whatever its organisation.
    own = await _ticket(broker, globex, "Initech", "Made by gus")
    assert (await broker.request("GET", f"/api/v1/tickets/{own}", token=globex))[0] == 200
    assert (await broker.request("GET", f"/api/v1/tickets/{own}", token=acme))[0] == 404


async def test_ticket_view_lists_only_sessions_the_engineer_may_open(
    broker: RunningBroker,
) -> None:
    """The same engineer was refused GET /sessions/{id} but saw it (with the client's
    name) in the ticket view."""
    from broker.store import queries
    from broker.store.db import DB

    eng = await staff(broker, "erin", "engineer")
    other = await staff(broker, "olga", "engineer")
    _, req, _ = await broker.request(
        "POST",
        "/api/v1/agent/requests",
        json={"description": "help", "client_name": "Secret Client"},
    )
    me = (await broker.request("GET", "/api/v1/me", token=other))[1]
    await queries.mark_answered(broker.app[DB], req["session_id"], me["id"], 1_800_000_060_000)
    await queries.set_session_state(broker.app[DB], req["session_id"], "live", at=1_800_000_061_000)
    sid, tid = req["session_id"], req["ticket_id"]
    assert (await broker.request("GET", f"/api/v1/sessions/{sid}", token=eng))[0] == 403
    status, body, _ = await broker.request("GET", f"/api/v1/tickets/{tid}", token=eng)
    assert status == 200 and body["sessions"] == []
    body = (await broker.request("GET", f"/api/v1/tickets/{tid}", token=other))[1]
    assert [s["id"] for s in body["sessions"]] == [sid]


async def test_all_engineers_see_all_is_a_setting(tmp_path: Path) -> None:
    async with running_broker(
        tmp_path, clock=FakeClock(1_800_000_000_000), engineers_see_all_tickets=True
    ) as broker:
        admin = await staff(broker, "root", "admin")
        eng = await staff(broker, "erin", "engineer")
        t = await _ticket(broker, admin, "Globex", "Globex VPN")
        assert (await broker.request("GET", f"/api/v1/tickets/{t}", token=eng))[0] == 200


async def test_supervisor_joins_another_engineers_session_only_as_observer(
    broker: RunningBroker,
) -> None:
    eng = await staff(broker, "erin", "engineer")
    sup = await staff(broker, "sue", "supervisor")
    ticket = await _ticket(broker, eng, "", "Printer")
    status, inv, _ = await broker.request(
        "POST", f"/api/v1/tickets/{ticket}/invitations", token=eng, json={}
    )
    assert status == 201
    status, red, _ = await broker.request(
        "POST", "/api/v1/agent/redeem", json={"code": inv["code"], "client_name": "Ann"}
    )
    assert status == 201, red
    path = f"/api/v1/sessions/{red['session_id']}/join"
    status, body, _ = await broker.request(
        "POST", path, token=sup, json={"as": "engineer", "permissions": ["view", "control"]}
    )
    assert status == 403, body  # assigned to erin: no take-over as engineer
    status, body, _ = await broker.request("POST", path, token=sup, json={})
    assert status == 200 and body["as"] == "observer" and body["permissions"] == ["view"]
    status, body, _ = await broker.request("POST", path, token=eng, json={"as": "engineer"})
    assert status == 200 and body["as"] == "engineer"


async def test_queue_applies_the_organisation_rule(broker: RunningBroker) -> None:
    admin = await staff(broker, "root", "admin")
    acme = await staff(broker, "erin", "engineer")
    globex = await staff(broker, "gus", "engineer")
    await _set_orgs(broker, admin, "erin", ["Acme"])
    await _set_orgs(broker, admin, "gus", ["Globex"])
    _, req, _ = await broker.request(
        "POST",
        "/api/v1/agent/requests",
        json={"description": "VPN", "client_name": "Gina", "organisation": "Globex"},
    )

    async def queue(token: str) -> list[str]:
        body = (await broker.request("GET", "/api/v1/queue", token=token))[1]
        return [i["session_id"] for i in body["queue"]]

    assert await queue(globex) == [req["session_id"]]
    assert await queue(acme) == []
    join = f"/api/v1/sessions/{req['session_id']}/join"
    assert (await broker.request("POST", join, token=acme, json={}))[0] == 403
    assert (await broker.request("GET", f"/api/v1/sessions/{req['session_id']}", token=acme))[
        0
    ] == 403
