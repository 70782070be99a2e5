"""The one place where callers are authenticated and roles are checked.

Every route in broker/api/routes.py declares the roles allowed to call it (or
``PUBLIC``); :func:`guard` wraps the handler accordingly. Staff authenticate with an
``access`` token sent as ``Authorization: Bearer …`` (API clients) or in the
``clearpane_session`` cookie (browsers). Cookie-authenticated requests that change
state must carry ``X-Clearpane-CSRF: 1``: a cross-site page cannot set that header
without a CORS preflight, which the broker never grants.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import wraps

from aiohttp import web

from broker.auth import api_keys, mfa, revocation
from broker.auth.setup import TOKENS
from broker.auth.tokens import AuthError, Claims
from broker.clock import CLOCK
from broker.config import CONFIG
from broker.errors import Forbidden, PasswordChangeRequired, Unauthorized
from broker.store import queries
from broker.store.db import DB
from broker.store.queries import User

__all__ = [
    "ADMIN",
    "API_KEY",
    "CLAIMS",
    "COOKIE_NAME",
    "CSRF_HEADER",
    "ENGINEERS",
    "ESCALATION_READERS",
    "INTEGRATION",
    "PASSWORD_CHANGE_PATHS",
    "PUBLIC",
    "QUEUE_READERS",
    "ROLES_ATTRIBUTE",
    "STAFF",
    "TICKET_SCOPE",
    "USER",
    "Handler",
    "authenticate",
    "client_address",
    "guard",
    "in_organisation_scope",
    "may_read_session",
    "ticket_scope",
]

# Request key: the authenticated staff user of a request (set by the route guard below).
USER = web.RequestKey[User]("user")
# Request key: the verified claims of the request's token (set by authenticate).
CLAIMS = web.RequestKey[Claims]("claims")
# Request key: the API key a request was authenticated with (integration accounts).
API_KEY = web.RequestKey[queries.ApiKey]("api_key")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

COOKIE_NAME = "clearpane_session"
CSRF_HEADER = "X-Clearpane-CSRF"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: What a user with a one-time password may still call: replace it, read who they are,
#: enrol MFA (a role that requires MFA enrols first: both must be reachable) and log out.
PASSWORD_CHANGE_PATHS = mfa.ENROL_PATHS | {"/api/v1/auth/password"}

# Set on every guarded handler: the roles it allows (None: public). Lets tests and docs
# read the roles of the running app's routes.
ROLES_ATTRIBUTE = "clearpane_roles"

PUBLIC: frozenset[str] | None = None
STAFF = frozenset({"engineer", "supervisor", "reviewer", "admin"})
ENGINEERS = frozenset({"engineer", "supervisor", "admin"})  # may create/change tickets
QUEUE_READERS = frozenset({"engineer", "supervisor"})
JOINERS = frozenset({"engineer", "supervisor"})
ESCALATION_READERS = frozenset({"supervisor", "admin"})
ADMIN = frozenset({"admin"})
# A help desk's account (issue 18): tickets, invitations, reading sessions and webhooks,
# through API keys only; never the queue, joining a session, users or the CA.
INTEGRATION = frozenset({"integration"})

#: Which tickets each role sees and edits: "all", or "scoped" to the user's
#: organisations, tickets without one, tickets they created and tickets with a session
#: assigned to or answered by them (``CLEARPANE_ENGINEERS_SEE_ALL_TICKETS`` widens
#: "scoped" to "all"). Routes still decide who may edit at all (ENGINEERS).
TICKET_SCOPE: dict[str, str] = {
    "engineer": "scoped",
    "supervisor": "all",
    "reviewer": "all",
    "admin": "all",
    "integration": "all",
}


def ticket_scope(request: web.Request) -> queries.TicketScope | None:
    """The tickets the request's user may see and edit (None: all of them)."""
    user = request[USER]
    if TICKET_SCOPE.get(user.role, "scoped") == "all":
        return None
    if request.app[CONFIG].engineers_see_all_tickets:
        return None
    return queries.TicketScope(user.id, user.organisations)


def in_organisation_scope(scope: queries.TicketScope | None, organisation: str) -> bool:
    """Whether a ticket of ``organisation`` is in ``scope`` by its organisation alone
    (the queue's test; sessions of the user are checked by their assignment)."""
    return scope is None or not organisation or organisation in scope.organisations


