"""Routing over the real broker (TLS, store): requests pushed to the least busy
qualified available engineer, presence set over the API (busy derived from live
sessions), away hands work back, manual assignment by the first line."""

from __future__ import annotations

from typing import Any

from broker.clock import CLOCK
from broker.routing import ROUTER
from broker.store import queries
from broker.store.db import DB
from broker.store.queries import routing as rq
from broker.testing import FakeClock, RunningBroker
from tests.broker.conftest import staff
from tests.helpers import eventually


async def _request(broker: RunningBroker, what: str = "VPN drops") -> str:
    status, data, _ = await broker.request(
        "POST", "/api/v1/agent/requests", json={"description": what, "client_name": "Client"}
    )
    assert status == 201, data
    return str(data["session_id"])


async def _presence(broker: RunningBroker, token: str, status: str) -> dict[str, Any]:
    code, body, _ = await broker.request(
        "PUT", "/api/v1/me/presence", token=token, json={"status": status}
    )
    assert code == 200, body
    return body  # type: ignore[no-any-return]


async def _uid(broker: RunningBroker, username: str) -> str:
    user = await queries.get_user_by_username(broker.app[DB], username)
    assert user is not None
    return user.id


async def _assigned_to(broker: RunningBroker, sid: str) -> str:
    async def check() -> str:
        s = await queries.get_session(broker.app[DB], sid)
        return (s.assigned_engineer_id or "") if s else ""

    return await eventually(check, timeout=5, what=f"session {sid} routed")


async def test_requests_go_to_the_least_busy_available_engineer(
    broker: RunningBroker, clock: FakeClock
) -> None:
    ann = await staff(broker, "ann", "engineer")
    bob = await staff(broker, "bob", "engineer")
    await staff(broker, "cat", "engineer")  # never said she is there: away
    await _presence(broker, ann, "available")
    await _presence(broker, bob, "available")
    ids = {name: await _uid(broker, name) for name in ("ann", "bob", "cat")}

    first = await _request(broker)
    assert await _assigned_to(broker, first) == ids["ann"]  # tie at 0: by username
    clock.advance(10)  # seconds: within the presence lease
    second = await _request(broker)
    assert await _assigned_to(broker, second) == ids["bob"]  # ann carries one
    clock.advance(10)  # seconds: within the presence lease
    third = await _request(broker)
    assert await _assigned_to(broker, third) == ids["ann"]  # 1–1: ann idle longest
    clock.advance(10)  # seconds: within the presence lease
    fourth = await _request(broker)
    assert await _assigned_to(broker, fourth) == ids["bob"]
    # both at the capacity (2): the next one waits in the shared queue
    fifth = await _request(broker)
    await broker.app[ROUTER].run_once()
    row = await queries.get_session(broker.app[DB], fifth)
    assert row is not None and row.assigned_engineer_id is None

    # the ticket says who has it, and its history that routing did it (no actor)
    ticket = await queries.get_ticket(broker.app[DB], row.ticket_id)
    first_row = await queries.get_session(broker.app[DB], first)
    assert first_row is not None
    t1 = await queries.get_ticket(broker.app[DB], first_row.ticket_id)
    assert t1 is not None and t1.assignee_id == ids["ann"] and t1.status == "assigned"
    assert ticket is not None and ticket.assignee_id is None and ticket.status == "new"
    history = await queries.list_ticket_history(broker.app[DB], t1.id)
    assert [(c.field, c.new_value, c.actor_id) for c in history][-2:] == [
        ("assignee_id", ids["ann"], None),
        ("status", "assigned", None),
    ]

    # what was routed to ann is hers: bob neither sees it in his queue nor joins it
    _, queue, _ = await broker.request("GET", "/api/v1/queue", token=bob)
    seen = {q["session_id"] for q in queue["queue"]}
    assert first not in seen and third not in seen and {second, fourth, fifth} <= seen
    code, body, _ = await broker.request("POST", f"/api/v1/sessions/{first}/join", token=bob)
    assert code == 403, body


async def test_only_qualified_engineers_get_a_request_that_needs_skills(
    broker: RunningBroker,
) -> None:
    ann = await staff(broker, "ann", "engineer", ("printers",))
    bob = await staff(broker, "bob", "engineer", ("network", "printers"))
    sid = await _request(broker)  # nobody is available: it waits unassigned
    row = await queries.get_session(broker.app[DB], sid)
    assert row is not None
    await queries.update_ticket(broker.app[DB], row.ticket_id, at=0, skills=["network"])
    await _presence(broker, ann, "available")  # becoming available routes at once …
    await broker.app[ROUTER].run_once()
    row = await queries.get_session(broker.app[DB], sid)
    assert row is not None and row.assigned_engineer_id is None  # … but ann lacks "network"
    await _presence(broker, bob, "available")
    assert await _assigned_to(broker, sid) == await _uid(broker, "bob")


