"""Outbound webhooks against the REAL broker (TLS, SQLite) and a real aiohttp receiver
on 127.0.0.1: signed delivery, retries with backoff on an injected clock, durability
across a restart, dead letters, the admin API and the events of the session flow."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator, Mapping
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from broker.config import BrokerConfig
from broker.errors import ConfigError
from broker.pki import PKI
from broker.server import start_server
from broker.store import queries
from broker.store import webhook_models as store
from broker.store.db import DB, Database
from broker.testing import FakeClock, RunningBroker, fast_passwords, running_broker, test_config
from broker.webhooks import (
    WEBHOOKS,
    AiohttpTransport,
    DeliveryFailed,
    DeliverySettings,
    WebhookDispatcher,
    emit,
    emit_after,
    verify_signature,
)
from broker.webhooks.delivery import client_ssl_context
from broker.webhooks.testing import WebhookReceiver
from tests.broker.conftest import staff
from tests.helpers import eventually

START_MS = 1_800_000_000_000
WEBHOOK_CONFIG: dict[str, Any] = {
    "webhook_allow_http_loopback": True,
    "webhook_poll_interval_s": 0.05,
    "webhook_backoff_base_s": 10.0,
    "webhook_backoff_max_s": 60.0,
    "webhook_max_attempts": 3,
    "webhook_timeout_s": 2.0,
}


@pytest.fixture
async def hooked(tmp_path: Path, clock: FakeClock) -> AsyncIterator[RunningBroker]:
    """A real broker that accepts http://127.0.0.1 webhooks and polls quickly."""
    async with running_broker(tmp_path, clock=clock, **WEBHOOK_CONFIG) as b:
        yield b


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    """A listening receiver."""
    r = WebhookReceiver()
    await r.start()
    yield r
    await r.stop()


async def _admin(b: RunningBroker) -> str:
    return await b.login(b.admin_username, b.admin_password)


async def _register(b: RunningBroker, url: str, events: list[str]) -> tuple[str, str]:
    status, body, _ = await b.request(
        "POST", "/api/v1/webhooks", token=await _admin(b), json={"url": url, "events": events}
    )
    assert status == 201, body
    return body["webhook"]["id"], body["secret"]


async def _deliveries(b: RunningBroker, wid: str) -> list[store.WebhookDelivery]:
    return await store.list_deliveries(b.app[DB], wid)


def _verify(secret: str, hook: Any, clock: FakeClock) -> dict[str, Any]:
    verify_signature(
        secret,
        hook.headers["X-Clearpane-Timestamp"],
        hook.body,
        hook.headers["X-Clearpane-Signature"],
        now=clock.now_ms() / 1000,
        tolerance_s=300,
    )
    data = json.loads(hook.body)
    assert isinstance(data, dict)
    return data


