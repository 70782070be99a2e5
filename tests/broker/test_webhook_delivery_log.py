"""The webhook delivery log and manual redelivery (issue 18) against the REAL broker
and a real receiver: every attempt is stored (attempt n, status, latency, error),
shown by the API with the delivery's exact body, and an admin can send a delivered or
dead delivery again (logged as manual, signed anew, same delivery id)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from broker.store import webhook_models as store
from broker.store.db import DB
from broker.store.delivery_log_models import list_attempts
from broker.testing import FakeClock, RunningBroker, running_broker
from broker.webhooks import verify_signature
from broker.webhooks.testing import WebhookReceiver
from tests.broker.conftest import staff
from tests.helpers import eventually

CONFIG: dict[str, Any] = {
    "webhook_allow_http_loopback": True,
    "webhook_poll_interval_s": 0.05,
    "webhook_backoff_base_s": 10.0,
    "webhook_max_attempts": 2,
    "webhook_timeout_s": 2.0,
}


@pytest.fixture
async def hooked(tmp_path: Path, clock: FakeClock) -> AsyncIterator[RunningBroker]:
    async with running_broker(tmp_path, clock=clock, **CONFIG) as b:
        yield b


async def _state(b: RunningBroker, wid: str, status: str) -> list[store.WebhookDelivery]:
    found = await store.list_deliveries(b.app[DB], wid, status=status)
    return found or []


async def test_attempts_are_logged_and_a_dead_delivery_is_redelivered(
    hooked: RunningBroker, clock: FakeClock
) -> None:
    receiver = WebhookReceiver(status=503)
    await receiver.start()
    try:
        admin = await hooked.login(hooked.admin_username, hooked.admin_password)
        status, hook, _ = await hooked.request(
            "POST",
            "/api/v1/webhooks",
            token=admin,
            json={"url": receiver.url, "events": ["ticket.created"]},
        )
        assert status == 201
        wid, secret = hook["webhook"]["id"], hook["secret"]
        eng = await staff(hooked, "erin", "engineer")
        await hooked.request("POST", "/api/v1/tickets", token=eng, json={"title": "Printer"})
        await receiver.wait_for(1)

        async def failed_once() -> bool:
            found = await store.list_deliveries(hooked.app[DB], wid)
            return bool(found) and found[0].attempts == 1

        await eventually(failed_once, what="the first failure recorded")
        clock.advance(60)  # past the backoff: the second (last) attempt
        [dead] = await eventually(lambda: _state(hooked, wid, "dead"), what="dead")
        base = f"/api/v1/webhooks/{wid}/deliveries/{dead.id}"
        status, detail, _ = await hooked.request("GET", base, token=admin)
        assert status == 200, detail
        attempts = detail["attempts"]
        assert [a["attempt"] for a in attempts] == [1, 2]
        assert all(a["status"] == 503 and a["error"] == "HTTP 503" for a in attempts)
        assert all(isinstance(a["latency_ms"], int) and a["latency_ms"] >= 0 for a in attempts)
        assert not any(a["manual"] for a in attempts)
        assert detail["delivery"]["status"] == "dead"
        assert detail["body"]["type"] == "ticket.created"
        assert detail["body"] == json.loads(receiver.received[0].body)
        # The receiver is fixed; the admin sends it again.
        receiver.status = 200
        status, again, _ = await hooked.request("POST", base + "/redeliver", token=admin)
        assert status == 202 and again["delivery"]["status"] == "pending", again
        hooks = await receiver.wait_for(3)
        assert hooks[2].headers["X-Clearpane-Delivery"] == dead.id
        verify_signature(
            secret,
            hooks[2].headers["X-Clearpane-Timestamp"],
            hooks[2].body,
            hooks[2].headers["X-Clearpane-Signature"],
            now=clock.now_ms() / 1000,
            tolerance_s=300,
        )
        await eventually(lambda: _state(hooked, wid, "delivered"), what="delivered")
        _, detail, _ = await hooked.request("GET", base, token=admin)
        last = detail["attempts"][-1]
        assert (last["attempt"], last["status"], last["error"], last["manual"]) == (
            3,
            200,
            None,
            True,
        )
        # A delivered one can be sent again too (the receiver de-duplicates by id).
        status, _, _ = await hooked.request("POST", base + "/redeliver", token=admin)
        assert status == 202
        await receiver.wait_for(4)
        # Unknown ids, another endpoint's delivery, a body: clear errors.
        status, err, _ = await hooked.request(
            "POST", f"/api/v1/webhooks/{wid}/deliveries/nope/redeliver", token=admin
        )
        assert status == 404 and err["error"]["code"] == "not_found"
        status, other, _ = await hooked.request(
            "POST",
            "/api/v1/webhooks",
            token=admin,
            json={"url": receiver.url, "events": ["ticket.updated"]},
        )
        foreign = f"/api/v1/webhooks/{other['webhook']['id']}/deliveries/{dead.id}"
        assert (await hooked.request("GET", foreign, token=admin))[0] == 404
        status, err, _ = await hooked.request(
            "POST", base + "/redeliver", token=admin, json={"now": True}
        )
        assert status == 400 and err["error"]["code"] == "invalid_field"
        assert (await hooked.request("POST", base + "/redeliver", token=eng))[0] == 403
        # Deleting the endpoint removes its log too.
        assert (await hooked.request("DELETE", f"/api/v1/webhooks/{wid}", token=admin))[0] == 200
        assert await list_attempts(hooked.app[DB], dead.id) == []
    finally:
        await receiver.stop()


async def test_a_refused_connection_is_logged_without_a_status(
    hooked: RunningBroker, clock: FakeClock
) -> None:
    receiver = WebhookReceiver()  # never started: connections are refused
    admin = await hooked.login(hooked.admin_username, hooked.admin_password)
    _, hook, _ = await hooked.request(
        "POST",
        "/api/v1/webhooks",
        token=admin,
        json={"url": receiver.url, "events": ["ticket.created"]},
    )
    wid = hook["webhook"]["id"]
    eng = await staff(hooked, "erin", "engineer")
    await hooked.request("POST", "/api/v1/tickets", token=eng, json={"title": "Printer"})

    async def attempted() -> list[dict[str, Any]] | None:
        _, listed, _ = await hooked.request(
            "GET", f"/api/v1/webhooks/{wid}/deliveries", token=admin
        )
        if not listed["deliveries"] or not listed["deliveries"][0]["attempts"]:
            return None
        did = listed["deliveries"][0]["id"]
        _, detail, _ = await hooked.request(
            "GET", f"/api/v1/webhooks/{wid}/deliveries/{did}", token=admin
        )
        return list(detail["attempts"])

    [first] = await eventually(attempted, what="an attempt")
    assert first["status"] is None and first["attempt"] == 1
    assert "Connect" in first["error"] or "refused" in first["error"].lower(), first


async def test_one_help_desks_key_cannot_reach_anothers_webhooks(
    hooked: RunningBroker, clock: FakeClock
) -> None:
    """Review of 2026-12-04: an integration account sees, reads the deliveries of,
    redelivers and deletes only the endpoints it registered (404 otherwise); admins
    see all; a key without the ``webhooks`` scope reaches none."""
    from tests.broker.webhook_flow import integration_key

    receiver = WebhookReceiver(status=200)
    await receiver.start()
    try:
        admin = await hooked.login(hooked.admin_username, hooked.admin_password)
        desk_a = await integration_key(hooked, admin, ["webhooks", "tickets"])
        desk_b = await integration_key(hooked, admin, ["webhooks", "tickets"])
        tickets_only = await integration_key(hooked, admin, ["tickets"])
        status, hook, _ = await hooked.request(
            "POST",
            "/api/v1/webhooks",
            token=desk_a,
            json={"url": receiver.url, "events": ["ticket.created"]},
        )
        assert status == 201, hook
        wid = hook["webhook"]["id"]
        eng = await staff(hooked, "erin", "engineer")
        await hooked.request("POST", "/api/v1/tickets", token=eng, json={"title": "Printer"})
        [done] = await eventually(lambda: _state(hooked, wid, "delivered"), what="delivered")
        base = f"/api/v1/webhooks/{wid}/deliveries"
        for token, want in ((desk_a, 200), (admin, 200)):
            assert (await hooked.request("GET", f"{base}/{done.id}", token=token))[0] == want
        _, listed, _ = await hooked.request("GET", "/api/v1/webhooks", token=desk_b)
        assert listed["webhooks"] == []
        for method, path in (
            ("GET", base),
            ("GET", f"{base}/{done.id}"),
            ("POST", f"{base}/{done.id}/redeliver"),
            ("DELETE", f"/api/v1/webhooks/{wid}"),
        ):
            status, err, _ = await hooked.request(method, path, token=desk_b)
            assert status == 404, (method, path, err)
            status, err, _ = await hooked.request(method, path, token=tickets_only)
            assert status == 403, (method, path, err)
        _, listed, _ = await hooked.request("GET", "/api/v1/webhooks", token=desk_a)
        assert [w["id"] for w in listed["webhooks"]] == [wid]
        assert (await hooked.request("DELETE", f"/api/v1/webhooks/{wid}", token=desk_a))[0] == 200
    finally:
        await receiver.stop()
