"""Login, cookies, CSRF, throttling, token checks at the HTTP API (real broker, TLS)."""

from __future__ import annotations

from http.cookies import SimpleCookie

from broker.auth.setup import TOKENS
from broker.auth.tokens import TokenService
from broker.testing import FakeClock, RunningBroker
from tests.broker.conftest import staff


async def test_login_ok_sets_strict_cookie(broker: RunningBroker) -> None:
    status, body, headers = await broker.request(
        "POST",
        "/api/v1/auth/login",
        json={"username": broker.admin_username, "password": broker.admin_password},
    )
    assert status == 200
    assert body["user"]["username"] == "admin" and body["user"]["role"] == "admin"
    assert body["token"].count(".") == 2 and body["expires_at"].endswith("Z")
    raw = headers.getall("Set-Cookie")  # type: ignore[attr-defined]
    assert len(raw) == 1
    cookie = SimpleCookie(raw[0])["clearpane_session"]
    assert cookie.value == body["token"]
    assert cookie["httponly"] is True and cookie["secure"] is True
    assert cookie["samesite"] == "Strict" and cookie["path"] == "/"
    status, me, _ = await broker.request("GET", "/api/v1/me", token=body["token"])
    assert status == 200 and me["id"] == body["user"]["id"]


async def test_wrong_password_and_unknown_user_are_the_same_401(broker: RunningBroker) -> None:
    s1, b1, _ = await broker.request(
        "POST", "/api/v1/auth/login", json={"username": "admin", "password": "nope-nope-nope"}
    )
    s2, b2, _ = await broker.request(
        "POST", "/api/v1/auth/login", json={"username": "ghost", "password": "nope-nope-nope"}
    )
    assert s1 == s2 == 401
    assert b1 == b2 == {"error": {"code": "unauthorized", "message": "wrong username or password"}}


async def test_login_throttled_exponentially_then_unlocked(
    broker: RunningBroker, clock: FakeClock
) -> None:
    creds = {"username": "admin", "password": "wrong-password"}
    free = broker.config.login_free_failures
    for _ in range(free):
        status, _, _ = await broker.request("POST", "/api/v1/auth/login", json=creds)
        assert status == 401
    # The next failure locks the pair for the base delay (10 s in these tests) ...
    assert (await broker.request("POST", "/api/v1/auth/login", json=creds))[0] == 401
    good = {"username": "admin", "password": broker.admin_password}
    status, body, headers = await broker.request("POST", "/api/v1/auth/login", json=good)
    assert status == 429 and body["error"]["code"] == "rate_limited"
    assert headers["Retry-After"] == "10"
    clock.advance(10)
    # ... and the one after that for twice as long.
    assert (await broker.request("POST", "/api/v1/auth/login", json=creds))[0] == 401
    status, _, headers = await broker.request("POST", "/api/v1/auth/login", json=good)
    assert status == 429 and headers["Retry-After"] == "20"
    clock.advance(20)
    assert (await broker.request("POST", "/api/v1/auth/login", json=good))[0] == 200
    # Success cleared the count: one failure does not lock.
    assert (await broker.request("POST", "/api/v1/auth/login", json=creds))[0] == 401
    assert (await broker.request("POST", "/api/v1/auth/login", json=good))[0] == 200


async def test_throttle_is_per_username(broker: RunningBroker) -> None:
    await broker.create_user("eve", "engineer", password="eve-password-1")
    for _ in range(broker.config.login_free_failures + 1):
        await broker.request(
            "POST", "/api/v1/auth/login", json={"username": "admin", "password": "x" * 12}
        )
    status, _, _ = await broker.request(
        "POST", "/api/v1/auth/login", json={"username": "eve", "password": "eve-password-1"}
    )
    assert status == 200


async def test_expired_token_rejected(broker: RunningBroker, clock: FakeClock) -> None:
    token = await broker.login(broker.admin_username, broker.admin_password)
    clock.advance(broker.config.access_token_ttl_s + 1)
    status, body, _ = await broker.request("GET", "/api/v1/me", token=token)
    assert status == 401 and "expired" in body["error"]["message"]


async def test_forged_wrong_kid_and_wrong_type_tokens_rejected(
    broker: RunningBroker, clock: FakeClock
) -> None:
    admin = (
        await broker.request(
            "GET", "/api/v1/users", token=await broker.login("admin", broker.admin_password)
        )
    )[1]
    admin_id = admin["users"][0]["id"]
    other = TokenService.ephemeral(clock)
    foreign = other.issue(admin_id, "admin", "access", ttl_s=60)
    status, body, _ = await broker.request("GET", "/api/v1/me", token=foreign)
    assert status == 401 and "unknown key" in body["error"]["message"]
    import jwt

    real = broker.app[TOKENS]
    forged = jwt.encode(
        {
            "iss": "clearpane-broker",
            "sub": admin_id,
            "role": "admin",
            "typ": "access",
            "iat": clock.now_ms() // 1000,
            "exp": clock.now_ms() // 1000 + 60,
            "jti": "j",
        },
        other._keys[other.current_kid].private,
        algorithm="EdDSA",
        headers={"kid": real.current_kid},
    )
    assert (await broker.request("GET", "/api/v1/me", token=forged))[0] == 401
    agent_token = real.issue("agent:x", "agent", "agent", session_id="x")
    status, body, _ = await broker.request("GET", "/api/v1/me", token=agent_token)
    assert status == 401 and "access token" in body["error"]["message"]
    assert (await broker.request("GET", "/api/v1/me", headers={"Authorization": "Basic abc"}))[
        0
    ] == 401
    assert (await broker.request("GET", "/api/v1/me"))[0] == 401


async def test_cookie_auth_needs_csrf_header_for_changes(broker: RunningBroker) -> None:
    token = await broker.login("admin", broker.admin_password)
    cookie = {"Cookie": f"clearpane_session={token}"}
    assert (await broker.request("GET", "/api/v1/me", headers=cookie))[0] == 200
    status, body, _ = await broker.request(
        "POST", "/api/v1/tickets", json={"title": "t"}, headers=cookie
    )
    assert status == 403 and "X-Clearpane-CSRF" in body["error"]["message"]
    status, _, _ = await broker.request(
        "POST", "/api/v1/tickets", json={"title": "t"}, headers={**cookie, "X-Clearpane-CSRF": "1"}
    )
    assert status == 201
    # Bearer clients need no CSRF header.
    assert (await broker.request("POST", "/api/v1/tickets", json={"title": "t"}, token=token))[
        0
    ] == 201


async def test_logout_clears_cookie(broker: RunningBroker) -> None:
    status, _, headers = await broker.request("POST", "/api/v1/auth/logout")
    assert status == 200
    cookie = SimpleCookie(headers["Set-Cookie"])["clearpane_session"]
    assert cookie.value == "" and cookie["max-age"] == "0"


async def test_disabled_user_loses_access(broker: RunningBroker) -> None:
    token = await staff(broker, "bob", "engineer")
    admin = await broker.login("admin", broker.admin_password)
    me = (await broker.request("GET", "/api/v1/me", token=token))[1]
    status, _, _ = await broker.request(
        "PATCH", f"/api/v1/users/{me['id']}", token=admin, json={"disabled": True}
    )
    assert status == 200
    assert (await broker.request("GET", "/api/v1/me", token=token))[0] == 401