async def test_ticket_created_is_delivered_signed(
    hooked: RunningBroker, receiver: WebhookReceiver, clock: FakeClock
) -> None:
    wid, secret = await _register(hooked, receiver.url, ["ticket.created", "ticket.updated"])
    eng = await staff(hooked, "erin", "engineer")
    status, ticket, _ = await hooked.request(
        "POST", "/api/v1/tickets", token=eng, json={"title": "Printer", "external_ref": "HD-7"}
    )
    assert status == 201
    [hook] = await receiver.wait_for(1)
    body = _verify(secret, hook, clock)
    assert hook.headers["X-Clearpane-Event"] == "ticket.created"
    assert hook.headers["Content-Type"] == "application/json"
    assert hook.headers["X-Clearpane-Timestamp"] == str(clock.now_ms() // 1000)
    assert body["type"] == "ticket.created"
    assert body["data"]["ticket"]["id"] == ticket["id"]
    assert body["data"]["ticket"]["external_ref"] == "HD-7"
    [delivery] = await eventually(
        lambda: _deliveries_if(hooked, wid, "delivered"), what="delivered"
    )
    assert hook.headers["X-Clearpane-Delivery"] == delivery.id
    assert delivery.event_id == body["id"] and delivery.attempts == 1
    # An update that changes a field announces which fields changed.
    await hooked.request(
        "PATCH", f"/api/v1/tickets/{ticket['id']}", token=eng, json={"status": "resolved"}
    )
    hooks = await receiver.wait_for(2)
    update = _verify(secret, hooks[1], clock)
    assert update["type"] == "ticket.updated"
    assert update["data"]["changes"] == ["status"]
    assert update["data"]["ticket"]["status"] == "resolved"
    assert hooks[1].headers["X-Clearpane-Delivery"] != delivery.id


async def _deliveries_if(b: RunningBroker, wid: str, status: str) -> list[store.WebhookDelivery]:
    found = await _deliveries(b, wid)
    return found if found and all(d.status == status for d in found) else []


async def test_receiver_down_retried_with_backoff_then_delivered(
    hooked: RunningBroker, clock: FakeClock
) -> None:
    down = WebhookReceiver()  # not started: connections are refused
    wid, secret = await _register(hooked, down.url, ["ticket.created"])
    eng = await staff(hooked, "erin", "engineer")
    await hooked.request("POST", "/api/v1/tickets", token=eng, json={"title": "Mail"})
    [first] = await eventually(lambda: _attempted(hooked, wid, 1), what="first attempt")
    assert first.status == "pending" and first.last_error
    assert first.next_attempt_at_ms is not None
    wait_ms = first.next_attempt_at_ms - clock.now_ms()
    assert 5_000 <= wait_ms < 10_000  # base 10 s, jitter factor in [0.5, 1)
    await down.start()
    try:
        clock.advance(wait_ms / 1000 - 1)  # not yet due: a delivery pass sends nothing
        assert await hooked.app[WEBHOOKS].deliver_due() == 0
        assert down.received == []
        clock.advance(1.5)  # (float seconds: leave room for rounding)
        hooked.app[WEBHOOKS].wake()
        [hook] = await down.wait_for(1)
        _verify(secret, hook, clock)
        assert hook.headers["X-Clearpane-Delivery"] == first.id  # same id on a retry
        [done] = await eventually(
            lambda: _deliveries_if(hooked, wid, "delivered"), what="delivered"
        )
        assert done.attempts == 2 and done.last_error is None
    finally:
        await down.stop()


async def _attempted(b: RunningBroker, wid: str, n: int) -> list[store.WebhookDelivery]:
    found = await _deliveries(b, wid)
    return found if found and found[0].attempts >= n else []


async def test_dead_after_max_attempts(hooked: RunningBroker, clock: FakeClock) -> None:
    failing = WebhookReceiver(status=503)
    await failing.start()
    try:
        wid, _ = await _register(hooked, failing.url, ["ticket.created"])
        eng = await staff(hooked, "erin", "engineer")
        await hooked.request("POST", "/api/v1/tickets", token=eng, json={"title": "Disk"})
        for attempt in (1, 2):
            [d] = await eventually(
                partial(_attempted, hooked, wid, attempt), what=f"attempt {attempt}"
            )
            assert d.status == "pending" and d.last_status == 503 and d.last_error == "HTTP 503"
            clock.advance(60)
            hooked.app[WEBHOOKS].wake()
        [dead] = await eventually(lambda: _deliveries_if(hooked, wid, "dead"), what="dead")
        assert dead.attempts == 3 and dead.next_attempt_at_ms is None
        assert dead.dead_at_ms == clock.now_ms()
        assert len(failing.received) == 3
        assert {h.headers["X-Clearpane-Delivery"] for h in failing.received} == {dead.id}
        clock.advance(3600)  # a dead delivery is never tried again: a pass sends nothing
        assert await hooked.app[WEBHOOKS].deliver_due() == 0
        assert len(failing.received) == 3
        status, listed, _ = await hooked.request(
            "GET", f"/api/v1/webhooks/{wid}/deliveries?status=dead", token=await _admin(hooked)
        )
        assert status == 200
        assert [(x["id"], x["status"], x["attempts"]) for x in listed["deliveries"]] == [
            (dead.id, "dead", 3)
        ]
    finally:
        await failing.stop()


async def test_slow_receiver_times_out_without_blocking_the_api(
    tmp_path: Path, clock: FakeClock
) -> None:
    slow = WebhookReceiver()
    slow.delay_s = 1.0
    await slow.start()
    config = {**WEBHOOK_CONFIG, "webhook_timeout_s": 0.4}
    try:
        async with running_broker(tmp_path, clock=clock, **config) as b:
            wid, _ = await _register(b, slow.url, ["ticket.created"])
            eng = await staff(b, "erin", "engineer")
            loop = asyncio.get_running_loop()
            started = loop.time()
            for n in range(3):
                status, _, _ = await b.request(
                    "POST", "/api/v1/tickets", token=eng, json={"title": f"T{n}"}
                )
                assert status == 201
            # Waiting for the receiver would take >= 0.4 s per request.
            assert loop.time() - started < 1.0
            found = await eventually(lambda: _all_attempted(b, wid, 3), what="timeouts recorded")
            assert all(d.last_error == "TimeoutError" for d in found)
    finally:
        await slow.stop()


async def _all_attempted(b: RunningBroker, wid: str, n: int) -> list[store.WebhookDelivery]:
    found = await _deliveries(b, wid)
    return found if len(found) == n and all(d.attempts == 1 for d in found) else []


async def test_transport_trusts_the_configured_ca_only(hooked: RunningBroker) -> None:
    """Real TLS to an https receiver (certificate from the broker's own CA): accepted
    with that CA as ``webhook_ca_file``, refused with the system trust store."""
    pki = hooked.app[PKI]
    receiver = WebhookReceiver()
    await receiver.start(ssl_context=pki.server_ssl_context())
    assert receiver.url.startswith("https://127.0.0.1:")
    pinned = AiohttpTransport(client_ssl_context(pki.ca_cert_path))
    system = AiohttpTransport(client_ssl_context(None))
    try:
        status = await pinned.post(receiver.url, b"{}", {"X-Test": "1"}, timeout_s=5)
        assert status == 200 and receiver.received[0].headers["X-Test"] == "1"
        with pytest.raises(DeliveryFailed, match=r"(?i)certificate"):
            await system.post(receiver.url, b"{}", {}, timeout_s=5)
        assert len(receiver.received) == 1
    finally:
        await pinned.close()
        await system.close()
        await receiver.stop()


async def test_outbox_survives_a_restart(tmp_path: Path) -> None:
    clock = FakeClock(START_MS)
    receiver = WebhookReceiver()  # down while the first broker runs
    async with running_broker(tmp_path, clock=clock, **WEBHOOK_CONFIG) as first:
        wid, secret = await _register(first, receiver.url, ["ticket.created"])
        eng = await staff(first, "erin", "engineer")
        status, ticket, _ = await first.request(
            "POST", "/api/v1/tickets", token=eng, json={"title": "VPN"}
        )
        assert status == 201
        [pending] = await eventually(lambda: _attempted(first, wid, 1), what="first attempt")
        data_dir, database_url = first.data_dir, first.config.database_url
    await receiver.start()
    later = FakeClock(START_MS + 60_000)
    config = test_config(data_dir, database_url=database_url, **WEBHOOK_CONFIG)
    second = await start_server(config, clock=later, passwords=fast_passwords())
    try:
        [hook] = await receiver.wait_for(1)
        body = _verify(secret, hook, later)
        assert body["data"]["ticket"]["id"] == ticket["id"]
        assert hook.headers["X-Clearpane-Delivery"] == pending.id
        [delivered] = await eventually(
            lambda: store.list_deliveries(second.app[DB], wid, status="delivered"),
            what="recorded as delivered",
        )
        assert delivered.id == pending.id and delivered.attempts == 2
    finally:
        await second.stop()
        await receiver.stop()


async def test_session_flow_events(
    hooked: RunningBroker, receiver: WebhookReceiver, clock: FakeClock
) -> None:
    """Requests, start, end (with the summary) and rating — through the API and the
    query functions the relay calls — each announced once."""
    wid, secret = await _register(
        hooked,
        receiver.url,
        ["session.requested", "session.started", "session.ended", "session.rated"],
    )
    db = hooked.app[DB]
    status, req, _ = await hooked.request(
        "POST", "/api/v1/agent/requests", json={"description": "No sound", "client_name": "Ann"}
    )
    assert status == 201
    sid = req["session_id"]
    [h1] = await receiver.wait_for(1)
    requested = _verify(secret, h1, clock)
    assert requested["type"] == "session.requested"
    assert requested["data"]["session"]["id"] == sid
    assert requested["data"]["ticket"]["id"] == req["ticket_id"]

    erin = await queries.create_user(
        db,
        username="erin",
        name="Erin E",
        role="engineer",
        skills=(),
        password_hash="x",
        at=clock.now_ms(),
    )
    clock.advance(30)
    await queries.mark_answered(db, sid, erin.id, clock.now_ms())
    await queries.set_session_state(db, sid, "waiting", at=clock.now_ms())
    await queries.set_session_state(db, sid, "consent_pending", at=clock.now_ms())
    await queries.set_session_state(db, sid, "live", at=clock.now_ms())
    [_, h2] = await receiver.wait_for(2)
    started = _verify(secret, h2, clock)
    assert started["type"] == "session.started"
    assert started["data"]["session"]["engineer"] == {"id": erin.id, "name": "Erin E"}
    assert started["data"]["session"]["time_to_answer_s"] == 30.0
    # Going live again after the viewer left is not a new start.
    await queries.set_session_state(db, sid, "waiting", at=clock.now_ms())
    await queries.set_session_state(db, sid, "consent_pending", at=clock.now_ms())
    await queries.set_session_state(db, sid, "live", at=clock.now_ms())
    clock.advance(600)
    await queries.mark_ended(db, sid, "ended_by_engineer", clock.now_ms(), "Driver reinstalled")
    await queries.mark_ended(db, sid, "failed", clock.now_ms())  # idempotent: no event
    await queries.set_rating(db, sid, 5, "great")
    hooks = await receiver.wait_for(4)
    assert len(await _deliveries(hooked, wid)) == 4  # the repeated end queued nothing
    assert [json.loads(h.body)["type"] for h in receiver.received] == [
        "session.requested",
        "session.started",
        "session.ended",
        "session.rated",
    ]
    ended = _verify(secret, hooks[2], clock)["data"]
    assert ended["session"]["outcome"] == "ended_by_engineer"
    assert ended["session"]["duration_s"] == 600.0
    assert ended["session"]["resolution"] == "Driver reinstalled"
    assert ended["session"]["ticket_id"] == req["ticket_id"]
    assert ended["ticket"]["id"] == req["ticket_id"]
    rated = _verify(secret, hooks[3], clock)["data"]
    assert rated["session"]["rating"] == {"score": 5, "comment": "great"}


async def test_ending_through_the_api_sends_the_summary(
    hooked: RunningBroker, receiver: WebhookReceiver, clock: FakeClock
) -> None:
    _, secret = await _register(hooked, receiver.url, ["session.ended", "ticket.created"])
    eng = await staff(hooked, "erin", "engineer")
    status, ticket, _ = await hooked.request(
        "POST", "/api/v1/tickets", token=eng, json={"title": "Screen"}
    )
    _, inv, _ = await hooked.request(
        "POST", f"/api/v1/tickets/{ticket['id']}/invitations", token=eng
    )
    _, redeemed, _ = await hooked.request(
        "POST", "/api/v1/agent/redeem", json={"code": inv["code"], "client_name": "Bo"}
    )
    erin = await queries.get_user_by_username(hooked.app[DB], "erin")
    assert erin is not None
    await queries.mark_answered(hooked.app[DB], redeemed["session_id"], erin.id, clock.now_ms())
    clock.advance(120)
    status, _, _ = await hooked.request(
        "POST",
        f"/api/v1/sessions/{redeemed['session_id']}/end",
        token=eng,
        json={"resolution": "Cable"},
    )
    assert status == 200
    hooks = await receiver.wait_for(2)
    types = [h.headers["X-Clearpane-Event"] for h in hooks]
    assert types == ["ticket.created", "session.ended"]
    ended = _verify(secret, hooks[1], clock)["data"]["session"]
    assert ended["id"] == redeemed["session_id"] and ended["resolution"] == "Cable"
    assert ended["outcome"] == "ended_by_engineer" and ended["duration_s"] == 120.0
    assert ended["engineer"]["id"] == erin.id


async def test_explicit_emit_follows_its_transaction(
    hooked: RunningBroker, receiver: WebhookReceiver, clock: FakeClock
) -> None:
    wid, _ = await _register(hooked, receiver.url, ["ticket.updated"])
    db = hooked.app[DB]
    payload = {"ticket": {"id": "t1"}, "changes": ["note"]}
    with pytest.raises(RuntimeError):
        async with db.sessions.begin() as s:
            ids = await emit(s, "ticket.updated", payload, subject_id="t1", at_ms=clock.now_ms())
            assert len(ids) == 1
            raise RuntimeError("roll back")
    assert await _deliveries(hooked, wid) == []
    ids = await emit_after(db, "ticket.updated", payload, subject_id="t1", at_ms=clock.now_ms())
    [hook] = await receiver.wait_for(1)
    assert hook.headers["X-Clearpane-Delivery"] == ids[0]
    with pytest.raises(ValueError, match="unknown webhook event"):
        await emit_after(db, "ticket.deleted", payload, subject_id="t1", at_ms=clock.now_ms())


async def test_finished_deliveries_are_pruned_after_the_retention(
    hooked: RunningBroker, receiver: WebhookReceiver, clock: FakeClock
) -> None:
    wid, _ = await _register(hooked, receiver.url, ["ticket.created"])
    db = hooked.app[DB]
    await _ticket(db, "Old", clock)
    [old] = await eventually(lambda: _deliveries_if(hooked, wid, "delivered"), what="delivered")
    await receiver.stop()  # the next one stays pending
    clock.advance(29 * 24 * 3600)
    await _ticket(db, "New", clock)
    [new, _] = await eventually(lambda: _attempted(hooked, wid, 1), what="attempted")
    assert await hooked.app[WEBHOOKS].prune() == 0  # a pruning pass, now
    assert {d.id for d in await _deliveries(hooked, wid)} == {old.id, new.id}  # 29 days: kept
    clock.advance(2 * 24 * 3600)
    hooked.app[WEBHOOKS].wake()
    await eventually(lambda: _only(hooked, wid, new.id), what="old delivery pruned")
    [left] = await _deliveries(hooked, wid)
    assert left.status == "pending"  # pending ones are never pruned, whatever their age


async def _ticket(db: Database, title: str, clock: FakeClock) -> None:
    await queries.create_ticket(
        db,
        title=title,
        description="",
        organisation="",
        tier="standard",
        external_ref=None,
        skills=(),
        created_by=None,
        at=clock.now_ms(),
    )


async def _only(b: RunningBroker, wid: str, delivery_id: str) -> bool:
    return [d.id for d in await _deliveries(b, wid)] == [delivery_id]


async def test_unsubscribed_and_unregistered_events_queue_nothing(
    hooked: RunningBroker, receiver: WebhookReceiver
) -> None:
    eng = await staff(hooked, "erin", "engineer")
    await hooked.request("POST", "/api/v1/tickets", token=eng, json={"title": "Before"})
    wid, _ = await _register(hooked, receiver.url, ["session.rated"])
    await hooked.request("POST", "/api/v1/tickets", token=eng, json={"title": "After"})
    # deliveries are queued in the transaction of the change: none exists, none can be sent
    assert await _deliveries(hooked, wid) == [] and receiver.received == []


async def test_admin_api_lists_and_deletes(hooked: RunningBroker) -> None:
    admin = await _admin(hooked)
    status, created, _ = await hooked.request(
        "POST",
        "/api/v1/webhooks",
        token=admin,
        json={
            "url": "https://helpdesk.example.com/hooks?src=cp",
            "events": ["session.ended", "ticket.created", "session.ended"],
            "description": "Help desk",
        },
    )
    assert status == 201
    hook = created["webhook"]
    assert hook["events"] == ["session.ended", "ticket.created"]
    assert created["secret"].startswith("whsec_")
    status, listed, _ = await hooked.request("GET", "/api/v1/webhooks", token=admin)
    assert status == 200 and listed["webhooks"] == [hook]
    assert "secret" not in json.dumps(listed)  # shown once, at creation
    status, _, _ = await hooked.request("DELETE", f"/api/v1/webhooks/{hook['id']}", token=admin)
    assert status == 200
    status, listed, _ = await hooked.request("GET", "/api/v1/webhooks", token=admin)
    assert listed["webhooks"] == []
    for method, path in (
        ("DELETE", f"/api/v1/webhooks/{hook['id']}"),
        ("GET", f"/api/v1/webhooks/{hook['id']}/deliveries"),
    ):
        status, body, _ = await hooked.request(method, path, token=admin)
        assert status == 404 and body["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "http://helpdesk.example.com/h", "events": ["ticket.created"]}, "url"),
        ({"url": "http://10.0.0.1/h", "events": ["ticket.created"]}, "url"),
        ({"url": "ftp://x.example.com/h", "events": ["ticket.created"]}, "url"),
        ({"url": "https:///nohost", "events": ["ticket.created"]}, "url"),
        ({"url": "https://u:p@x.example.com/h", "events": ["ticket.created"]}, "url"),
        ({"url": "https://x.example.com:99999/h", "events": ["ticket.created"]}, "url"),
        ({"url": "https://x.example.com/h#frag", "events": ["ticket.created"]}, "url"),
        ({"url": 5, "events": ["ticket.created"]}, "url"),
        ({"url": "https://x.example.com/h", "events": []}, "events"),
        ({"url": "https://x.example.com/h", "events": ["ticket.deleted"]}, "events"),
        ({"url": "https://x.example.com/h", "events": "ticket.created"}, "events"),
        ({"url": "https://x.example.com/h"}, "events"),
        ({"events": ["ticket.created"]}, "url"),
        ({"url": "https://x.example.com/h", "events": ["ticket.created"], "secret": "x"}, "secret"),
    ],
)
async def test_bad_bodies_are_refused(
    hooked: RunningBroker, body: dict[str, Any], field: str
) -> None:
    status, answer, _ = await hooked.request(
        "POST", "/api/v1/webhooks", token=await _admin(hooked), json=body
    )
    assert status == 400, answer
    assert answer["error"]["code"] == "invalid_field"
    assert answer["error"]["message"].startswith(field + ":")