async def may_read_session(request: web.Request, session: queries.SessionInfo) -> bool:
    """Whether the request's user may open this session: engineers their own sessions
    and those in their queue (skills, organisation); an API key with ``sessions:read``;
    other staff roles all."""
    user = request[USER]
    key = request.get(API_KEY)
    if key is not None:  # review of 2026-12-04: the ticket view listed them to any key
        return "sessions:read" in key.scopes
    if user.role != "engineer":
        return True
    if user.id in (session.engineer_id, session.assigned_engineer_id):
        return True
    if session.state in queries.WAITING_STATES and session.assigned_engineer_id is None:
        ticket = await queries.get_ticket(request.app[DB], session.ticket_id)
        return (
            ticket is not None
            and set(ticket.skills) <= set(user.skills)
            and in_organisation_scope(ticket_scope(request), ticket.organisation)
        )
    return False


def client_address(request: web.Request) -> str:
    """The caller's IP address (the first ``X-Forwarded-For`` hop only when the
    broker is configured to trust its proxy and the connection comes from it)."""
    config = request.app[CONFIG]
    if config.trust_forwarded_for and request.remote in config.trusted_proxies:
        forwarded = request.headers.get("X-Forwarded-For", "")
        first = forwarded.split(",")[0].strip()
        if first:
            return first
    return request.remote or "unknown"


async def authenticate(request: web.Request) -> queries.User:
    """The staff user making ``request``; :class:`Unauthorized` if none."""
    header = request.headers.get("Authorization", "")
    token: str | None
    via_cookie = False
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("use 'Authorization: Bearer <token>'")
        token = token.strip()
    else:
        token = request.cookies.get(COOKIE_NAME)
        via_cookie = True
    if not token:
        raise Unauthorized("log in first")
    if token.startswith(api_keys.KEY_PREFIX) and not via_cookie:
        return await _authenticate_key(request, token)
    try:
        claims = request.app[TOKENS].verify(token, "access")
    except AuthError as exc:
        raise Unauthorized(f"{exc.message}; log in again") from None
    if (
        via_cookie
        and request.method not in _SAFE_METHODS
        and request.headers.get(CSRF_HEADER) != "1"
    ):
        raise Forbidden(f"cookie-authenticated requests that change state need '{CSRF_HEADER}: 1'")
    db = request.app[DB]
    user = await queries.get_user(db, claims.sub)
    if user is None or user.disabled:
        raise Unauthorized("this account is disabled or gone")
    if user.role == "integration":  # a password must never stand in for its API keys
        raise Unauthorized("integration accounts authenticate with API keys")
    if not await revocation.is_current(db, user, claims):
        raise Unauthorized("this token was revoked (logout, password or role change); log in again")
    request[CLAIMS] = claims
    if user.must_change_password and request.path not in PASSWORD_CHANGE_PATHS:
        raise PasswordChangeRequired(
            "this password is one-time: replace it with POST /api/v1/auth/password first"
        )
    if (
        user.role in request.app[CONFIG].mfa_required_roles
        and not user.mfa_enabled
        and request.path not in mfa.ENROL_PATHS
    ):
        raise Forbidden("your role requires MFA: enrol with POST /api/v1/auth/mfa/setup first")
    return user


async def _authenticate_key(request: web.Request, token: str) -> queries.User:
    """The integration account of API key ``token``, checked on every request: known,
    not revoked, not expired, its account enabled, the route within its scopes."""
    db = request.app[DB]
    key = await queries.find_api_key(db, api_keys.hash_key(token))
    now = request.app[CLOCK].now_ms()
    if key is None:
        raise Unauthorized("unknown API key")
    if key.revoked_at_ms is not None:
        raise Unauthorized("this API key was revoked")
    if key.expires_at_ms <= now:
        raise Unauthorized("this API key has expired")
    user = await queries.get_user(db, key.user_id)
    if user is None or user.disabled or user.role != "integration":
        raise Unauthorized("this API key's account is disabled or gone")
    resource = request.match_info.route.resource
    needed = api_keys.scope_of(request.method, resource.canonical if resource else "")
    if needed is None or needed not in key.scopes:
        raise Forbidden(f"this API key lacks the scope {needed or 'for this route'!r}")
    if key.last_used_at_ms is None or now - key.last_used_at_ms >= api_keys.TOUCH_EVERY_MS:
        await queries.touch_api_key(db, key.id, now)
    request[API_KEY] = key
    return user


def guard(handler: Handler, roles: frozenset[str] | None) -> Handler:
    """Wrap ``handler`` so that only callers with one of ``roles`` reach it (``None``:
    anyone). The user is stored in ``request[USER]``."""
    if roles is None:
        setattr(handler, ROLES_ATTRIBUTE, None)
        return handler

    @wraps(handler)
    async def guarded(request: web.Request) -> web.StreamResponse:
        user = await authenticate(request)
        if user.role not in roles:
            raise Forbidden(f"role {user.role!r} may not do this")
        request[USER] = user
        return await handler(request)

    setattr(guarded, ROLES_ATTRIBUTE, roles)
    return guarded
