"""Tickets: CRUD, filters, sessions on a ticket; strict bodies (4xx JSON, never 500)."""

from __future__ import annotations

from broker.testing import RunningBroker
from tests.broker.conftest import staff


async def test_ticket_crud_and_filters(broker: RunningBroker) -> None:
    eng = await staff(broker, "erin", "engineer")
    made = []
    for title, org, tier in (
        ("Printer jams", "Acme", "premium"),
        ("VPN drops", "Acme", "standard"),
        ("Outlook crash", "Globex", "basic"),
    ):
        status, body, _ = await broker.request(
            "POST",
            "/api/v1/tickets",
            token=eng,
            json={
                "title": title,
                "organisation": org,
                "tier": tier,
                "description": f"{title} since Monday",
                "skills": ["windows"],
            },
        )
        assert status == 201, body
        assert body["status"] == "new" and body["tier"] == tier and body["skills"] == ["windows"]
        made.append(body)
    status, body, _ = await broker.request("GET", "/api/v1/tickets?organisation=Acme", token=eng)
    assert status == 200 and {t["title"] for t in body["tickets"]} == {"Printer jams", "VPN drops"}
    status, body, _ = await broker.request("GET", "/api/v1/tickets?q=outlook", token=eng)
    assert [t["title"] for t in body["tickets"]] == ["Outlook crash"]
    status, body, _ = await broker.request("GET", "/api/v1/tickets?q=50%25", token=eng)
    assert body["tickets"] == []

    ticket_id = made[1]["id"]
    status, body, _ = await broker.request(
        "PATCH",
        f"/api/v1/tickets/{ticket_id}",
        token=eng,
        json={"status": "resolved", "resolution": "new router"},
    )
    assert status == 200 and body["status"] == "resolved" and body["resolution"] == "new router"
    assert body["title"] == "VPN drops"
    status, body, _ = await broker.request("GET", "/api/v1/tickets?status=resolved", token=eng)
    assert [t["id"] for t in body["tickets"]] == [ticket_id]
    status, body, _ = await broker.request("GET", f"/api/v1/tickets/{ticket_id}", token=eng)
    assert status == 200 and body["sessions"] == [] and body["status"] == "resolved"
    assert (await broker.request("GET", "/api/v1/tickets/nope", token=eng))[0] == 404


async def test_ticket_lists_its_sessions_with_outcome_and_rating(broker: RunningBroker) -> None:
    from broker.store import queries
    from broker.store.db import DB

    eng = await staff(broker, "erin", "engineer")
    status, req, _ = await broker.request(
        "POST",
        "/api/v1/agent/requests",
        json={"description": "Screen flickers", "client_name": "Ann"},
    )
    assert status == 201
    db = broker.app[DB]
    me = (await broker.request("GET", "/api/v1/me", token=eng))[1]
    await queries.mark_answered(db, req["session_id"], me["id"], 1_800_000_060_000)
    await queries.mark_ended(
        db, req["session_id"], "ended_by_engineer", 1_800_000_600_000, "driver updated"
    )
    await queries.set_rating(db, req["session_id"], 5, "quick")
    status, body, _ = await broker.request("GET", f"/api/v1/tickets/{req['ticket_id']}", token=eng)
    assert status == 200
    assert body["status"] == "in_progress" and body["resolution"] == "driver updated"
    [session] = body["sessions"]
    assert session["outcome"] == "ended_by_engineer" and session["rating"] == {
        "score": 5,
        "comment": "quick",
    }
    assert session["time_to_answer_s"] == 60.0 and session["engineer_id"] == me["id"]