async def test_not_json_and_loopback_http_without_the_flag(
    tmp_path: Path, clock: FakeClock
) -> None:
    async with running_broker(tmp_path, clock=clock) as b:  # dev flag off
        admin = await _admin(b)
        status, answer, _ = await b.request(
            "POST",
            "/api/v1/webhooks",
            token=admin,
            json={"url": "http://127.0.0.1:9/h", "events": ["ticket.created"]},
        )
        assert status == 400 and answer["error"]["code"] == "invalid_field"
        status, answer, _ = await b.request(
            "POST",
            "/api/v1/webhooks",
            token=admin,
            data="{not json",
            headers={"Content-Type": "application/json"},
        )
        assert status == 400 and answer["error"]["code"] == "bad_request"
        status, answer, _ = await b.request(
            "GET", "/api/v1/webhooks/x/deliveries?status=lost", token=admin
        )
        assert status == 400 and answer["error"]["code"] == "invalid_field"


async def test_only_admins(hooked: RunningBroker) -> None:
    admin = await _admin(hooked)
    wid, _ = await _register(hooked, "https://x.example.com/h", ["ticket.created"])
    calls = [
        ("GET", "/api/v1/webhooks", None),
        (
            "POST",
            "/api/v1/webhooks",
            {"url": "https://y.example.com/", "events": ["ticket.created"]},
        ),
        ("DELETE", f"/api/v1/webhooks/{wid}", None),
        ("GET", f"/api/v1/webhooks/{wid}/deliveries", None),
    ]
    others = [
        await staff(hooked, f"u-{role}", role) for role in ("engineer", "supervisor", "reviewer")
    ]
    for method, path, body in calls:
        status, answer, _ = await hooked.request(method, path, json=body)
        assert status == 401 and answer["error"]["code"] == "unauthorized", path
        for token in others:
            status, answer, _ = await hooked.request(method, path, token=token, json=body)
            assert status == 403 and answer["error"]["code"] == "forbidden", path
    status, listed, _ = await hooked.request("GET", "/api/v1/webhooks", token=admin)
    assert [w["id"] for w in listed["webhooks"]] == [wid]  # nothing changed


