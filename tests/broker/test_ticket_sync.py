"""Ticket sync by the help desk's reference and Idempotency-Key on every POST (issue
18), through the REAL broker (TLS, SQLite, migrations): one ticket per (source,
external_ref), the upsert and the link-back of a client-opened ticket; POSTs of
several kinds replayed, refused with another body, scoped per principal."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from broker.store import queries
from broker.store.db import DB
from broker.testing import FakeClock, RunningBroker
from tests.broker.conftest import agent_request, staff
from tests.broker.webhook_flow import integration_key

BY_REF = "/api/v1/tickets/by-ref"


async def _desk(b: RunningBroker) -> str:
    admin = await staff(b, "ada", "admin")
    return await integration_key(b, admin, ["tickets", "invitations", "webhooks"])


async def test_upsert_creates_updates_and_keeps_one_ticket_per_source(
    broker: RunningBroker,
) -> None:
    key = await _desk(broker)
    url = f"{BY_REF}/zammad/HD-7"
    assert (await broker.request("GET", url, token=key))[0] == 404
    status, created, _ = await broker.request(
        "PUT", url, token=key, json={"title": "Printer", "organisation": "acme"}
    )
    assert status == 201, created
    assert created["external_source"] == "zammad" and created["external_ref"] == "HD-7"
    # The same PUT again: the same ticket, unchanged; a changed field: updated (200).
    status, again, _ = await broker.request(
        "PUT", url, token=key, json={"title": "Printer", "organisation": "acme"}
    )
    assert status == 200 and again["id"] == created["id"]
    status, updated, _ = await broker.request(
        "PUT", url, token=key, json={"title": "Printer jams", "status": "assigned"}
    )
    assert status == 200 and updated["title"] == "Printer jams"
    assert updated["status"] == "assigned" and updated["organisation"] == "acme"
    status, found, _ = await broker.request("GET", url, token=key)
    assert status == 200 and found["id"] == created["id"]
    # Another help desk may use the same number for another ticket.
    status, other, _ = await broker.request(
        "PUT", f"{BY_REF}/jira/HD-7", token=key, json={"title": "x"}
    )
    assert status == 201 and other["id"] != created["id"]
    # Ten racing PUTs for a new reference leave one ticket.
    results = await asyncio.gather(
        *(
            broker.request("PUT", f"{BY_REF}/zammad/HD-8", token=key, json={"title": "Race"})
            for _ in range(10)
        )
    )
    assert sorted({r[0] for r in results}) in ([200, 201], [201])
    assert len({r[1]["id"] for r in results}) == 1
    listed = await queries.list_tickets(broker.app[DB], external_ref="HD-8")
    assert len(listed) == 1
    # POST and PATCH cannot take a (source, ref) another ticket has.
    status, err, _ = await broker.request(
        "POST",
        "/api/v1/tickets",
        token=key,
        json={"title": "dup", "external_ref": "HD-7", "external_source": "zammad"},
    )
    assert status == 409 and err["error"]["code"] == "external_ref_taken", err
    status, err, _ = await broker.request(
        "PATCH",
        f"/api/v1/tickets/{other['id']}",
        token=key,
        json={"external_source": "zammad"},
    )
    assert status == 409 and err["error"]["code"] == "external_ref_taken", err
    status, exact, _ = await broker.request(
        "GET", "/api/v1/tickets?external_ref=HD-7&external_source=jira", token=key
    )
    assert [t["id"] for t in exact["tickets"]] == [other["id"]]


async def test_bad_upserts_are_refused_clearly(broker: RunningBroker) -> None:
    key = await _desk(broker)
    cases: list[tuple[str, dict[str, Any], int, str]] = [
        (f"{BY_REF}/Zammad!/HD-1", {"title": "x"}, 400, "invalid_field"),
        (f"{BY_REF}/zammad/HD-1", {}, 400, "invalid_field"),  # no title to create
        (f"{BY_REF}/zammad/HD-1", {"title": "x", "status": "closed"}, 400, "invalid_field"),
        (f"{BY_REF}/zammad/HD-1", {"title": "x", "colour": "red"}, 400, "invalid_field"),
        (f"{BY_REF}/zammad/HD-1", {"ticket_id": "nope"}, 404, "not_found"),
    ]
    for url, body, status, code in cases:
        got, err, _ = await broker.request("PUT", url, token=key, json=body)
        assert (got, err["error"]["code"]) == (status, code), (url, body, err)
    eng = await staff(broker, "rita", "reviewer")
    got, _, _ = await broker.request("PUT", f"{BY_REF}/zammad/HD-1", token=eng, json={"title": "x"})
    assert got == 403


async def test_a_client_opened_ticket_is_linked_back(broker: RunningBroker) -> None:
    """The help desk hears of the client's ticket (ticket.client_opened, tested in
    test_webhook_events.py), creates its twin and links it with the upsert call."""
    key = await _desk(broker)
    sid, _ = await agent_request(broker)
    session = await queries.get_session(broker.app[DB], sid)
    assert session is not None
    url = f"{BY_REF}/osticket/OS-42"
    status, linked, _ = await broker.request(
        "PUT", url, token=key, json={"ticket_id": session.ticket_id}
    )
    assert status == 200, linked
    assert linked["id"] == session.ticket_id and linked["external_ref"] == "OS-42"
    # Linked once: the same link again is fine, another reference for it is refused,
    # and this reference cannot go to another ticket.
    assert (await broker.request("PUT", url, token=key, json={"ticket_id": session.ticket_id}))[
        0
    ] == 200
    status, err, _ = await broker.request(
        "PUT", f"{BY_REF}/osticket/OS-43", token=key, json={"ticket_id": session.ticket_id}
    )
    assert status == 409 and err["error"]["code"] == "already_linked"
    sid2, _ = await agent_request(broker)
    s2 = await queries.get_session(broker.app[DB], sid2)
    assert s2 is not None
    status, err, _ = await broker.request("PUT", url, token=key, json={"ticket_id": s2.ticket_id})
    assert status == 409 and err["error"]["code"] == "external_ref_taken"


async def test_idempotency_key_on_every_kind_of_post(
    broker: RunningBroker, clock: FakeClock
) -> None:
    admin_token = await broker.login(broker.admin_username, broker.admin_password)
    key = await _desk(broker)
    sup = await staff(broker, "sue", "supervisor")
    ticket_for_invites = await broker.request(
        "POST", "/api/v1/tickets", token=key, json={"title": "for invites"}
    )
    assert ticket_for_invites[0] == 201
    posts: list[tuple[str, str, dict[str, Any], dict[str, Any]]] = [
        ("ticket", "/api/v1/tickets", {"title": "Printer", "description": "jammed"}, {}),
        (
            "user",
            "/api/v1/users",
            {
                "username": "newbie",
                "name": "N",
                "role": "engineer",
                "password": "a long enough passphrase 1",
            },
            {},
        ),
        ("reply", "/api/v1/canned-replies", {"title": "Hi", "text": "Hello there"}, {}),
    ]
    tokens = {"ticket": key, "user": admin_token, "reply": sup}
    for name, path, body, _ in posts:
        headers = {"Idempotency-Key": f"k-{name}"}
        first = await broker.request("POST", path, token=tokens[name], json=body, headers=headers)
        assert first[0] == 201, (name, first[1])
        second = await broker.request("POST", path, token=tokens[name], json=body, headers=headers)
        assert second[0] == 201 and second[1] == first[1], name
        assert second[2]["Idempotent-Replayed"] == "true"
        other = {**body, "zzz": 1}
        third = await broker.request("POST", path, token=tokens[name], json=other, headers=headers)
        assert third[0] == 422 and third[1]["error"]["code"] == "idempotency_key_reused", name
    # One of each was made, not two.
    titles = [
        t["title"]
        for t in (await broker.request("GET", "/api/v1/tickets", token=key))[1]["tickets"]
    ]
    assert titles.count("Printer") == 1
    assert len([u for u in await queries.list_users(broker.app[DB]) if u.username == "newbie"]) == 1
    # The same key on another route is another request: refused too.
    status, err, _ = await broker.request(
        "POST",
        "/api/v1/tickets/" + ticket_for_invites[1]["id"] + "/invitations",
        token=key,
        json={"ttl_s": 600},
        headers={"Idempotency-Key": "k-ticket"},
    )
    assert status == 422 and err["error"]["code"] == "idempotency_key_reused"
    # Scoped per principal: another caller's "k-reply" is its own.
    admin_reply = await broker.request(
        "POST",
        "/api/v1/canned-replies",
        token=admin_token,
        json={"title": "Hi", "text": "Hello there"},
        headers={"Idempotency-Key": "k-reply"},
    )
    assert admin_reply[0] == 201
    assert len(await _reply_ids(broker, sup)) == 2
    assert "Idempotent-Replayed" not in admin_reply[2]
    # A credential is never stored for a replay: refused, clearly.
    status, err, _ = await broker.request(
        "POST",
        "/api/v1/auth/login",
        json={"username": broker.admin_username, "password": broker.admin_password},
        headers={"Idempotency-Key": "login-1"},
    )
    assert status == 400 and err["error"]["code"] == "idempotency_unsupported"
    # A request that fails (400) is not stored: fixed, the same key runs it.
    status, ticket, _ = await broker.request(
        "POST", "/api/v1/tickets", token=key, json={"title": "t"}
    )
    inv_path = f"/api/v1/tickets/{ticket['id']}/invitations"
    idem = {"Idempotency-Key": "inv"}
    bad = await broker.request("POST", inv_path, token=key, json={"ttl_s": 1}, headers=idem)
    assert bad[0] == 400
    good = await broker.request("POST", inv_path, token=key, json={"ttl_s": 600}, headers=idem)
    assert good[0] == 201 and "Idempotent-Replayed" not in good[2]
    replay = await broker.request("POST", inv_path, token=key, json={"ttl_s": 600}, headers=idem)
    assert replay[1]["code"] == good[1]["code"] and replay[2]["Idempotent-Replayed"] == "true"
    # Kept 24 h, then forgotten.
    clock.advance(24 * 3600 + 1)
    later = await broker.request("POST", inv_path, token=key, json={"ttl_s": 600}, headers=idem)
    assert later[0] == 201 and later[1]["code"] != good[1]["code"]


async def _reply_ids(b: RunningBroker, token: str) -> list[str]:
    status, body, _ = await b.request("GET", "/api/v1/canned-replies", token=token)
    assert status == 200
    return [r["id"] for r in body["replies"]]


async def test_idempotency_never_stores_a_secret(broker: RunningBroker) -> None:
    """Review of 2026-12-04: a webhook's signing secret, an issued key and its
    passphrase, an agent's and a viewer's token were stored in plain text in
    ``idempotency_keys`` and replayed (to anyone sharing the caller's address, on the
    agent's public routes). Those routes now refuse the header, and nothing stored
    carries a secret."""
    from sqlalchemy import select

    from broker.store.integration_models import IdempotencyModel

    admin_token = await broker.login(broker.admin_username, broker.admin_password)
    key = await _desk(broker)
    sid, _ = await agent_request(broker)
    eng = await staff(broker, "erin", "engineer")
    cases: list[tuple[str, str | None, dict[str, Any]]] = [
        (
            "/api/v1/webhooks",
            key,
            {"url": "https://hd.example.com/h", "events": ["ticket.created"]},
        ),
        ("/api/v1/admin/certs", admin_token, {"profile": "client", "name": "desk-1"}),
        ("/api/v1/agent/requests", None, {"description": "No sound", "client_name": "Ann"}),
        ("/api/v1/agent/redeem", None, {"code": "1234-5678"}),
        (f"/api/v1/sessions/{sid}/join", eng, {}),
    ]
    for path, token, body in cases:
        status, err, _ = await broker.request(
            "POST", path, token=token, json=body, headers={"Idempotency-Key": "same-key"}
        )
        assert status == 400 and err["error"]["code"] == "idempotency_unsupported", (path, err)
        # Without the header the route works as before (nothing is broken by the refusal).
    status, made, _ = await broker.request("POST", cases[0][0], token=key, json=cases[0][2])
    assert status == 201 and made["secret"]
    async with broker.app[DB].sessions() as s:
        rows = (await s.execute(select(IdempotencyModel))).scalars().all()
    assert all(made["secret"] not in r.body and '"token"' not in r.body for r in rows)
    assert not [r for r in rows if r.key == "same-key"]


async def test_idempotency_concurrent_first_requests_and_other_principals(
    broker: RunningBroker,
) -> None:
    """Review of 2026-12-04: six identical first requests at once make one ticket (the
    others replay it or are told it still runs); another help desk with the same key and
    body gets its own ticket, never the first one's stored answer."""
    desk_a = await _desk(broker)
    admin = await broker.login(broker.admin_username, broker.admin_password)
    desk_b = await integration_key(broker, admin, ["tickets"])
    body = {"title": "Race", "description": "same key, same body"}
    idem = {"Idempotency-Key": "race-1"}
    answers = await asyncio.gather(
        *(
            broker.request("POST", "/api/v1/tickets", token=desk_a, json=body, headers=idem)
            for _ in range(6)
        )
    )
    made = [a for a in answers if a[0] == 201 and "Idempotent-Replayed" not in a[2]]
    assert len(made) == 1, [a[0] for a in answers]
    for status, got, _headers in answers:
        assert status in (201, 409), got
        if status == 201:
            assert got["id"] == made[0][1]["id"]
        else:
            assert got["error"]["code"] == "conflict"
    status, other, headers = await broker.request(
        "POST", "/api/v1/tickets", token=desk_b, json=body, headers=idem
    )
    assert status == 201 and "Idempotent-Replayed" not in headers
    assert other["id"] != made[0][1]["id"]
    _, listed, _ = await broker.request("GET", "/api/v1/tickets", token=desk_a)
    assert [t["title"] for t in listed["tickets"]].count("Race") == 2  # one per desk


async def test_idempotency_replays_nothing_to_a_caller_the_route_now_refuses(
    broker: RunningBroker,
) -> None:
    """Review of 2026-12-04: the replay ran before the route's guard, so a supervisor
    demoted to engineer (logged in again) still got a supervisors' route's stored
    answer. The guard answers now."""
    admin = await broker.login(broker.admin_username, broker.admin_password)
    name, password = await broker.create_user("sam", "supervisor")
    sam = await broker.login(name, password)
    found = await queries.get_user_by_username(broker.app[DB], name)
    assert found is not None
    idem = {"Idempotency-Key": "reply-1"}
    body = {"title": "Hi", "text": "Hello there"}
    status, first, _ = await broker.request(
        "POST", "/api/v1/canned-replies", token=sam, json=body, headers=idem
    )
    assert status == 201, first
    status, _, _ = await broker.request(
        "PATCH", f"/api/v1/users/{found.id}", token=admin, json={"role": "engineer"}
    )
    assert status == 200
    sam = await broker.login(name, password)
    status, err, headers = await broker.request(
        "POST", "/api/v1/canned-replies", token=sam, json=body, headers=idem
    )
    assert status == 403 and err["error"]["code"] == "forbidden", err
    assert "Idempotent-Replayed" not in headers


async def test_an_abandoned_idempotency_claim_is_given_up(
    broker: RunningBroker, clock: FakeClock
) -> None:
    """Review of 2026-12-04: a broker stopped mid-request (crash, kill) left its claim
    "still running", so the help desk's retries got 409 for 24 hours. A claim older than
    five minutes is given up; a younger one still answers 409."""
    key = await _desk(broker)
    assert (await broker.request("GET", "/api/v1/tickets", token=key))[0] == 200
    [api_key] = await queries.list_api_keys(broker.app[DB])
    body = {"title": "After the crash"}
    # What a broker killed inside the handler leaves behind: the claim, status 0.
    from broker.api.idempotency import _fingerprint

    fingerprint = _fingerprint("POST", "/api/v1/tickets", json.dumps(body).encode())
    await queries.reserve_idempotent(
        broker.app[DB], api_key.user_id, "crashed-1", fingerprint, at=clock.now_ms(), keep_ms=1
    )
    headers = {"Idempotency-Key": "crashed-1"}
    status, err, _ = await broker.request(
        "POST", "/api/v1/tickets", token=key, json=body, headers=headers
    )
    assert status == 409 and err["error"]["code"] == "conflict", err
    clock.advance(5 * 60 + 1)
    status, made, replayed = await broker.request(
        "POST", "/api/v1/tickets", token=key, json=body, headers=headers
    )
    assert status == 201 and "Idempotent-Replayed" not in replayed, made
    status, again, replayed = await broker.request(
        "POST", "/api/v1/tickets", token=key, json=body, headers=headers
    )
    assert status == 201 and again["id"] == made["id"] and replayed["Idempotent-Replayed"]
