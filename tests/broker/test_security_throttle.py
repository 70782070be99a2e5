"""Issue 14, item 7 against the real broker: logins are throttled per account (from
any address) and per address (over any username) as well as per pair; wrong invitation
codes from all addresses together are limited, with an alert (warning log and a
``security.alert`` webhook event) once per window."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from sqlalchemy import select

from broker.auth.throttle import RedeemGuard
from broker.errors import RateLimited
from broker.store.db import DB
from broker.store.webhook_models import WebhookOutboxModel
from broker.testing import FakeClock, RunningBroker, running_broker

LOGIN = "/api/v1/auth/login"


async def _login(b: RunningBroker, username: str, password: str, address: str) -> int:
    status, _, _ = await b.request(
        "POST",
        LOGIN,
        json={"username": username, "password": password},
        headers={"X-Forwarded-For": address},
    )
    return status


async def test_spraying_usernames_from_one_address_is_throttled(tmp_path: Path) -> None:
    async with running_broker(
        tmp_path,
        clock=FakeClock(1_800_000_000_000),
        trust_forwarded_for=True,
        login_address_free_failures=5,
    ) as b:
        name, password = await b.create_user("erin", "engineer")
        # One wrong password for each of six usernames: no pair reaches its limit (3)...
        for i in range(6):
            assert await _login(b, f"user{i}", "wrong password!", "203.0.113.7") == 401
        # ...but the address did: even the right password for a new username waits.
        assert await _login(b, name, password, "203.0.113.7") == 429
        assert await _login(b, name, password, "198.51.100.1") == 200


async def test_guessing_one_account_from_many_addresses_is_throttled(tmp_path: Path) -> None:
    clock = FakeClock(1_800_000_000_000)
    async with running_broker(
        tmp_path, clock=clock, trust_forwarded_for=True, login_account_free_failures=4
    ) as b:
        name, password = await b.create_user("erin", "engineer")
        for i in range(5):
            assert await _login(b, name, "wrong password!", f"203.0.113.{i}") == 401
        assert await _login(b, name, password, "198.51.100.1") == 429
        clock.advance(1.5)  # the first back-off step is 1 s
        assert await _login(b, name, password, "198.51.100.1") == 200


async def test_wrong_invitation_codes_are_limited_globally_with_an_alert(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock(1_800_000_000_000)
    async with running_broker(
        tmp_path,
        clock=clock,
        trust_forwarded_for=True,
        invitation_failures_per_window=3,
        invitation_failure_window_s=600.0,
    ) as b:
        admin = await b.login(b.admin_username, b.admin_password)
        status, _, _ = await b.request(
            "POST",
            "/api/v1/webhooks",
            token=admin,
            json={"url": "https://helpdesk.example.com/hook", "events": ["security.alert"]},
        )
        assert status == 201
        _, ticket, _ = await b.request("POST", "/api/v1/tickets", token=admin, json={"title": "T"})
        _, inv, _ = await b.request(
            "POST", f"/api/v1/tickets/{ticket['id']}/invitations", token=admin, json={}
        )
        caplog.set_level(logging.WARNING, logger="broker.auth.alerts")

        async def redeem(code: str, address: str) -> int:
            status, _, _ = await b.request(
                "POST",
                "/api/v1/agent/redeem",
                json={"code": code, "client_name": "Ann"},
                headers={"X-Forwarded-For": address},
            )
            return status

        for i in range(3):  # each from its own address: the per-address limit never trips
            assert await redeem(f"0000-000{i}", f"203.0.113.{i}") == 404
        assert await redeem(inv["code"], "198.51.100.1") == 429  # everyone waits now
        alerts = [r for r in caplog.records if "invitation_guessing" in r.getMessage()]
        assert len(alerts) == 1
        async with b.app[DB].sessions() as s:
            rows = (
                await s.execute(
                    select(WebhookOutboxModel).where(
                        WebhookOutboxModel.event_type == "security.alert"
                    )
                )
            ).scalars()
            bodies = [json.loads(r.body) for r in rows]
        assert [body["data"]["kind"] for body in bodies] == ["invitation_guessing"]
        assert bodies[0]["data"]["failures"] == 3
        clock.advance(600)  # the next window: the right code works again
        assert await redeem(inv["code"], "198.51.100.1") == 201


async def test_the_redeem_guard_is_one_token_bucket_in_the_store(tmp_path: Path) -> None:
    """The invitation limiter is the shared TokenBucket, kept in the database: a
    wrong code comes back every window/limit (no fixed-window edge where twice the
    limit gets through), a second guard on the same database (another node) sees the
    same bucket, and an attack that goes on raises the alert again only a window later."""
    clock = FakeClock(1_800_000_000_000)
    async with running_broker(tmp_path, clock=clock) as b:
        guard = RedeemGuard(b.app[DB], clock, limit=3, window_s=600.0)
        other_node = RedeemGuard(b.app[DB], clock, limit=3, window_s=600.0)
        alerts = []
        for _ in range(3):
            await guard.check()
            alerts.append(await guard.failure())
        assert alerts[:2] == [None, None]  # the third wrong code empties the bucket:
        assert alerts[2] == pytest.approx(clock.now_ms() + 200_000, abs=1)  # back in 200 s
        with pytest.raises(RateLimited) as refused:
            await other_node.check()  # every node refuses: the bucket is in the store
        assert refused.value.retry_after_s == pytest.approx(200.0, abs=0.01)
        clock.advance(200)  # one token back (3 per 600 s)
        await other_node.check()
        assert await other_node.failure() is None  # empty again, but alerted < a window ago
        with pytest.raises(RateLimited):
            await guard.check()
        clock.advance(199)
        with pytest.raises(RateLimited):
            await guard.check()
        clock.advance(201)  # 600 s after the first alert: two tokens are back
        await guard.check()
        assert await guard.failure() is None  # one token left
        again = await guard.failure()  # empty: the attack that went on alerts again
        assert again == pytest.approx(clock.now_ms() + 200_000, abs=1)