async def test_bad_bodies_are_4xx_json(broker: RunningBroker) -> None:
    eng = await staff(broker, "erin", "engineer")
    cases = [
        ({"data": "{not json", "headers": {"Content-Type": "application/json"}}, "bad_request"),
        ({"json": ["a", "list"]}, "bad_request"),
        ({"json": {"title": "x", "colour": "red"}}, "invalid_field"),
        ({"json": {"title": 42}}, "invalid_field"),
        ({"json": {"title": ""}}, "invalid_field"),
        ({"json": {"title": "x" * 201}}, "invalid_field"),
        ({"json": {"description": "no title"}}, "invalid_field"),
        ({"json": {"title": "x", "tier": "platinum"}}, "invalid_field"),
        ({"json": {"title": "x", "skills": "windows"}}, "invalid_field"),
        ({"json": {"title": "x", "skills": [1]}}, "invalid_field"),
        ({"data": "x" * 70_000, "headers": {"Content-Type": "application/json"}}, "bad_request"),
    ]
    for kwargs, code in cases:
        status, body, _ = await broker.request("POST", "/api/v1/tickets", token=eng, **kwargs)  # type: ignore[arg-type]
        assert status == 400, (kwargs, body)
        assert body["error"]["code"] == code and body["error"]["message"], kwargs
    # Nothing was created by any of them.
    assert (await broker.request("GET", "/api/v1/tickets", token=eng))[1]["tickets"] == []
    status, body, _ = await broker.request("GET", "/api/v1/tickets?colour=red", token=eng)
    assert status == 400 and body["error"]["code"] == "invalid_field"
    status, body, _ = await broker.request("GET", "/api/v1/tickets?limit=abc", token=eng)
    assert status == 400
    status, body, _ = await broker.request(
        "PATCH", "/api/v1/tickets/x", token=eng, json={"status": "weird"}
    )
    assert status == 400 and body["error"]["code"] == "invalid_field"
    status, body, _ = await broker.request("DELETE", "/api/v1/tickets", token=eng)
    assert status == 405 and body["error"]["code"] == "method_not_allowed"
    status, body, _ = await broker.request("GET", "/api/v1/nothing-here", token=eng)
    assert status == 404 and body["error"]["code"] == "not_found"


async def test_roles_for_tickets_and_users(broker: RunningBroker) -> None:
    reviewer = await staff(broker, "rita", "reviewer")
    eng = await staff(broker, "erin", "engineer")
    status, body, _ = await broker.request(
        "POST", "/api/v1/tickets", token=reviewer, json={"title": "x"}
    )
    assert status == 403 and body["error"]["code"] == "forbidden"
    assert (await broker.request("GET", "/api/v1/tickets", token=reviewer))[0] == 200
    assert (await broker.request("GET", "/api/v1/users", token=eng))[0] == 403
    assert (await broker.request("GET", "/api/v1/escalations", token=eng))[0] == 403
    assert (await broker.request("GET", "/api/v1/queue", token=reviewer))[0] == 403


async def test_admin_manages_users(broker: RunningBroker) -> None:
    admin = await broker.login("admin", broker.admin_password)
    status, body, _ = await broker.request(
        "POST",
        "/api/v1/users",
        token=admin,
        json={"username": "sam", "name": "Sam S", "role": "supervisor", "skills": ["mac"]},
    )
    assert status == 201 and body["user"]["role"] == "supervisor" and len(body["password"]) >= 16
    assert await broker.login("sam", body["password"])
    status, again, _ = await broker.request(
        "POST",
        "/api/v1/users",
        token=admin,
        json={"username": "sam", "name": "x", "role": "engineer"},
    )
    assert status == 409 and again["error"]["code"] == "conflict"
    status, bad, _ = await broker.request(
        "POST",
        "/api/v1/users",
        token=admin,
        json={"username": "Bad Name", "name": "x", "role": "engineer"},
    )
    assert status == 400
    status, bad, _ = await broker.request(
        "POST", "/api/v1/users", token=admin, json={"username": "tim", "name": "x", "role": "god"}
    )
    assert status == 400 and bad["error"]["code"] == "invalid_field"
    status, patched, _ = await broker.request(
        "PATCH",
        f"/api/v1/users/{body['user']['id']}",
        token=admin,
        json={"skills": ["mac", "linux"], "role": "engineer"},
    )
    assert status == 200 and patched["skills"] == ["linux", "mac"] and patched["role"] == "engineer"
    users = (await broker.request("GET", "/api/v1/users", token=admin))[1]["users"]
    assert [u["username"] for u in users] == ["admin", "sam"]
    assert all("password" not in u and "password_hash" not in u for u in users)
