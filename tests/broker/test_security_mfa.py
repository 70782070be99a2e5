"""Issue 14, item 9: staff MFA — TOTP enrolment, login with a code or a single-use
recovery code, and per-role enforcement (CLEARPANE_MFA_REQUIRED_ROLES)."""

from __future__ import annotations

from pathlib import Path

import pyotp

from broker.testing import FakeClock, RunningBroker, running_broker
from tests.broker.conftest import staff

LOGIN = "/api/v1/auth/login"


def _code(secret: str, clock: FakeClock) -> str:
    return pyotp.TOTP(secret).at(clock.now_ms() // 1000)


async def _enrol(b: RunningBroker, token: str, clock: FakeClock) -> tuple[str, list[str]]:
    status, setup, _ = await b.request("POST", "/api/v1/auth/mfa/setup", token=token)
    assert status == 200 and setup["otpauth_uri"].startswith("otpauth://totp/")
    secret = setup["secret"]
    status, body, _ = await b.request(
        "POST", "/api/v1/auth/mfa/enable", token=token, json={"secret": secret, "code": "000000"}
    )
    assert status == 400  # a wrong code stores nothing
    status, body, _ = await b.request(
        "POST",
        "/api/v1/auth/mfa/enable",
        token=token,
        json={"secret": secret, "code": _code(secret, clock)},
    )
    assert status == 200 and body["user"]["mfa_enabled"] is True, body
    assert len(body["recovery_codes"]) == 10
    return secret, body["recovery_codes"]


async def _login(b: RunningBroker, password: str, otp: str | None = None) -> tuple[int, dict]:  # type: ignore[type-arg]
    body = {"username": "erin", "password": password}
    if otp is not None:
        body["otp"] = otp
    status, answer, _ = await b.request("POST", LOGIN, json=body)
    return status, answer


async def test_totp_and_recovery_code_login(broker: RunningBroker, clock: FakeClock) -> None:
    name, password = await broker.create_user("erin", "engineer")
    token = await broker.login(name, password)
    secret, recovery = await _enrol(broker, token, clock)
    status, answer = await _login(broker, password)
    assert status == 401 and answer["error"]["code"] == "mfa_required"
    assert (await _login(broker, password, "123456"))[0] == 401
    assert (await _login(broker, "wrong password!", _code(secret, clock)))[0] == 401
    clock.advance(31)
    status, answer = await _login(broker, password, _code(secret, clock))
    assert status == 200 and answer["user"]["mfa_enabled"] is True
    assert (await _login(broker, password, _code(secret, clock)))[0] == 401  # used once
    # A recovery code works once.
    assert (await _login(broker, password, recovery[0].upper()))[0] == 200
    assert (await _login(broker, password, recovery[0]))[0] == 401
    # The stored secret is not echoed anywhere in the user.
    me = (await broker.request("GET", "/api/v1/me", token=answer["token"]))[1]
    assert secret not in str(me)


async def test_mfa_is_enforced_per_role(tmp_path: Path) -> None:
    clock = FakeClock(1_800_000_000_000)
    async with running_broker(tmp_path, clock=clock, mfa_required_roles=("admin",)) as b:
        admin = await b.login(b.admin_username, b.admin_password)
        status, body, _ = await b.request("GET", "/api/v1/users", token=admin)
        assert status == 403 and "MFA" in body["error"]["message"]
        assert (await b.request("GET", "/api/v1/me", token=admin))[0] == 200
        await _enrol(b, admin, clock)
        assert (await b.request("GET", "/api/v1/users", token=admin))[0] == 200
        # An engineer is not in a required role: no MFA needed.
        eng = await staff(b, "erin", "engineer")
        assert (await b.request("GET", "/api/v1/tickets", token=eng))[0] == 200
        # The admin may not turn MFA off while the role requires it.
        status, _, _ = await b.request(
            "POST", "/api/v1/auth/mfa/disable", token=admin, json={"code": "000000"}
        )
        assert status == 409


async def test_admin_resets_a_lost_device(broker: RunningBroker, clock: FakeClock) -> None:
    admin = await staff(broker, "root", "admin")
    name, password = await broker.create_user("erin", "engineer")
    token = await broker.login(name, password)
    await _enrol(broker, token, clock)
    users = (await broker.request("GET", "/api/v1/users", token=admin))[1]["users"]
    uid = next(u["id"] for u in users if u["username"] == "erin")
    status, body, _ = await broker.request(
        "PATCH", f"/api/v1/users/{uid}", token=admin, json={"mfa_reset": True}
    )
    assert status == 200 and body["mfa_enabled"] is False
    assert (await broker.request("GET", "/api/v1/me", token=token))[0] == 401  # revoked
    assert (await _login(broker, password))[0] == 200  # password alone again, to re-enrol