def test_webhook_config_from_env_and_checks(tmp_path: Path) -> None:
    config = BrokerConfig.from_env(
        {
            "CLEARPANE_WEBHOOK_MAX_ATTEMPTS": "5",
            "CLEARPANE_WEBHOOK_TIMEOUT_S": "2.5",
            "CLEARPANE_WEBHOOK_ALLOW_HTTP_LOOPBACK": "yes",
            "CLEARPANE_WEBHOOK_CA_FILE": str(tmp_path / "ca.pem"),
        }
    )
    assert config.webhook_max_attempts == 5 and config.webhook_timeout_s == 2.5
    assert config.webhook_allow_http_loopback is True
    with pytest.raises(ConfigError) as err:
        config.with_overrides(webhook_backoff_base_s=0.0).check()
    problems = " ".join(err.value.problems)
    assert "webhook_ca_file" in problems and "webhook_backoff_base_s" in problems
    (tmp_path / "ca.pem").write_text("x")
    assert config.check() is config
    with pytest.raises(ConfigError, match="webhook_max_attempts"):
        config.with_overrides(webhook_max_attempts=0).check()
    with pytest.raises(ConfigError, match="CLEARPANE_WEBHOOK_TIMEOUT_S"):
        BrokerConfig.from_env({"CLEARPANE_WEBHOOK_TIMEOUT_S": "soon"})


class _FixedRandom(random.Random):
    def __init__(self, value: float) -> None:
        super().__init__()
        self.value = value

    def random(self) -> float:
        return self.value


class _NoTransport:
    async def post(
        self, url: str, body: bytes, headers: Mapping[str, str], timeout_s: float
    ) -> int:
        raise AssertionError("not used")


def test_backoff_doubles_with_jitter_and_a_cap() -> None:
    settings = DeliverySettings(backoff_base_s=10.0, backoff_max_s=300.0)
    db = Database.open("sqlite+aiosqlite:///:memory:")  # never connected here
    low, high = (
        WebhookDispatcher(db, FakeClock(0), _NoTransport(), settings, rng=_FixedRandom(v))
        for v in (0.0, 0.999999)
    )
    assert [low.backoff_s(n) for n in range(1, 8)] == [5, 10, 20, 40, 80, 150, 150]
    assert [round(high.backoff_s(n)) for n in range(1, 8)] == [10, 20, 40, 80, 160, 300, 300]
