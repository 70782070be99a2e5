"""Enrolling in staff MFA (broker/auth/mfa.py): setup, enable, disable."""

from __future__ import annotations

from aiohttp import web

from broker.api.body import read_body
from broker.api.serialize import user_json
from broker.auth import mfa
from broker.auth.policy import USER
from broker.clock import CLOCK
from broker.config import CONFIG
from broker.errors import Conflict, InvalidField, Unauthorized
from broker.store import queries
from broker.store.db import DB

__all__ = ["mfa_disable", "mfa_enable", "mfa_setup"]


async def mfa_setup(request: web.Request) -> web.Response:
    """``POST /api/v1/auth/mfa/setup`` → ``{secret, otpauth_uri}``: a secret to put into
    an authenticator app; nothing is stored until ``/auth/mfa/enable`` confirms it."""
    user = request[USER]
    if user.mfa_enabled:
        raise Conflict("MFA is already enabled; disable it first to enrol a new device")
    secret = mfa.new_secret()
    return web.json_response(
        {"secret": secret, "otpauth_uri": mfa.provisioning_uri(secret, user.username)}
    )


async def mfa_enable(request: web.Request) -> web.Response:
    """``POST /api/v1/auth/mfa/enable`` ``{secret, code}`` → ``{user, recovery_codes}``:
    store the secret once a current code proves the app has it; the recovery codes are
    shown this once."""
    body = await read_body(request, allowed={"secret", "code"}, required={"secret", "code"})
    secret = body.text("secret", max_len=64).upper()
    code = body.text("code", max_len=12)
    user = request[USER]
    if user.mfa_enabled:
        raise Conflict("MFA is already enabled")
    if len(secret) < 16 or not set(secret) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"):
        raise InvalidField("secret", "use the secret from /auth/mfa/setup")
    if not mfa.check_code(secret, code, request.app[CLOCK].now_ms()):
        raise InvalidField("code", "the code does not match; check the device's clock")
    codes = mfa.new_recovery_codes()
    db = request.app[DB]
    await queries.set_mfa(
        db, user.id, secret=secret, recovery=[mfa.hash_recovery(c) for c in codes]
    )
    fresh = await queries.get_user(db, user.id)
    assert fresh is not None
    return web.json_response({"user": user_json(fresh), "recovery_codes": codes})


async def mfa_disable(request: web.Request) -> web.Response:
    """``POST /api/v1/auth/mfa/disable`` ``{code}``: turn MFA off with a current code or
    a recovery code (refused while the user's role requires MFA)."""
    body = await read_body(request, allowed={"code"}, required={"code"})
    code = body.text("code", max_len=20)
    user = request[USER]
    app = request.app
    if not user.mfa_enabled:
        raise Conflict("MFA is not enabled")
    if user.role in app[CONFIG].mfa_required_roles:
        raise Conflict(f"MFA is required for the role {user.role!r}")
    if not await mfa.verify_login_code(app[DB], user.id, code, app[CLOCK].now_ms()):
        raise Unauthorized("wrong code")
    await queries.set_mfa(app[DB], user.id, secret=None, recovery=[])
    fresh = await queries.get_user(app[DB], user.id)
    assert fresh is not None
    return web.json_response(user_json(fresh))
