"""Client requests, invitations, the queue (SLA order, skills), escalation with a
fake clock, joining and ending sessions with role checks."""

from __future__ import annotations

from typing import Any

from broker.auth.setup import TOKENS
from broker.clock import CLOCK
from broker.escalation import ESCALATOR
from broker.pki import PKI
from broker.relay.control import RELAY
from broker.store import queries
from broker.store.db import DB
from broker.testing import FakeClock, FakeRelay, RunningBroker
from tests.broker.conftest import staff


async def _request(
    broker: RunningBroker, description: str, tier: str | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {"description": description, "client_name": "Client"}
    if tier:  # the tier comes from the organisation's contract, never from the client
        await queries.put_organisation(broker.app[DB], f"org-{tier}", tier, at=0)
        body["organisation"] = f"org-{tier}"
    status, data, _ = await broker.request("POST", "/api/v1/agent/requests", json=body)
    assert status == 201, data
    return data  # type: ignore[no-any-return]


async def _serve(broker: RunningBroker, *usernames: str) -> None:
    """The engineers serve the organisations :func:`_request` names (ticket scoping)."""
    for username in usernames:
        found = await queries.get_user_by_username(broker.app[DB], username)
        assert found is not None
        await queries.update_user(
            broker.app[DB], found.id, organisations=["org-basic", "org-premium"]
        )


async def test_agent_request_gives_session_scoped_agent_token(broker: RunningBroker) -> None:
    req = await _request(broker, "Excel hangs\nwhen saving")
    claims = broker.app[TOKENS].verify(req["token"], "agent")
    assert claims.sid == req["session_id"] and claims.role == "agent"
    assert req["ticket_title"] == "Excel hangs"
    session = await queries.get_session(broker.app[DB], req["session_id"])
    assert session is not None and session.state == "requested" and session.origin == "request"


async def test_agent_requests_rate_limited_per_address(tmp_path: Any, clock: FakeClock) -> None:
    from broker.testing import running_broker

    async with running_broker(tmp_path, clock=clock, agent_requests_per_minute=2) as broker:
        await _request(broker, "one")
        await _request(broker, "two")
        status, body, headers = await broker.request(
            "POST", "/api/v1/agent/requests", json={"description": "three", "client_name": "C"}
        )
        assert (
            status == 429
            and body["error"]["code"] == "rate_limited"
            and int(headers["Retry-After"]) > 0
        )
        clock.advance(61)
        await _request(broker, "four")


async def test_queue_ordered_by_sla_deadline_with_skills(
    broker: RunningBroker, clock: FakeClock
) -> None:
    basic = await _request(broker, "basic one", "basic")  # deadline +4 h
    clock.advance(1)
    standard = await _request(broker, "standard one")  # +30 min
    clock.advance(1)
    premium = await _request(broker, "premium one", "premium")  # +5 min
    clock.advance(1)
    mac = await _request(broker, "needs mac", "premium")
    sup = await staff(broker, "sue", "supervisor")
    status, patched, _ = await broker.request(
        "PATCH", f"/api/v1/tickets/{mac['ticket_id']}", token=sup, json={"skills": ["mac"]}
    )
    assert status == 200 and patched["skills"] == ["mac"], patched  # else the queue is wrong

    status, body, _ = await broker.request("GET", "/api/v1/queue", token=sup)
    assert status == 200
    assert [i["session_id"] for i in body["queue"]] == [
        premium["session_id"],
        mac["session_id"],
        standard["session_id"],
        basic["session_id"],
    ], body["queue"]  # on failure: deadlines, tiers and assignments say why
    assert body["queue"][0]["seconds_left"] == 299.0 and body["queue"][0]["tier"] == "premium"

    windows_eng = await staff(broker, "win", "engineer", ("windows",))
    mac_eng = await staff(broker, "macy", "engineer", ("mac", "windows"))
    await _serve(broker, "win", "macy")
    seen = [
        i["session_id"]
        for i in (await broker.request("GET", "/api/v1/queue", token=windows_eng))[1]["queue"]
    ]
    assert seen == [premium["session_id"], standard["session_id"], basic["session_id"]]
    seen = [
        i["session_id"]
        for i in (await broker.request("GET", "/api/v1/queue", token=mac_eng))[1]["queue"]
    ]
    assert seen[:2] == [premium["session_id"], mac["session_id"]]
    # Joining a request outside one's queue is refused; inside, it gives a viewer token.
    status, body, _ = await broker.request(
        "POST", f"/api/v1/sessions/{mac['session_id']}/join", token=windows_eng
    )
    assert status == 403
    status, body, _ = await broker.request(
        "POST",
        f"/api/v1/sessions/{mac['session_id']}/join",
        token=mac_eng,
        json={"permissions": ["view", "control"]},
    )
    assert status == 200
    claims = broker.app[TOKENS].verify(body["ws_token"], "viewer")
    assert (
        claims.sid == mac["session_id"]
        and claims.as_ == "engineer"
        and claims.perms == ("view", "control")
    )


async def test_escalation_after_fraction_of_deadline(
    broker: RunningBroker, clock: FakeClock
) -> None:
    premium = await _request(broker, "urgent", "premium")  # 300 s; escalates at 0.8 -> 240 s
    standard = await _request(broker, "later")  # 1800 s; escalates at 1440 s
    sup = await staff(broker, "sue", "supervisor")
    escalator = broker.app[ESCALATOR]
    clock.advance(239)
    assert await escalator.run_once() == []
    clock.advance(1)
    [e] = await escalator.run_once()
    assert e.session_id == premium["session_id"]
    assert await escalator.run_once() == []  # recorded once only
    status, body, _ = await broker.request("GET", "/api/v1/escalations", token=sup)
    assert status == 200 and [x["session_id"] for x in body["escalations"]] == [
        premium["session_id"]
    ]
    # An answered (no longer waiting) request does not escalate.
    await queries.set_session_state(
        broker.app[DB], standard["session_id"], "live", at=clock.now_ms()
    )
    clock.advance(3600)
    assert await escalator.run_once() == []


async def test_invitation_single_use_and_expiry(broker: RunningBroker, clock: FakeClock) -> None:
    eng = await staff(broker, "erin", "engineer")
    other = await staff(broker, "olaf", "engineer")
    ticket = (await broker.request("POST", "/api/v1/tickets", token=eng, json={"title": "Email"}))[
        1
    ]
    status, inv, _ = await broker.request(
        "POST", f"/api/v1/tickets/{ticket['id']}/invitations", token=eng, json={"ttl_s": 600}
    )
    assert status == 201
    code = inv["code"]
    assert len(code) == 9 and code[4] == "-" and code.replace("-", "").isdigit()
    status, redeemed, _ = await broker.request(
        "POST", "/api/v1/agent/redeem", json={"code": code.replace("-", " "), "client_name": "Ann"}
    )
    assert status == 201 and redeemed["ticket_id"] == ticket["id"]
    assert broker.app[TOKENS].verify(redeemed["token"], "agent").sid == redeemed["session_id"]
    status, body, _ = await broker.request(
        "POST", "/api/v1/agent/redeem", json={"code": code, "client_name": "Ann"}
    )
    assert status == 410 and body["error"]["code"] == "gone"
    # The invited session is in the inviting engineer's queue only.
    mine = (await broker.request("GET", "/api/v1/queue", token=eng))[1]["queue"]
    assert [(i["session_id"], i["assigned_to_me"]) for i in mine] == [
        (redeemed["session_id"], True)
    ]
    assert (await broker.request("GET", "/api/v1/queue", token=other))[1]["queue"] == []
    # Expiry.
    status, inv2, _ = await broker.request(
        "POST", f"/api/v1/tickets/{ticket['id']}/invitations", token=eng
    )
    clock.advance(broker.config.invitation_ttl_s)
    status, body, _ = await broker.request(
        "POST", "/api/v1/agent/redeem", json={"code": inv2["code"], "client_name": "Ann"}
    )
    assert status == 410 and "expired" in body["error"]["message"]
    status, body, _ = await broker.request(
        "POST", "/api/v1/agent/redeem", json={"code": "0000-000", "client_name": "Ann"}
    )
    assert status == 400
    status, body, _ = await broker.request(
        "POST", f"/api/v1/tickets/{ticket['id']}/invitations", token=eng, json={"ttl_s": 10}
    )
    assert status == 400
    assert (await broker.request("POST", "/api/v1/tickets/nope/invitations", token=eng))[0] == 404
    # Only the hash is stored.
    from sqlalchemy import select

    from broker.store.models import InvitationModel

    async with broker.app[DB].sessions() as s:
        rows = (await s.execute(select(InvitationModel))).scalars().all()
    stored = " ".join(str(v) for r in rows for v in vars(r).values())
    assert len(rows) == 2 and inv2["code"].replace("-", "") not in stored


async def test_join_roles(broker: RunningBroker) -> None:
    req = await _request(broker, "help")
    sid = req["session_id"]
    reviewer = await staff(broker, "rita", "reviewer")
    admin = await broker.login("admin", broker.admin_password)
    eng = await staff(broker, "erin", "engineer")
    eng2 = await staff(broker, "ed", "engineer")
    sup = await staff(broker, "sue", "supervisor")
    for token in (reviewer, admin):
        status, body, _ = await broker.request("POST", f"/api/v1/sessions/{sid}/join", token=token)
        assert status == 403 and body["error"]["code"] == "forbidden"
    status, body, _ = await broker.request(
        "POST", f"/api/v1/sessions/{sid}/join", token=eng, json={"as": "observer"}
    )
    assert status == 403
    status, body, _ = await broker.request(
        "POST", f"/api/v1/sessions/{sid}/join", token=eng, json={"permissions": ["control"]}
    )
    assert status == 400
    # The relay records the answering engineer when the viewer connects.
    db = broker.app[DB]
    erin = await queries.get_user_by_username(db, "erin")
    assert erin is not None
    await queries.mark_answered(db, sid, erin.id, at=broker.app[CLOCK].now_ms())
    await queries.set_session_state(db, sid, "live", at=broker.app[CLOCK].now_ms())
    assert (await broker.request("POST", f"/api/v1/sessions/{sid}/join", token=eng))[
        0
    ] == 200  # rejoin own
    assert (await broker.request("POST", f"/api/v1/sessions/{sid}/join", token=eng2))[0] == 403
    status, body, _ = await broker.request("POST", f"/api/v1/sessions/{sid}/join", token=sup)
    assert status == 200 and body["as"] == "observer" and body["permissions"] == ["view"]
    assert (await broker.request("GET", f"/api/v1/sessions/{sid}", token=eng2))[0] == 403
    status, body, _ = await broker.request("GET", f"/api/v1/sessions/{sid}", token=eng)
    assert status == 200 and body["ticket"]["id"] == req["ticket_id"] and body["log"] == []


async def test_session_detail_includes_its_log(broker: RunningBroker) -> None:
    from broker.session_log import SessionLog

    req = await _request(broker, "help")
    log = SessionLog(broker.data_dir, req["session_id"], broker.app[PKI].signing_key)
    log.append("session.requested", "agent", {"client": "Client"}, 1_800_000_000_000)
    log.close()
    sup = await staff(broker, "sue", "supervisor")
    status, body, _ = await broker.request(
        "GET", f"/api/v1/sessions/{req['session_id']}", token=sup
    )
    assert status == 200
    [record] = body["log"]
    assert record["seq"] == 1 and record["event"] == "session.requested" and record["hash"]


async def test_end_only_by_the_sessions_engineer(broker: RunningBroker) -> None:
    req = await _request(broker, "help")
    sid = req["session_id"]
    eng = await staff(broker, "erin", "engineer")
    eng2 = await staff(broker, "ed", "engineer")
    db = broker.app[DB]
    erin = await queries.get_user_by_username(db, "erin")
    assert erin is not None
    await queries.mark_answered(db, sid, erin.id, at=1)
    status, body, _ = await broker.request(
        "POST", f"/api/v1/sessions/{sid}/end", token=eng2, json={"resolution": "x"}
    )
    assert status == 403
    status, body, _ = await broker.request(
        "POST", f"/api/v1/sessions/{sid}/end", token=eng, json={}
    )
    assert status == 400
    status, body, _ = await broker.request(
        "POST", f"/api/v1/sessions/{sid}/end", token=eng, json={"resolution": "fixed"}
    )
    assert status == 200 and body["state"] == "ended" and body["outcome"] == "ended_by_engineer"
    assert body["resolution"] == "fixed"
    assert (await broker.request("POST", f"/api/v1/sessions/{sid}/join", token=eng))[0] == 409
    assert (
        await broker.request(
            "POST", f"/api/v1/sessions/{sid}/end", token=eng, json={"resolution": "again"}
        )
    )[0] == 409


async def test_end_is_delegated_to_the_end_session_hook(
    aiohttp_client: Any, tmp_path: Any, clock: FakeClock
) -> None:
    from broker.app import create_app
    from broker.testing import test_config

    app = create_app(test_config(tmp_path), clock=clock)
    relay = FakeRelay(app)
    app[RELAY] = relay
    client = await aiohttp_client(app)
    db = app[DB]
    user = await queries.create_user(
        db, username="erin", name="Erin", role="engineer", skills=(), password_hash="x", at=1
    )
    _, session = await queries.create_request(
        db, description="d", client_name="c", organisation="", tier="basic", at=1
    )
    await queries.mark_answered(db, session.id, user.id, at=2)
    token = app[TOKENS].issue(user.id, "engineer", "access")
    resp = await client.post(
        f"/api/v1/sessions/{session.id}/end",
        json={"resolution": "done"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert resp.status == 200
    assert relay.ended == [(session.id, "ended_by_engineer", user.id, "done")]


async def test_sessions_list_visibility(broker: RunningBroker) -> None:
    a = await _request(broker, "a")
    b = await _request(broker, "b")
    db = broker.app[DB]
    eng = await staff(broker, "erin", "engineer")
    eng2 = await staff(broker, "ed", "engineer")
    ed = await queries.get_user_by_username(db, "ed")
    assert ed is not None
    await queries.mark_answered(db, b["session_id"], ed.id, at=1)
    await queries.set_session_state(db, b["session_id"], "live", at=1)
    ids = {
        s["id"] for s in (await broker.request("GET", "/api/v1/sessions", token=eng))[1]["sessions"]
    }
    assert ids == {a["session_id"]}  # the queue, not ed's live session
    ids = {
        s["id"]
        for s in (await broker.request("GET", "/api/v1/sessions", token=eng2))[1]["sessions"]
    }
    assert ids == {a["session_id"], b["session_id"]}
    reviewer = await staff(broker, "rita", "reviewer")
    status, body, _ = await broker.request("GET", "/api/v1/sessions?state=live", token=reviewer)
    assert status == 200 and [s["id"] for s in body["sessions"]] == [b["session_id"]]


async def test_admin_changes_sla_tiers_for_new_requests(
    broker: RunningBroker, clock: FakeClock
) -> None:
    admin = await broker.login("admin", broker.admin_password)
    eng = await staff(broker, "erin", "engineer")
    await _serve(broker, "erin")
    before = await _request(broker, "before", "premium")
    status, body, _ = await broker.request(
        "PUT", "/api/v1/sla-tiers/premium", token=admin, json={"answer_within_s": 120}
    )
    assert status == 200 and body == {"name": "premium", "answer_within_s": 120}
    assert (
        await broker.request(
            "PUT", "/api/v1/sla-tiers/premium", token=eng, json={"answer_within_s": 120}
        )
    )[0] == 403
    after = await _request(broker, "after", "premium")
    queue = (await broker.request("GET", "/api/v1/queue", token=eng))[1]["queue"]
    assert [(i["session_id"], i["seconds_left"]) for i in queue] == [
        (after["session_id"], 120.0),
        (before["session_id"], 300.0),
    ]
    tiers = (await broker.request("GET", "/api/v1/sla-tiers", token=eng))[1]["tiers"]
    assert tiers[0] == {"name": "premium", "answer_within_s": 120}


async def test_session_objects_carry_ticket_title_and_engineer_name(
    broker: RunningBroker,
) -> None:
    req = await _request(broker, "Printer jams\non every page")
    sid = req["session_id"]
    db = broker.app[DB]
    eng = await staff(broker, "erin", "engineer")
    sup = await staff(broker, "sue", "supervisor")
    [item] = (await broker.request("GET", "/api/v1/queue", token=sup))[1]["queue"]
    assert item["title"] == "Printer jams" and item["engineer_name"] is None
    erin = await queries.get_user_by_username(db, "erin")
    assert erin is not None and erin.name == "Erin"
    await queries.update_user(db, erin.id, name="Erin Engineer")
    answered = await queries.mark_answered(db, sid, erin.id, at=broker.app[CLOCK].now_ms())
    assert (answered.title, answered.engineer_name) == ("Printer jams", "Erin Engineer")
    # Back in the queue after the engineer left: the queue names who answered.
    await queries.set_session_state(db, sid, "waiting", at=broker.app[CLOCK].now_ms())
    [item] = (await broker.request("GET", "/api/v1/queue", token=sup))[1]["queue"]
    assert item["engineer_name"] == "Erin Engineer"
    expected = {"title": "Printer jams", "engineer_id": erin.id, "engineer_name": "Erin Engineer"}
    shapes = [
        (await broker.request("GET", "/api/v1/sessions", token=eng))[1]["sessions"][0],
        (await broker.request("GET", f"/api/v1/sessions/{sid}", token=eng))[1],
        (await broker.request("GET", f"/api/v1/tickets/{req['ticket_id']}", token=eng))[1][
            "sessions"
        ][0],
    ]
    for shape in shapes:
        assert {k: shape[k] for k in expected} == expected
    # A session nobody answered has no engineer name; the title is still there.
    other = await _request(broker, "Mail is slow")
    listed = {
        s["id"]: s
        for s in (await broker.request("GET", "/api/v1/sessions", token=sup))[1]["sessions"]
    }
    assert listed[other["session_id"]]["title"] == "Mail is slow"
    assert listed[other["session_id"]]["engineer_name"] is None
    status, ended, _ = await broker.request(
        "POST", f"/api/v1/sessions/{sid}/end", token=eng, json={"resolution": "new drum"}
    )
    assert status == 200 and ended["title"] == "Printer jams"
    assert ended["engineer_name"] == "Erin Engineer"


async def test_join_asks_for_video_and_gets_ice_servers(tmp_path: Any, clock: FakeClock) -> None:
    import base64
    import hashlib
    import hmac
    import json

    from broker.testing import running_broker

    stun = {"urls": ["stun:turn.example.com:3478"]}
    turn = {"urls": ["turn:turn.example.com:3478?transport=udp"]}
    async with running_broker(
        tmp_path,
        clock=clock,
        ice_servers=json.dumps([stun, turn]),
        turn_secret="coturn-secret",
        turn_credential_ttl_s=3600,
    ) as broker:
        req = await _request(broker, "camera call please")
        sid = req["session_id"]
        eng = await staff(broker, "erin", "engineer")
        sup = await staff(broker, "sue", "supervisor")
        status, body, _ = await broker.request(
            "POST",
            f"/api/v1/sessions/{sid}/join",
            token=eng,
            json={"permissions": ["video", "view"]},
        )
        assert status == 200 and body["permissions"] == ["view", "video"]
        claims = broker.app[TOKENS].verify(body["ws_token"], "viewer")
        assert claims.perms == ("view", "video")
        erin = await queries.get_user_by_username(broker.app[DB], "erin")
        assert erin is not None
        expiry = clock.now_ms() // 1000 + 3600
        first, second = body["ice_servers"]
        assert first == stun and second["urls"] == turn["urls"]
        assert second["username"] == f"{expiry}:{erin.id}"
        mac = hmac.new(b"coturn-secret", second["username"].encode(), hashlib.sha1).digest()
        assert second["credential"] == base64.b64encode(mac).decode()
        # The agent gets its own credentials in the request answer.
        assert req["ice_servers"][1]["username"] == f"{expiry}:agent-{sid}"
        # Observers only watch; unknown permissions are refused.
        status, body, _ = await broker.request(
            "POST",
            f"/api/v1/sessions/{sid}/join",
            token=sup,
            json={"as": "observer", "permissions": ["view", "video"]},
        )
        assert status == 400
        status, body, _ = await broker.request(
            "POST",
            f"/api/v1/sessions/{sid}/join",
            token=eng,
            json={"permissions": ["view", "files"]},
        )
        assert status == 400 and "video" in body["error"]["message"]


async def test_join_without_ice_configuration_gives_an_empty_list(broker: RunningBroker) -> None:
    req = await _request(broker, "help")
    assert req["ice_servers"] == []
    eng = await staff(broker, "erin", "engineer")
    status, body, _ = await broker.request(
        "POST", f"/api/v1/sessions/{req['session_id']}/join", token=eng
    )
    assert status == 200 and body["ice_servers"] == [] and body["permissions"] == ["view"]


async def test_session_log_backlog_leaves_out_a_torn_tail(broker: RunningBroker) -> None:
    from broker.session_log import SessionLog, session_dir

    req = await _request(broker, "help")
    sid = req["session_id"]
    log = SessionLog(broker.data_dir, sid, broker.app[PKI].signing_key)
    log.append("session.requested", "agent", {"client": "Client"}, 1_800_000_000_000)
    log.append("chat.sent", "agent", {"chars": 5}, 1_800_000_000_100)
    log.close()
    path = session_dir(broker.data_dir, sid) / "log.jsonl"
    with path.open("ab") as f:
        f.write(b'{"seq": 3, "event": "chat.se')  # the relay is mid-write
    eng = await staff(broker, "erin", "engineer")
    other = await staff(broker, "ed", "engineer", ("mac",))
    status, body, _ = await broker.request("GET", f"/api/v1/sessions/{sid}", token=eng)
    assert status == 200
    assert [(r["seq"], r["event"]) for r in body["log"]] == [
        (1, "session.requested"),
        (2, "chat.sent"),
    ]
    assert body["log"][1]["prev"] == body["log"][0]["hash"]
    # An engineer who may not see the session gets neither it nor its log.
    db = broker.app[DB]
    erin = await queries.get_user_by_username(db, "erin")
    assert erin is not None
    await queries.mark_answered(db, sid, erin.id, at=1)
    await queries.set_session_state(db, sid, "live", at=1)
    status, body, _ = await broker.request("GET", f"/api/v1/sessions/{sid}", token=other)
    assert status == 403 and "log" not in body


async def test_damaged_session_log_gives_no_backlog_but_the_session(
    broker: RunningBroker,
) -> None:
    from broker.session_log import session_dir

    req = await _request(broker, "help")
    folder = session_dir(broker.data_dir, req["session_id"])
    folder.mkdir(parents=True)
    (folder / "log.jsonl").write_bytes(b'{"seq": 1, "not": "a record"}\n')
    sup = await staff(broker, "sue", "supervisor")
    status, body, _ = await broker.request(
        "GET", f"/api/v1/sessions/{req['session_id']}", token=sup
    )
    assert status == 200 and body["id"] == req["session_id"] and body["log"] == []