async def test_presence_over_the_api_and_busy_derived_from_live_sessions(
    broker: RunningBroker, clock: FakeClock
) -> None:
    ann = await staff(broker, "ann", "engineer")
    sup = await staff(broker, "sue", "supervisor")
    code, me, _ = await broker.request("GET", "/api/v1/me/presence", token=ann)
    assert code == 200 and me["presence"] == "away" and me["set"] == "away"
    code, err, _ = await broker.request(
        "PUT", "/api/v1/me/presence", token=ann, json={"status": "sleeping"}
    )
    assert code == 400 and err["error"]["code"] == "invalid_field", err
    code, err, _ = await broker.request(
        "PUT", "/api/v1/me/presence", token=sup, json={"status": "available"}
    )
    assert code == 403, err
    assert (await _presence(broker, ann, "busy"))["presence"] == "busy"
    assert (await _presence(broker, ann, "available"))["presence"] == "available"

    # two live sessions (the capacity) make her busy until one ends
    uid = await _uid(broker, "ann")
    live = []
    for _ in range(2):
        sid = await _request(broker)
        await _assigned_to(broker, sid)
        await queries.mark_answered(broker.app[DB], sid, uid, clock.now_ms())
        await queries.set_session_state(broker.app[DB], sid, "live", at=clock.now_ms())
        live.append(sid)
    _, listed, _ = await broker.request("GET", "/api/v1/presence", token=sup)
    mine = next(e for e in listed["engineers"] if e["username"] == "ann")
    assert mine["presence"] == "busy" and mine["set"] == "available"
    assert mine["live_sessions"] == 2 and mine["load"] == 2
    waiting = await _request(broker)
    await broker.app[ROUTER].run_once()
    row = await queries.get_session(broker.app[DB], waiting)
    assert row is not None and row.assigned_engineer_id is None  # busy: nothing pushed
    await queries.mark_ended(broker.app[DB], live[0], "ended_by_engineer", clock.now_ms())
    await broker.app[ROUTER].run_once()
    assert await _assigned_to(broker, waiting) == uid


async def test_going_away_hands_waiting_requests_back_to_routing(broker: RunningBroker) -> None:
    ann = await staff(broker, "ann", "engineer")
    bob = await staff(broker, "bob", "engineer")
    await _presence(broker, ann, "available")
    sid = await _request(broker)
    assert await _assigned_to(broker, sid) == await _uid(broker, "ann")
    await _presence(broker, bob, "available")
    await _presence(broker, ann, "away")
    assert await _assigned_to(broker, sid) == await _uid(broker, "bob")


async def test_the_first_line_assigns_by_hand(broker: RunningBroker, clock: FakeClock) -> None:
    sup = await staff(broker, "sue", "supervisor")
    ann = await staff(broker, "ann", "engineer")
    await staff(broker, "cat", "engineer")  # away: the first line may still choose her
    cat_id = await _uid(broker, "cat")
    sid = await _request(broker)
    path = f"/api/v1/sessions/{sid}/assign"
    code, body, _ = await broker.request("POST", path, token=ann, json={"engineer_id": cat_id})
    assert code == 403, body  # engineers do not assign
    code, body, _ = await broker.request("POST", path, token=sup, json={"engineer_id": "nobody"})
    assert code == 400 and body["error"]["code"] == "invalid_field", body
    sup_id = await _uid(broker, "sue")
    code, body, _ = await broker.request("POST", path, token=sup, json={"engineer_id": sup_id})
    assert code == 400, body  # only engineers are assigned sessions
    code, body, _ = await broker.request(
        "POST", "/api/v1/sessions/nope/assign", token=sup, json={"engineer_id": cat_id}
    )
    assert code == 404, body
    code, body, _ = await broker.request("POST", path, token=sup, json={"engineer_id": cat_id})
    assert code == 200 and body["assigned_engineer_id"] == cat_id, body
    history = await queries.list_ticket_history(broker.app[DB], body["ticket_id"])
    assert ("assignee_id", cat_id, sup_id) in [(c.field, c.new_value, c.actor_id) for c in history]

    # back to routing: ann is available, so it is hers now
    await _presence(broker, ann, "available")
    code, body, _ = await broker.request("POST", path, token=sup, json={})
    assert code == 200, body
    assert await _assigned_to(broker, sid) == await _uid(broker, "ann")

    # a live session is transferred, not assigned
    await queries.set_session_state(broker.app[DB], sid, "live", at=clock.now_ms())
    code, body, _ = await broker.request("POST", path, token=sup, json={"engineer_id": cat_id})
    assert code == 409, body
    assert broker.app[CLOCK] is clock


