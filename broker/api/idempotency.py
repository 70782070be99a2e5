"""``Idempotency-Key`` on every POST (issue 18): a help desk that retries a POST after
a timeout must not open a second ticket, invitation, webhook or session.

:func:`idempotency_middleware` (installed on the app, inside the error middleware)
handles every ``POST`` that carries the header, whoever registered the route. The
first request with a key claims it; its successful (2xx) response is stored and
replayed (with ``Idempotent-Replayed: true``) for 24 h to every later request **of
the same principal** with the same key, route and body (JSON compared by value). The
same key with another body or route is refused with 422 ``idempotency_key_reused``; a
request arriving while the first still runs gets 409 ``conflict``. A request that fails
(4xx, 5xx, an exception) leaves no trace: it may be retried with the same key.

The principal is the authenticated staff or integration account; for the public
routes (the agent's), a hash of the caller's bearer token or, without one, of its
address — so nobody replays another caller's response. Routes whose answer is a
credential shown once (log in, MFA setup, a new API key, a password change, a new
webhook's secret, an issued certificate's key, an agent's or a viewer's token) refuse
the header with 400 ``idempotency_unsupported``: that answer must never be stored.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Coroutine
from typing import Any

from aiohttp import web

from broker.api.body import MAX_BODY_BYTES, PRELOADED_BODY
from broker.auth.policy import ROLES_ATTRIBUTE, Handler, authenticate, client_address
from broker.clock import CLOCK
from broker.errors import BadRequest, BrokerError, Conflict
from broker.store import queries
from broker.store.db import DB

__all__ = [
    "HEADER",
    "KEEP_MS",
    "UNSUPPORTED",
    "IdempotencyUnsupported",
    "KeyReused",
    "idempotency_middleware",
    "idempotent",
]

HEADER = "Idempotency-Key"
KEEP_MS = 24 * 3600 * 1000
#: POST routes (templates) whose answers are credentials, never stored: a stored answer
#: sits in plain text in ``idempotency_keys`` for 24 h, and the public (agent) routes'
#: principal is only the caller's address. Review of 2026-12-04: a new webhook's signing
#: secret, a certificate's private key and passphrase, an agent's session token (request,
#: redeem) and a viewer's join token were all stored and replayed.
UNSUPPORTED = frozenset(
    {
        "/api/v1/auth/login",
        "/api/v1/auth/logout",
        "/api/v1/auth/password",
        "/api/v1/auth/mfa/setup",
        "/api/v1/auth/mfa/enable",
        "/api/v1/auth/mfa/disable",
        "/api/v1/api-keys",
        "/api/v1/webhooks",  # the endpoint's signing secret
        "/api/v1/admin/certs",  # cert_pem, key_pem and its passphrase
        "/api/v1/agent/requests",  # the agent's session token
        "/api/v1/agent/redeem",  # the agent's session token
        "/api/v1/sessions/{session_id}/join",  # the viewer's token
    }
)


class KeyReused(BrokerError):
    """The Idempotency-Key was used before for a different request."""

    code = "idempotency_key_reused"
    status = 422


class IdempotencyUnsupported(BrokerError):
    """This route's answer is a credential: it is never stored for a replay."""

    code = "idempotency_unsupported"
    status = 400


def _fingerprint(method: str, path: str, raw: bytes) -> str:
    """The request's identity: route and body (JSON compared by value, not spelling)."""
    try:
        body = json.dumps(json.loads(raw), sort_keys=True, separators=(",", ":")).encode()
    except (ValueError, UnicodeDecodeError, RecursionError):
        body = raw
    return hashlib.sha256(method.encode() + b"\0" + path.encode() + b"\0" + body).hexdigest()


async def _principal(request: web.Request) -> str | None:
    """Who the stored response belongs to (fits the store's 32 characters); None when
    the caller's role may not call the route (now): the route's guard answers, never a
    replay (review of 2026-12-04: a replay ran before the guard, so an account demoted
    since still got an admin route's stored answer)."""
    roles = getattr(request.match_info.handler, ROLES_ATTRIBUTE, None)
    if request.headers.get("Authorization") or request.cookies:
        try:
            user = await authenticate(request)
        except BrokerError:
            pass  # not staff (an agent's token) or not valid: the route decides
        else:
            return user.id if roles is None or user.role in roles else None
    credential = request.headers.get("Authorization") or f"addr:{client_address(request)}"
    return "anon:" + hashlib.sha256(credential.encode()).hexdigest()[:27]


def _template(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else request.path


@web.middleware
async def idempotency_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """See the module docstring."""
    key = request.headers.get(HEADER)
    if request.method != "POST" or key is None:
        return await handler(request)
    if not 1 <= len(key) <= 255 or not all(" " <= ch <= "~" for ch in key):
        raise BadRequest(f"{HEADER} must be 1-255 printable ASCII characters")
    if _template(request) in UNSUPPORTED:
        raise IdempotencyUnsupported(f"{HEADER} is not accepted here: the answer is a credential")
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise BadRequest(f"body larger than {MAX_BODY_BYTES} bytes")
    raw = await request.content.read(MAX_BODY_BYTES + 1)
    if len(raw) > MAX_BODY_BYTES:
        raise BadRequest(f"body larger than {MAX_BODY_BYTES} bytes")
    request[PRELOADED_BODY] = raw
    db = request.app[DB]
    principal = await _principal(request)
    if principal is None:
        return await handler(request)
    fingerprint = _fingerprint(request.method, request.path, raw)
    earlier = await queries.reserve_idempotent(
        db, principal, key, fingerprint, at=request.app[CLOCK].now_ms(), keep_ms=KEEP_MS
    )
    if earlier is not None:
        if earlier.fingerprint != fingerprint:
            raise KeyReused(f"this {HEADER} was used for a different request")
        if earlier.status == 0:
            raise Conflict(f"a request with this {HEADER} is still running; retry later")
        return web.Response(
            status=earlier.status,
            text=earlier.body,
            content_type="application/json",
            headers={"Idempotent-Replayed": "true"},
        )
    try:
        response = await handler(request)
    except BaseException:
        await queries.release_idempotent(db, principal, key)
        raise
    if isinstance(response, web.Response) and 200 <= response.status < 300:
        await queries.finish_idempotent(db, principal, key, response.status, response.text or "")
    else:
        await queries.release_idempotent(db, principal, key)
    return response


_Wrapped = Callable[[web.Request], Coroutine[Any, Any, web.StreamResponse]]


def idempotent(handler: _Wrapped) -> _Wrapped:
    """Kept for callers of the first slice: the middleware now covers every POST, so
    this returns ``handler`` unchanged (wrapping twice would read the body twice)."""
    return handler
