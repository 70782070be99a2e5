"""The SLA scheduler on the real broker with a controlled clock (issue 19): response and
resolution clocks per contract and priority, at risk and breach recorded once, the
escalation chain (assignee → supervisor and a skill group → incident manager), the
acknowledgement API, pauses per contract, a business calendar across a weekend and a
holiday, and the client told when a waiting request goes to a supervisor."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker

from broker.escalation import ESCALATOR, SLA_SCHEDULER
from broker.store import queries
from broker.store.db import DB
from broker.testing import FakeClock, RunningBroker
from protocol import messages as m
from tests.broker.conftest import (
    SLA_EVENTS,
    agent_request,
    outbox,
    put_contract,
    staff,
    subscribe,
    ws_connect,
)

SCHEMAS = Path(__file__).resolve().parents[2] / "broker" / "webhooks" / "schemas"


async def _admin(b: RunningBroker) -> str:
    return await b.login(b.admin_username, b.admin_password)


async def _ticket(b: RunningBroker, token: str, title: str, tier: str, **fields: Any) -> str:
    status, body, _ = await b.request(
        "POST", "/api/v1/tickets", token=token, json={"title": title, "tier": tier}
    )
    assert status == 201, body
    if fields:
        await _patch(b, token, body["id"], **fields)
    return str(body["id"])


async def _patch(b: RunningBroker, token: str, ticket_id: str, **fields: Any) -> None:
    status, body, _ = await b.request(
        "PATCH", f"/api/v1/tickets/{ticket_id}", token=token, json=fields
    )
    assert status == 200, body


async def _user_id(b: RunningBroker, username: str) -> str:
    user = await queries.get_user_by_username(b.app[DB], username)
    assert user is not None
    return user.id


async def _clocks(b: RunningBroker, token: str, ticket_id: str) -> dict[str, dict[str, Any]]:
    status, body, _ = await b.request("GET", f"/api/v1/tickets/{ticket_id}/sla", token=token)
    assert status == 200, body
    return {c["clock"]: c for c in body["clocks"]}


async def test_the_chain_runs_level_by_level_once_and_is_acknowledged(
    broker: RunningBroker, clock: FakeClock
) -> None:
    admin = await _admin(broker)
    await subscribe(broker, admin, SLA_EVENTS)
    chain = [
        {"clock": "response", "at": 0.8, "to": "supervisor"},
        {"clock": "resolution", "at": 0.5, "to": "assignee"},
        {"clock": "resolution", "at": 0.8, "to": "supervisor"},
        {"clock": "resolution", "at": 0.8, "to": "group", "skill": "level2"},  # functional
        {"clock": "resolution", "at": 1.0, "to": "owner"},  # the incident manager
    ]
    await put_contract(broker, admin, "premium", response_s=600, resolution_s=3600, chain=chain)
    erin = await staff(broker, "erin", "engineer")
    sam = await staff(broker, "sam", "supervisor")
    luke = await staff(broker, "luke", "engineer", ("level2",))
    olga = await staff(broker, "olga", "engineer")
    ids = {u: await _user_id(broker, u) for u in ("erin", "sam", "luke", "olga")}
    tid = await _ticket(
        broker, erin, "VPN down", "premium", assignee=ids["erin"], owner=ids["olga"]
    )
    scheduler = broker.app[SLA_SCHEDULER]

    async def step(
        seconds: float,
    ) -> tuple[list[str], list[tuple[str, str]], list[tuple[str, str]]]:
        clock.advance(seconds)
        done = await scheduler.run_once()
        again = await scheduler.run_once()  # a second pass at the same time adds nothing
        assert (again.raised, again.at_risk, again.breached) == ([], [], [])
        return done.raised, done.at_risk, done.breached

    assert await step(300) == ([], [], [])  # 50 % of the response time: no response level
    raised, at_risk, _ = await step(180)  # 80 %
    assert len(raised) == 1 and at_risk == [(tid, "response")]
    await _patch(broker, erin, tid, status="in_progress")  # answered at 480 s: met
    clock.advance(20)
    assert (await _clocks(broker, erin, tid))["response"]["state"] == "stopped"
    raised, _, _ = await step(1300)  # 1800 s: half the resolution time
    assert len(raised) == 1
    raised, at_risk, _ = await step(1080)  # 2880 s: 80 %
    assert len(raised) == 2 and at_risk == [(tid, "resolution")]
    raised, _, breached = await step(720)  # 3600 s: breached
    assert len(raised) == 1 and breached == [(tid, "resolution")]

    clocks = await _clocks(broker, erin, tid)
    assert clocks["response"]["breached"] is False and clocks["response"]["elapsed_s"] == 480
    assert clocks["resolution"]["breached"] is True
    assert clocks["resolution"]["breached_at"] == "2027-01-15T09:00:00.000Z"

    raised_events = await outbox(broker, "escalation.raised")
    to = [(e["data"]["escalation"]["clock"], e["data"]["escalation"]["to"]) for e in raised_events]
    assert to[:2] == [("response", "supervisor"), ("resolution", "assignee")]
    assert set(to[2:4]) == {("resolution", "supervisor"), ("resolution", "group")}
    assert to[4:] == [("resolution", "owner")]
    recipients = {
        (e["data"]["escalation"]["to"]): e["data"]["escalation"]["recipients"]
        for e in raised_events
    }
    assert recipients["assignee"] == [ids["erin"]]
    assert recipients["group"] == [ids["luke"]]
    assert recipients["owner"] == [ids["olga"]]
    assert recipients["supervisor"] == [ids["sam"]]
    assert len(await outbox(broker, "sla.at_risk")) == 2
    assert [e["data"]["clock"] for e in await outbox(broker, "sla.breached")] == ["resolution"]

    # Supervisors see every open level; an engineer only those addressed to them.
    status, body, _ = await broker.request("GET", "/api/v1/sla/escalations?open=true", token=sam)
    assert status == 200 and len(body["escalations"]) == 5
    _, mine, _ = await broker.request("GET", "/api/v1/sla/escalations", token=erin)
    [own] = mine["escalations"]
    assert own["to"] == "assignee" and own["acknowledged_at"] is None
    # Somebody else's level is not theirs to acknowledge (nor to see).
    status, _, _ = await broker.request(
        "POST", f"/api/v1/sla/escalations/{own['id']}/acknowledge", token=luke
    )
    assert status == 404
    clock.advance(60)
    status, acked, _ = await broker.request(
        "POST", f"/api/v1/sla/escalations/{own['id']}/acknowledge", token=erin
    )
    assert status == 200 and acked["acknowledged_by"] == ids["erin"]
    assert acked["acknowledged_by_name"] == "Erin" and acked["acknowledged_at"] is not None
    # A second acknowledgement keeps the first one.
    status, again, _ = await broker.request(
        "POST", f"/api/v1/sla/escalations/{own['id']}/acknowledge", token=sam
    )
    assert status == 200 and again["acknowledged_by"] == ids["erin"]
    [ack_event] = await outbox(broker, "escalation.acknowledged")
    assert ack_event["data"]["acknowledged_by"] == {"id": ids["erin"], "name": "Erin"}
    # Every event matches the JSON Schema of its type (broker/webhooks/schemas/).
    for event_type in SLA_EVENTS:
        schema = json.loads((SCHEMAS / f"{event_type}.v1.json").read_text())
        for event in await outbox(broker, event_type):
            Draft202012Validator(schema, format_checker=FormatChecker()).validate(event)
    _, still_open, _ = await broker.request("GET", "/api/v1/sla/escalations?open=true", token=sam)
    assert own["id"] not in {e["id"] for e in still_open["escalations"]}
    assert len(still_open["escalations"]) == 4
    del olga


async def test_pauses_follow_the_contract(broker: RunningBroker, clock: FakeClock) -> None:
    admin = await _admin(broker)
    erin = await staff(broker, "erin", "engineer")
    await put_contract(broker, admin, "premium", response_s=600, resolution_s=3600)
    await put_contract(broker, admin, "basic", response_s=600, resolution_s=3600, pause=())
    paused = await _ticket(broker, erin, "Waits on the client", "premium")
    counted = await _ticket(broker, erin, "Waits, but the contract counts it", "basic")
    for tid in (paused, counted):
        await _patch(broker, erin, tid, status="assigned")
        await _patch(broker, erin, tid, status="in_progress")
    clock.advance(1000)
    for tid in (paused, counted):
        await _patch(broker, erin, tid, status="waiting_for_client")
    clock.advance(10_000)
    result = await broker.app[SLA_SCHEDULER].run_once()
    assert (counted, "resolution") in result.breached
    assert all(t != paused for t, _ in result.breached + result.at_risk)
    clocks = await _clocks(broker, erin, paused)
    assert clocks["resolution"]["state"] == "paused"
    assert clocks["resolution"]["elapsed_s"] == 1000 and clocks["resolution"]["due"] is None
    await _patch(broker, erin, paused, status="in_progress")
    clock.advance(1880)  # 1000 + 1880 = 2880 s of running time: 80 %
    result = await broker.app[SLA_SCHEDULER].run_once()
    assert result.at_risk == [(paused, "resolution")] and not result.breached
    clocks = await _clocks(broker, erin, paused)
    # 08:00 + 12 880 s of wall time = 11:34:40, and 720 s of the target are left.
    assert clocks["resolution"]["due"] == "2027-01-15T11:46:40.000Z"


async def test_a_business_calendar_skips_the_weekend_and_a_holiday(
    broker: RunningBroker, clock: FakeClock
) -> None:
    admin = await _admin(broker)
    erin_login = await broker.create_user("erin", "engineer")
    status, cal, _ = await broker.request(
        "PUT",
        "/api/v1/sla/calendars/moscow-office",
        token=admin,
        json={
            "timezone": "Europe/Moscow",
            "hours": {d: [["09:00", "18:00"]] for d in ("mon", "tue", "wed", "thu", "fri")},
            "holidays": ["2027-01-18"],
        },
    )
    assert status == 200, cal
    await put_contract(
        broker,
        admin,
        "standard",
        response_s=4 * 3600,
        resolution_s=16 * 3600,
        calendar="moscow-office",
    )
    clock.advance(6 * 3600)  # Friday 15 January 2027, 14:00 UTC = 17:00 in Moscow
    erin = await broker.login(*erin_login)
    tid = await _ticket(broker, erin, "Printer", "standard")
    clocks = await _clocks(broker, erin, tid)
    # 1 h on Friday, nothing on the weekend or the Monday holiday, 3 h on Tuesday.
    assert clocks["response"]["due"] == "2027-01-19T09:00:00.000Z"  # Tuesday 12:00 MSK
    assert clocks["response"]["calendar"] == "moscow-office"
    scheduler = broker.app[SLA_SCHEDULER]
    clock.advance(24 * 3600)  # Saturday: nothing moves
    assert (await scheduler.run_once()).raised == []
    clock.advance((24 + 24 + 18) * 3600)  # Tuesday 08:00 UTC = 11:00 MSK
    result = await scheduler.run_once()
    assert result.at_risk == [] and result.raised == []  # 3 h of 4: 75 %
    erin = await broker.login(*erin_login)
    assert (await _clocks(broker, erin, tid))["response"]["elapsed_s"] == 3 * 3600
    clock.advance(13 * 60)  # 11:13 MSK: 3 h 13 min ≥ 80 %
    result = await scheduler.run_once()
    assert result.at_risk == [(tid, "response")] and len(result.raised) == 1
    clock.advance(47 * 60)
    result = await scheduler.run_once()
    assert result.breached == [(tid, "response")]


async def test_a_waiting_client_is_told_when_a_supervisor_gets_the_request(
    broker: RunningBroker, clock: FakeClock
) -> None:
    sid, agent_token = await agent_request(broker)  # standard: 30 min to answer
    async with ws_connect(broker, "/ws/agent") as agent:
        await agent.say(m.Hello(token=agent_token, client="a"))
        await agent.expect("welcome")
        clock.advance(1440)  # 80 % of the time to answer
        [escalation] = await broker.app[ESCALATOR].run_once()
        assert escalation.session_id == sid
        while True:
            msg = await agent.expect("log.event")
            if msg.record["event"] == "session.escalated":
                break
        assert msg.record["actor"] == "broker"


async def test_an_unacknowledged_level_is_sent_again_until_acknowledged(
    broker: RunningBroker, clock: FakeClock
) -> None:
    admin = await _admin(broker)
    chain = [
        {"clock": "response", "at": 0.5, "to": "supervisor"},
        {"clock": "response", "at": 0.6, "to": "supervisor"},
    ]
    contract = await put_contract(
        broker,
        admin,
        "premium",
        response_s=1000,
        resolution_s=100_000,
        chain=chain,
        remind_after_s=600,
    )
    assert contract["remind_after_s"] == 600
    sam_login = await broker.create_user("sam", "supervisor")
    await _ticket(broker, admin, "Printer", "premium")
    scheduler = broker.app[SLA_SCHEDULER]
    clock.advance(600)  # 60 %: both levels raised
    first = await scheduler.run_once()
    assert len(first.raised) == 2 and first.reminded == []
    clock.advance(599)
    assert (await scheduler.run_once()).reminded == []
    clock.advance(1)
    assert sorted((await scheduler.run_once()).reminded) == sorted(first.raised)
    sam = await broker.login(*sam_login)
    status, _, _ = await broker.request(
        "POST", f"/api/v1/sla/escalations/{first.raised[0]}/acknowledge", token=sam
    )
    assert status == 200
    reminded = []
    for _ in range(4):
        clock.advance(600)
        reminded.append((await scheduler.run_once()).reminded)
    # The acknowledged level stopped; the other one is sent at most three times in all.
    assert reminded == [[first.raised[1]], [first.raised[1]], [], []]