async def test_staff_names_and_the_lifecycle_for_the_viewer(broker: RunningBroker) -> None:
    from broker.lifecycle import TRANSITIONS

    ann = await staff(broker, "ann", "engineer")
    await broker.create_user("hd", "integration", name="Help desk")
    gone, _ = await broker.create_user("old", "engineer", name="Left the company")
    old = await queries.get_user_by_username(broker.app[DB], gone)
    assert old is not None
    await queries.update_user(broker.app[DB], old.id, disabled=True)
    code, body, _ = await broker.request("GET", "/api/v1/staff", token=ann)
    assert code == 200, body
    names = {p["name"] for p in body["staff"]}
    assert "Help desk" not in names and "Left the company" not in names
    assert await _uid(broker, "ann") in {p["id"] for p in body["staff"]}
    code, body, _ = await broker.request("GET", "/api/v1/ticket-lifecycle", token=ann)
    assert code == 200 and body["transitions"] == {k: sorted(v) for k, v in TRANSITIONS.items()}


async def test_logging_out_makes_an_engineer_away(broker: RunningBroker) -> None:
    ann = await staff(broker, "ann", "engineer")
    await _presence(broker, ann, "available")
    code, _, _ = await broker.request("POST", "/api/v1/auth/logout", token=ann)
    assert code == 200
    mine = await rq.get_presence(broker.app[DB], await _uid(broker, "ann"))
    assert mine is not None and mine.stored_presence == "away"
    sid = await _request(broker)
    await broker.app[ROUTER].run_once()
    row = await queries.get_session(broker.app[DB], sid)
    assert row is not None and row.assigned_engineer_id is None  # nothing pushed to her


async def test_the_presence_lease_lapses_when_the_viewer_goes_quiet(
    broker: RunningBroker, clock: FakeClock
) -> None:
    ann = await staff(broker, "ann", "engineer")
    sup = await staff(broker, "sue", "supervisor")
    await _presence(broker, ann, "available")
    clock.advance(broker.config.presence_lease_s + 1)  # the browser was closed
    _, listed, _ = await broker.request("GET", "/api/v1/presence", token=sup)
    [mine] = [e for e in listed["engineers"] if e["username"] == "ann"]
    assert mine["presence"] == "away" and mine["set"] == "available"
    sid = await _request(broker)
    await broker.app[ROUTER].run_once()
    row = await queries.get_session(broker.app[DB], sid)
    assert row is not None and row.assigned_engineer_id is None
    # the viewer comes back and renews the lease: work is pushed again
    _, me, _ = await broker.request("GET", "/api/v1/me/presence", token=ann)
    assert me["presence"] == "available"
    await broker.app[ROUTER].run_once()
    assert await _assigned_to(broker, sid) == await _uid(broker, "ann")


async def test_routing_never_overwrites_a_ticket_resolved_meanwhile(
    broker: RunningBroker, clock: FakeClock
) -> None:
    """The pass reads the waiting requests with their tickets, then assigns: a ticket an
    engineer resolved in between stays resolved (a lost update, seen as a flaky
    closure in test_openapi)."""
    from broker.store.models import SessionModel, TicketModel

    await staff(broker, "ann", "engineer")
    sid = await _request(broker)
    session = await queries.get_session(broker.app[DB], sid)
    assert session is not None
    db = broker.app[DB]
    async with db.sessions.begin() as s:
        sm = await s.get(SessionModel, sid)
        tm = await s.get(TicketModel, session.ticket_id)
        assert sm is not None and tm is not None and tm.status == "new"  # the pass's view
        async with db.sessions.begin() as other:  # the engineer resolves it meanwhile
            (await other.get(TicketModel, session.ticket_id)).status = "resolved"  # type: ignore[union-attr]
        await rq._assign(s, sm, await _uid(broker, "ann"), at=clock.now_ms(), actor_id=None)
    ticket = await queries.get_ticket(db, session.ticket_id)
    assert ticket is not None and ticket.status == "resolved"
