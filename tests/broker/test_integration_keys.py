"""Integration accounts (issue 18): API keys (hashed, shown once, scoped, expiring,
revocable, last use recorded), the role's limits, exact ``external_ref`` lookup and
``Idempotency-Key`` on ticket and invitation POSTs — all through the real broker."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from broker.auth.api_keys import hash_key
from broker.cli import users_main
from broker.store import queries
from broker.store.db import DB
from broker.store.integration_models import ApiKeyModel
from broker.testing import FakeClock, RunningBroker
from tests.broker.conftest import staff

DAY_MS = 86_400_000


async def _integration(broker: RunningBroker, admin: str, scopes: list[str], **extra: Any) -> str:
    """A new integration account with one key of ``scopes``; the key."""
    username = f"desk{len(await queries.list_users(broker.app[DB]))}"
    await broker.create_user(username, "integration")
    user = await queries.get_user_by_username(broker.app[DB], username)
    assert user is not None
    status, body, _ = await broker.request(
        "POST",
        "/api/v1/api-keys",
        token=admin,
        json={"user_id": user.id, "name": "help desk", "scopes": scopes, **extra},
    )
    assert status == 201, body
    assert body["key"].startswith("cpk_") and body["api_key"]["prefix"] == body["key"][:12]
    return str(body["key"])


async def test_key_is_hashed_shown_once_scoped_and_revocable(
    broker: RunningBroker, clock: FakeClock
) -> None:
    admin = await staff(broker, "ada", "admin")
    key = await _integration(broker, admin, ["tickets"])
    async with broker.app[DB].sessions() as s:
        stored = list(await s.scalars(select(ApiKeyModel)))
    assert [m.key_hash for m in stored] == [hash_key(key)]
    assert key not in str([vars(m) for m in stored])  # only the hash and the prefix
    status, listed, _ = await broker.request("GET", "/api/v1/api-keys", token=admin)
    assert status == 200 and key not in str(listed)
    assert listed["api_keys"][0]["last_used_at"] is None

    status, made, _ = await broker.request(
        "POST", "/api/v1/tickets", token=key, json={"title": "From the desk"}
    )
    assert status == 201, made
    listed = (await broker.request("GET", "/api/v1/api-keys", token=admin))[1]
    assert listed["api_keys"][0]["last_used_at"] is not None  # the last use is shown
    # Out of its scopes: invitations, sessions, webhooks; never users, the queue, the CA.
    tid = made["id"]
    for method, path in (
        ("POST", f"/api/v1/tickets/{tid}/invitations"),
        ("GET", "/api/v1/sessions"),
        ("GET", "/api/v1/webhooks"),
    ):
        status, body, _ = await broker.request(method, path, token=key, json={})
        assert status == 403 and "scope" in body["error"]["message"], (path, body)
    for method, path in (
        ("GET", "/api/v1/users"),
        ("GET", "/api/v1/queue"),
        ("GET", "/api/v1/admin/certs"),
        ("GET", "/api/v1/me"),
        ("POST", "/api/v1/api-keys"),
    ):
        assert (await broker.request(method, path, token=key, json={}))[0] == 403, path
    # Revocation is checked on the next request, not at the key's expiry.
    kid = listed["api_keys"][0]["id"]
    status, revoked, _ = await broker.request("DELETE", f"/api/v1/api-keys/{kid}", token=admin)
    assert status == 200 and revoked["state"] == "revoked"
    status, body, _ = await broker.request("GET", "/api/v1/tickets", token=key)
    assert status == 401 and "revoked" in body["error"]["message"]
    # An unknown key, and a key sent as a cookie, are refused alike.
    assert (await broker.request("GET", "/api/v1/tickets", token="cpk_" + "x" * 43))[0] == 401


async def test_key_expires_and_account_is_api_only(broker: RunningBroker, clock: FakeClock) -> None:
    admin = await staff(broker, "ada", "admin")
    key = await _integration(broker, admin, ["tickets", "sessions:read"], expires_in_days=1)
    assert (await broker.request("GET", "/api/v1/sessions", token=key))[0] == 200
    # An integration account cannot sign in with a password, nor join a session.
    name, password = await broker.create_user("frontdesk", "integration")
    status, _, _ = await broker.request(
        "POST", "/api/v1/auth/login", json={"username": name, "password": password}
    )
    assert status == 401
    eng = await staff(broker, "erin", "engineer")
    status, body, _ = await broker.request(
        "POST", "/api/v1/api-keys", token=admin, json={"user_id": "x", "name": "n", "scopes": []}
    )
    assert status == 400
    erin = await queries.get_user_by_username(broker.app[DB], "erin")
    assert erin is not None
    status, body, _ = await broker.request(
        "POST",
        "/api/v1/api-keys",
        token=admin,
        json={"user_id": erin.id, "name": "n", "scopes": ["tickets"]},
    )
    assert status == 400 and "integration" in body["error"]["message"]
    assert (await broker.request("GET", "/api/v1/api-keys", token=eng))[0] == 403
    # Expiry is checked on every request.
    clock.advance(DAY_MS / 1000)
    status, body, _ = await broker.request("GET", "/api/v1/tickets", token=key)
    assert status == 401 and "expired" in body["error"]["message"]


async def test_invitation_by_key_reaches_the_queue_not_the_account(broker: RunningBroker) -> None:
    admin = await staff(broker, "ada", "admin")
    key = await _integration(broker, admin, ["tickets", "invitations"])
    made = (await broker.request("POST", "/api/v1/tickets", token=key, json={"title": "T"}))[1]
    status, inv, _ = await broker.request(
        "POST", f"/api/v1/tickets/{made['id']}/invitations", token=key, json={}
    )
    assert status == 201, inv
    status, redeemed, _ = await broker.request(
        "POST", "/api/v1/agent/redeem", json={"code": inv["code"], "client_name": "Ann"}
    )
    assert status == 201, redeemed
    session = await queries.get_session(broker.app[DB], redeemed["session_id"])
    assert session is not None and session.assigned_engineer_id is None
    eng = await staff(broker, "erin", "engineer")
    queue = (await broker.request("GET", "/api/v1/queue", token=eng))[1]["queue"]
    assert redeemed["session_id"] in str(queue)


async def test_external_ref_exact_lookup(broker: RunningBroker) -> None:
    eng = await staff(broker, "erin", "engineer")
    for ref in ("HD-7", "HD-70", "XHD-7"):
        body = {"title": ref, "external_ref": ref}
        assert (await broker.request("POST", "/api/v1/tickets", token=eng, json=body))[0] == 201
    status, body, _ = await broker.request("GET", "/api/v1/tickets?external_ref=HD-7", token=eng)
    assert status == 200 and [t["external_ref"] for t in body["tickets"]] == ["HD-7"]
    assert (
        len((await broker.request("GET", "/api/v1/tickets?q=HD-7", token=eng))[1]["tickets"]) == 3
    )


async def test_idempotency_key_replays_refuses_other_bodies_and_expires(
    broker: RunningBroker, clock: FakeClock
) -> None:
    admin = await staff(broker, "ada", "admin")
    key = await _integration(broker, admin, ["tickets", "invitations"])
    body = {"title": "Printer", "external_ref": "HD-7"}
    idem = {"Idempotency-Key": "HD-7/create"}
    first = await broker.request("POST", "/api/v1/tickets", token=key, json=body, headers=idem)
    # The same body spelt differently is the same request; sent at once, or later.
    again = await asyncio.gather(
        *(
            broker.request(
                "POST",
                "/api/v1/tickets",
                token=key,
                data='{"external_ref": "HD-7",  "title": "Printer"}',
                headers={**idem, "Content-Type": "application/json"},
            )
            for _ in range(3)
        )
    )
    assert first[0] == 201
    for status, replayed, headers in again:
        assert status in (201, 409), replayed  # 409 only while the first still ran
        if status == 201:
            assert replayed == first[1] and headers["Idempotent-Replayed"] == "true"
    refs = (await broker.request("GET", "/api/v1/tickets?external_ref=HD-7", token=key))[1]
    assert len(refs["tickets"]) == 1
    status, err, _ = await broker.request(
        "POST", "/api/v1/tickets", token=key, json={"title": "Other"}, headers=idem
    )
    assert status == 422 and err["error"]["code"] == "idempotency_key_reused"
    # Another caller's same key is another key.
    eng = await staff(broker, "erin", "engineer")
    status, _, _ = await broker.request(
        "POST", "/api/v1/tickets", token=eng, json=body, headers=idem
    )
    assert status == 201
    # A failed request leaves no trace; invitations are idempotent too.
    path = f"/api/v1/tickets/{first[1]['id']}/invitations"
    inv_idem = {"Idempotency-Key": "HD-7/invite"}
    bad = await broker.request("POST", path, token=key, json={"ttl_s": 1}, headers=inv_idem)
    assert bad[0] == 400
    one = await broker.request("POST", path, token=key, json={}, headers=inv_idem)
    two = await broker.request("POST", path, token=key, json={}, headers=inv_idem)
    assert one[0] == two[0] == 201 and one[1]["code"] == two[1]["code"]
    # After 24 h the key is forgotten: the same request runs again.
    clock.advance(DAY_MS / 1000 + 1)
    three = await broker.request("POST", path, token=key, json={}, headers=inv_idem)
    assert three[0] == 201 and three[1]["code"] != one[1]["code"]
    bad_key = {"Idempotency-Key": "é"}
    assert (await broker.request("POST", path, token=key, json={}, headers=bad_key))[0] == 400


def test_cli_creates_lists_and_revokes_keys(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["--data-dir", str(tmp_path / "data")]
    assert users_main([*base, "add", "desk", "--role", "integration"]) == 0
    create = [*base, "api-key", "create", "desk", "--name", "HD", "--scope", "tickets"]
    assert users_main(create) == 0
    out = capsys.readouterr().out
    key = next(line.split(": ", 1)[1] for line in out.splitlines() if line.startswith("key: "))
    assert key.startswith("cpk_") and hashlib.sha256(key.encode()).hexdigest() not in out
    assert users_main([*base, "api-key", "list"]) == 0
    listing = capsys.readouterr().out
    assert key[:12] in listing and key not in listing and "active" in listing
    key_id = listing.splitlines()[1].split()[0]
    assert users_main([*base, "api-key", "revoke", key_id]) == 0
    assert users_main([*base, "api-key", "list"]) == 0
    assert "revoked" in capsys.readouterr().out
