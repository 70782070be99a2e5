"""The browser's side of staff single sign-on (issue 18; the provider side:
broker/auth/oidc.py).

- ``GET /api/v1/auth/methods``: how staff may sign in (the login page asks first).
- ``GET /api/v1/auth/oidc/login?next=#/…``: remember a fresh ``state``, ``nonce`` and
  PKCE verifier in the store (any node may take the callback), bind them to this
  browser with a short-lived cookie, and send the browser to the provider.
- ``GET /api/v1/auth/oidc/callback?code&state``: the state must be one we issued, unused,
  recent, and started by this very browser (the cookie: a forged or replayed callback —
  login CSRF — is refused); then the code is exchanged, the ID token verified (nonce
  included), the role mapped from the claims, the local user created or updated — a
  disabled one is refused — and the usual session cookie set. The browser is sent back
  to the viewer; on failure to its login page with ``?sso_error=<reason>``, which the
  page words in the user's language.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from typing import Any

from aiohttp import web

from broker.api.auth_views import issue_access_token, set_session_cookie
from broker.api.body import Query
from broker.auth.oidc import OIDC, OidcClient, OidcError, public_origin
from broker.auth.oidc_roles import claim_values, map_role, username_from
from broker.clock import CLOCK
from broker.config import CONFIG
from broker.errors import NotFound
from broker.store import queries
from broker.store.db import DB

__all__ = ["CALLBACK_PATH", "auth_methods", "oidc_callback", "oidc_login"]

log = logging.getLogger(__name__)

CALLBACK_PATH = "/api/v1/auth/oidc/callback"
BINDING_COOKIE = "clearpane_oidc"
#: A login must come back from the provider within this time.
LOGIN_TTL_MS = 10 * 60 * 1000
#: Never a password: argon2 refuses it as a hash, so an SSO-created user has none.
NO_PASSWORD = "!sso"
_NEXT = re.compile(r"^#/[A-Za-z0-9/_.:?=&%-]{0,200}$")


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _client(request: web.Request) -> OidcClient:
    client = request.app.get(OIDC)
    if client is None:
        raise NotFound("single sign-on is not configured")
    return client


async def auth_methods(request: web.Request) -> web.Response:
    """``GET /api/v1/auth/methods``: ``{password, sso}``; ``sso`` is ``{name,
    login_url}`` or null. ``password`` false: only break-glass admins use one."""
    config = request.app[CONFIG]
    sso = None
    if OIDC in request.app:
        sso = {"name": config.oidc_display_name, "login_url": "/api/v1/auth/oidc/login"}
    return web.json_response({"password": not config.oidc_only, "sso": sso})


async def oidc_login(request: web.Request) -> web.StreamResponse:
    """``GET /api/v1/auth/oidc/login?next=``: off to the provider (302)."""
    client = _client(request)
    query = Query(request, {"next"})
    next_hash = query.opt_text("next", max_len=202) or "#/"
    if not _NEXT.match(next_hash):
        next_hash = "#/"
    state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    verifier, binding = secrets.token_urlsafe(48), secrets.token_urlsafe(32)
    try:
        url = await client.authorization_url(
            redirect_uri=public_origin(request) + CALLBACK_PATH,
            state=state,
            nonce=nonce,
            code_verifier=verifier,
        )
    except OidcError as exc:
        log.warning("single sign-on unavailable: %s", exc.message)
        return _back_to_login(exc.reason)
    await queries.start_oidc_login(
        request.app[DB],
        state_hash=_digest(state),
        browser_hash=_digest(binding),
        nonce=nonce,
        code_verifier=verifier,
        return_to=next_hash,
        at=request.app[CLOCK].now_ms(),
        keep_ms=LOGIN_TTL_MS,
    )
    response = _redirect(url, 302)
    # Lax, not Strict: the provider's redirect back is a cross-site navigation, and
    # this cookie must come with it. Scoped to the callback's path, ten minutes.
    response.set_cookie(
        BINDING_COOKIE,
        binding,
        max_age=LOGIN_TTL_MS // 1000,
        path=CALLBACK_PATH,
        secure=True,
        httponly=True,
        samesite="Lax",
    )
    return response


def _redirect(location: str, status: int = 303) -> web.Response:
    return web.Response(status=status, headers={"Location": location})


def _back_to_login(reason: str) -> web.StreamResponse:
    response = _redirect(f"/#/login?sso_error={reason}")
    response.del_cookie(BINDING_COOKIE, path=CALLBACK_PATH)
    return response


async def oidc_callback(request: web.Request) -> web.StreamResponse:
    """``GET /api/v1/auth/oidc/callback``: signed in (303 to the viewer) or refused (303
    to the login page with the reason)."""
    client = _client(request)
    try:
        user, return_to = await _finish(request, client)
    except OidcError as exc:
        log.info("single sign-on refused (%s): %s", exc.reason, exc.message)
        return _back_to_login(exc.reason)
    log.info("single sign-on: %s signed in as %s", user.username, user.role)
    response = _redirect("/" + return_to)
    set_session_cookie(request.app, response, issue_access_token(request.app, user, sso=True))
    response.del_cookie(BINDING_COOKIE, path=CALLBACK_PATH)
    return response


async def _finish(request: web.Request, client: OidcClient) -> tuple[queries.User, str]:
    """Check the callback, exchange the code, map the claims to a local user."""
    app = request.app
    params = request.query
    state = params.get("state", "")
    now = app[CLOCK].now_ms()
    login = None
    if state and len(state) <= 200:
        login = await queries.take_oidc_login(app[DB], _digest(state), at=now, keep_ms=LOGIN_TTL_MS)
    binding = request.cookies.get(BINDING_COOKIE, "")
    if login is None or not secrets.compare_digest(_digest(binding), login.browser_hash):
        raise OidcError("sso_state", "unknown, used, expired or another browser's state")
    if "error" in params:
        reason = "sso_denied" if params["error"] == "access_denied" else "sso_provider"
        raise OidcError(reason, f"the provider answered {params['error'][:100]!r}")
    code = params.get("code", "")
    if not code or len(code) > 2000:
        raise OidcError("sso_token", "the provider sent no code")
    redirect_uri = public_origin(request) + CALLBACK_PATH
    tokens = await client.exchange(
        code=code, redirect_uri=redirect_uri, code_verifier=login.code_verifier, nonce=login.nonce
    )
    claims: dict[str, Any] = dict(tokens.claims)
    wanted = (client.role_claim, client.username_claim, "name")
    if tokens.access_token and any(c not in claims for c in wanted):
        info = await client.userinfo(tokens.access_token)
        if info.get("sub") == claims["sub"]:  # OpenID Connect Core §5.3.2
            claims = {**info, **claims}
    user = await _local_user(request, client, claims)
    await queries.link_oidc_user(
        app[DB],
        issuer=client.issuer,
        subject=str(claims["sub"]),
        user_id=user.id,
        id_token=tokens.id_token,
        at=now,
    )
    return user, login.return_to


async def _local_user(
    request: web.Request, client: OidcClient, claims: dict[str, Any]
) -> queries.User:
    """The linked local user brought up to date (role, name), or a new one."""
    app = request.app
    db = app[DB]
    subject = str(claims["sub"])
    role = map_role(claims, client.role_claim, client.role_map)
    user = await queries.find_oidc_user(db, client.issuer, subject)
    if user is not None and user.disabled:
        raise OidcError("sso_disabled", f"the local account {user.username!r} is disabled")
    if role is None:
        values = sorted(claim_values(claims, client.role_claim))
        raise OidcError("sso_no_role", f"no role maps from {client.role_claim}={values}")
    name = claims.get("name")
    name = name.strip()[:200] if isinstance(name, str) and name.strip() else None
    if user is not None:
        if role != user.role or (name and name != user.name):
            user = await queries.update_user(db, user.id, role=role, name=name)
        return user
    username = username_from(claims, client.username_claim)
    if username is None:
        raise OidcError("sso_username", f"the claim {client.username_claim!r} is no username")
    if await queries.get_user_by_username(db, username) is not None:
        # Never take over a local account (the break-glass admin!) by its name.
        raise OidcError("sso_username", f"the username {username!r} belongs to a local account")
    return await queries.create_user(
        db,
        username=username,
        name=name or username,
        role=role,
        skills=(),
        password_hash=NO_PASSWORD,
        at=app[CLOCK].now_ms(),
    )
