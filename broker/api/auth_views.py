"""Log in, log out, who am I."""

from __future__ import annotations

from aiohttp import web

from broker.api.body import read_body
from broker.api.serialize import user_json
from broker.api.users import check_password
from broker.auth import mfa, oidc, revocation
from broker.auth.passwords import PASSWORDS, PasswordService
from broker.auth.policy import CLAIMS, COOKIE_NAME, USER, authenticate, client_address
from broker.auth.setup import LOGIN_THROTTLE, TOKENS
from broker.clock import CLOCK, iso_ms
from broker.config import CONFIG
from broker.errors import Forbidden, InvalidField, Unauthorized
from broker.presence import AWAY
from broker.store import queries
from broker.store.db import DB
from broker.store.queries import routing

__all__ = [
    "SSO_CLAIM",
    "change_password",
    "issue_access_token",
    "login",
    "logout",
    "me",
    "set_session_cookie",
]

#: Claim of access tokens issued by single sign-on (broker/api/oidc_views.py).
SSO_CLAIM = "sso"


async def login(request: web.Request) -> web.Response:
    """``POST /api/v1/auth/login``: check the password (throttled), issue an access
    token, set the session cookie."""
    body = await read_body(
        request, allowed={"username", "password", "otp"}, required={"username", "password"}
    )
    username = body.text("username", max_len=64).lower()
    password = body.text("password", max_len=1024)
    otp = body.opt_text("otp", max_len=20)
    app = request.app
    config = app[CONFIG]
    if config.oidc_only and username not in config.oidc_break_glass_users:
        # Single sign-on only: a local password is the break-glass admins' way in.
        raise Forbidden("sign in with single sign-on; passwords are for break-glass admins only")
    address = client_address(request)
    throttle = app[LOGIN_THROTTLE]
    await throttle.check(username, address)
    found = await queries.get_credentials(app[DB], username)
    passwords: PasswordService = app[PASSWORDS]
    ok = await passwords.verify_async(found[1] if found else None, password)
    if not found or not ok or found[0].disabled or found[0].role == "integration":
        await throttle.failure(username, address)
        raise Unauthorized("wrong username or password")
    user = found[0]
    if app[CONFIG].oidc_only and user.role != "admin":  # break glass is for admins only
        await throttle.failure(username, address)
        raise Unauthorized("wrong username or password")
    if user.mfa_enabled:
        if otp is None:  # the password was right: ask for the second factor
            raise MfaRequired("enter the 6-digit code from your authenticator app")
        if not await mfa.verify_login_code(app[DB], user.id, otp, app[CLOCK].now_ms()):
            await throttle.failure(username, address)
            raise Unauthorized("wrong username, password or code")
        user = await queries.get_user(app[DB], user.id) or user
    await throttle.success(username, address)
    return _signed_in(app, user)


def issue_access_token(app: web.Application, user: queries.User, *, sso: bool = False) -> str:
    """An access token for ``user`` of their current token generation; ``sso`` marks
    one from single sign-on (logout then also ends the provider's session)."""
    extra: dict[str, int] = dict(revocation.generation(user))
    if sso:
        extra[SSO_CLAIM] = 1
    return app[TOKENS].issue(
        user.id, user.role, "access", extra=extra, ttl_s=app[CONFIG].access_token_ttl_s
    )


def set_session_cookie(app: web.Application, response: web.StreamResponse, token: str) -> None:
    """The browser's session cookie: HttpOnly, Secure, SameSite=Strict."""
    response.set_cookie(
        COOKIE_NAME,
        token,
        max_age=app[CONFIG].access_token_ttl_s,
        path="/",
        secure=True,
        httponly=True,
        samesite="Strict",
    )


def _signed_in(app: web.Application, user: queries.User) -> web.Response:
    """An access token for ``user`` (of their current token generation), in the body
    and the session cookie."""
    token = issue_access_token(app, user)
    expires_ms = app[TOKENS].expires_at_ms(token)
    response = web.json_response(
        {"token": token, "expires_at": iso_ms(expires_ms), "user": user_json(user)}
    )
    set_session_cookie(app, response, token)
    return response


class MfaRequired(Unauthorized):
    """Password right, MFA code missing: the client asks for ``otp`` and logs in again."""

    code = "mfa_required"


async def logout(request: web.Request) -> web.Response:
    """``POST /api/v1/auth/logout``: revoke the caller's token on the server (every
    node refuses it from now on) and clear the session cookie. Without a valid token
    it only clears the cookie. A single sign-on user also gets ``end_session_url``, the
    provider's logout (RP-initiated logout), when the provider has one."""
    answer: dict[str, str] = {"status": "logged_out"}
    try:
        user = await authenticate(request)
    except (Unauthorized, Forbidden):
        pass
    else:
        claims = request[CLAIMS]
        await revocation.revoke(request.app[DB], claims, now_ms=request.app[CLOCK].now_ms())
        if user.role == "engineer":  # routing (issue 19): no work pushed to who left
            await routing.set_presence(
                request.app[DB], user.id, AWAY, at=request.app[CLOCK].now_ms()
            )
        if claims.extra.get(SSO_CLAIM):
            url = await oidc.end_session_url(request, user)
            if url:  # RP-initiated logout: the viewer sends the browser there
                answer["end_session_url"] = url
    response = web.json_response(answer)
    response.set_cookie(
        COOKIE_NAME, "", max_age=0, path="/", secure=True, httponly=True, samesite="Strict"
    )
    return response


async def me(request: web.Request) -> web.Response:
    """``GET /api/v1/me``: the current user."""
    return web.json_response(user_json(request[USER]))


async def change_password(request: web.Request) -> web.Response:
    """``POST /api/v1/auth/password`` ``{current_password, new_password}``: the user
    replaces their own password (and with it a one-time one); the new one must differ.
    Answers like login: a fresh token (older ones are revoked) and the cookie."""
    body = await read_body(
        request,
        allowed={"current_password", "new_password"},
        required={"current_password", "new_password"},
    )
    current = body.text("current_password", max_len=1024)
    new = check_password(body.text("new_password", max_len=1024))
    if new == current:
        raise InvalidField("new_password", "choose a password different from the current one")
    app = request.app
    user = request[USER]
    found = await queries.get_credentials(app[DB], user.username)
    passwords: PasswordService = app[PASSWORDS]
    if found is None or not await passwords.verify_async(found[1], current):
        raise InvalidField("current_password", "the current password is wrong")
    updated = await queries.update_user(
        app[DB],
        user.id,
        password_hash=await passwords.hash_async(new),
        must_change_password=False,
    )
    # A new password revokes older tokens (token generation): sign this browser in again.
    return _signed_in(app, updated)
