"""The error middleware (domain exceptions → JSON errors) and the security headers
added to every response."""

from __future__ import annotations

import logging

from aiohttp import web

from broker.auth.policy import Handler
from broker.config import CONFIG
from broker.errors import BrokerError, RateLimited, Unavailable, is_storage_failure

__all__ = [
    "CONNECT_ORIGINS",
    "CSP",
    "error_middleware",
    "error_response",
    "security_headers",
]

log = logging.getLogger(__name__)

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
    "media-src 'self' blob:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'self'"
)

UNAVAILABLE_RETRY_S = 5

CONNECT_ORIGINS = web.AppKey[set[str]]("connect_origins")
"""Other origins the pages may open WebSockets to (``wss://host:port``): the nodes of a
cluster, learnt from their heartbeats (broker/cluster.py); empty for one broker."""

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    410: "gone",
    413: "bad_request",
    415: "bad_request",
    429: "rate_limited",
}


def error_response(status: int, code: str, message: str) -> web.Response:
    """``{"error": {"code", "message"}}`` with ``status``."""
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Translate :class:`BrokerError` and aiohttp's HTTP errors into JSON errors; a
    storage failure anywhere (disk full, database unreachable: :func:`is_storage_failure`)
    becomes 503 ``unavailable`` — the handler's transaction was rolled back, so nothing
    of the request is kept; anything else unexpected becomes a logged 500 ``internal``."""
    try:
        return await handler(request)
    except BrokerError as exc:
        response = error_response(exc.status, exc.code, exc.message)
        if isinstance(exc, RateLimited):
            response.headers["Retry-After"] = str(max(1, round(exc.retry_after_s)))
        if isinstance(exc, Unavailable):
            response.headers["Retry-After"] = str(UNAVAILABLE_RETRY_S)
        return response
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = _HTTP_CODES.get(exc.status, "bad_request" if exc.status < 500 else "internal")
        message = exc.reason if exc.status != 404 else "no such resource"
        response = error_response(exc.status, code, message)
        if exc.status == 405 and "Allow" in exc.headers:
            response.headers["Allow"] = exc.headers["Allow"]
        return response
    except Exception as exc:
        if is_storage_failure(exc):
            log.error(
                "storage failure in %s %s: %s (answered 503)", request.method, request.path, exc
            )
            response = error_response(
                503,
                Unavailable.code,
                "the broker cannot store this now; nothing was kept, retry later",
            )
            response.headers["Retry-After"] = str(UNAVAILABLE_RETRY_S)
            return response
        log.exception("unhandled error in %s %s", request.method, request.path)
        return error_response(500, "internal", "internal error; the broker logged it")


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """``on_response_prepare`` signal: CSP and friends on every response, HSTS on TLS,
    no caching of API answers."""
    headers = response.headers
    nodes = request.app.get(CONNECT_ORIGINS)
    if nodes:  # a cluster: a viewer's join may send its WebSocket to the session's node
        extra = " ".join(sorted(nodes))
        headers["Content-Security-Policy"] = CSP.replace(
            "connect-src 'self'", f"connect-src 'self' {extra}"
        )
    else:
        headers["Content-Security-Policy"] = CSP
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Referrer-Policy"] = "no-referrer"
    headers["X-Frame-Options"] = "DENY"
    headers["Cross-Origin-Opener-Policy"] = "same-origin"
    headers["Permissions-Policy"] = "camera=(self), microphone=(self), geolocation=()"
    if request.scheme == "https" or not request.app[CONFIG].insecure_http:
        headers["Strict-Transport-Security"] = "max-age=31536000"
    if request.path.startswith("/api/"):
        headers["Cache-Control"] = "no-store"
