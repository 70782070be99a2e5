"""The ticket lifecycle over the API: assignee and owner, every move through PATCH, a
refused move answers 409 and changes nothing, and the history records each change."""

from __future__ import annotations

import itertools
from typing import Any

from broker.clock import CLOCK
from broker.store import queries
from broker.store.db import DB
from broker.testing import FakeClock, RunningBroker
from tests.broker.conftest import staff


async def _me(broker: RunningBroker, token: str) -> dict[str, Any]:
    status, me, _ = await broker.request("GET", "/api/v1/me", token=token)
    assert status == 200
    return me  # type: ignore[no-any-return]


async def _patch(broker: RunningBroker, tid: str, token: str, **body: str) -> tuple[int, Any]:
    status, data, _ = await broker.request(
        "PATCH", f"/api/v1/tickets/{tid}", token=token, json=body
    )
    return status, data


async def test_walk_the_lifecycle_with_history(broker: RunningBroker, clock: FakeClock) -> None:
    first = await staff(broker, "fiona", "supervisor")
    eng = await staff(broker, "erin", "engineer")
    rita = await _me(broker, await staff(broker, "rita", "reviewer"))
    fiona, erin = await _me(broker, first), await _me(broker, eng)
    status, ticket, _ = await broker.request(
        "POST", "/api/v1/tickets", token=first, json={"title": "Mail is down"}
    )
    assert status == 201 and ticket["status"] == "new"
    assert ticket["assignee"] is None and ticket["owner"] is None
    tid = ticket["id"]

    # Giving a new ticket an assignee assigns it; the owner is the incident manager.
    clock.advance(60)
    status, body = await _patch(broker, tid, first, assignee=erin["id"], owner=fiona["id"])
    assert status == 200, body
    assert body["status"] == "assigned" and body["assignee"] == erin["id"]
    assert body["owner"] == fiona["id"]

    # A refused move: 409 with the moves there are, and nothing changed (not even the
    # title sent along with it).
    status, body = await _patch(broker, tid, eng, status="closed", title="Changed")
    assert status == 409 and body["error"]["code"] == "conflict"
    assert "'assigned' to 'closed'" in body["error"]["message"]
    assert "in_progress" in body["error"]["message"]
    status, now, _ = await broker.request("GET", f"/api/v1/tickets/{tid}", token=eng)
    assert now["status"] == "assigned" and now["title"] == "Mail is down"

    walk = [
        "in_progress",
        "pending_vendor",
        "in_progress",
        "waiting_for_client",
        "resolved",
        "closed",
        "in_progress",  # reopened
        "resolved",
    ]
    for step in walk:
        clock.advance(60)
        status, body = await _patch(broker, tid, eng, status=step)
        assert status == 200 and body["status"] == step, (step, body)
    # The same status again is no move and no history entry.
    assert (await _patch(broker, tid, eng, status="resolved"))[0] == 200

    # People who cannot hold a ticket are refused (400), and nothing changes.
    for bad in ({"assignee": "nobody"}, {"assignee": rita["id"]}, {"owner": "nobody"}):
        status, body = await _patch(broker, tid, eng, **bad)
        assert status == 400 and body["error"]["code"] == "invalid_field", bad
    # "" takes the owner away.
    status, body = await _patch(broker, tid, first, owner="")
    assert status == 200 and body["owner"] is None

    status, hist, _ = await broker.request("GET", f"/api/v1/tickets/{tid}/history", token=eng)
    assert status == 200
    rows = [(h["actor_name"], h["field"], h["from"], h["to"]) for h in hist["history"]]
    moves = ["assigned", *walk]
    assert rows == [
        (fiona["name"], "status", None, "new"),
        (fiona["name"], "assignee", None, erin["id"]),
        (fiona["name"], "owner", None, fiona["id"]),
        (fiona["name"], "status", "new", "assigned"),
        *[(erin["name"], "status", a, b) for a, b in itertools.pairwise(moves)],
        (fiona["name"], "owner", fiona["id"], None),
    ]
    # Each entry says when: the first at creation, the moves a minute apart.
    times = [h["at"] for h in hist["history"]]
    assert times == sorted(times) and len(set(times)) == 1 + 1 + len(walk)
    assert hist["history"][0]["actor_id"] == fiona["id"]
    missing = await broker.request("GET", "/api/v1/tickets/nope/history", token=eng)
    assert missing[0] == 404


async def test_answering_a_session_starts_the_work(broker: RunningBroker) -> None:
    """An engineer joining a client's request takes its new ticket: assigned to them and
    in progress, through the lifecycle's steps, each in the history."""
    eng = await staff(broker, "erin", "engineer")
    erin = await _me(broker, eng)
    status, req, _ = await broker.request(
        "POST", "/api/v1/agent/requests", json={"description": "No sound", "client_name": "Ann"}
    )
    assert status == 201
    db = broker.app[DB]
    await queries.mark_answered(db, req["session_id"], erin["id"], broker.app[CLOCK].now_ms())
    status, ticket, _ = await broker.request(
        "GET", f"/api/v1/tickets/{req['ticket_id']}", token=eng
    )
    assert ticket["status"] == "in_progress" and ticket["assignee"] == erin["id"]
    status, hist, _ = await broker.request(
        "GET", f"/api/v1/tickets/{req['ticket_id']}/history", token=eng
    )
    assert [(h["actor_id"], h["field"], h["from"], h["to"]) for h in hist["history"]] == [
        (None, "status", None, "new"),  # the client's request: nobody on the staff
        (erin["id"], "assignee", None, erin["id"]),
        (erin["id"], "status", "new", "assigned"),
        (erin["id"], "status", "assigned", "in_progress"),
    ]
