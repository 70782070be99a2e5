"""``create_app(config)``: the broker's aiohttp application.

Resources start in cleanup contexts, in this order, and stop in the reverse order:
database (migrations applied) → PKI (certs.bootstrap) → auth (token keys, password
hasher, throttles) → escalation task → the relay's context (added by
``broker.ws.setup``). So on shutdown the relay tells live sessions and seals logs first,
and the database closes last.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from broker import keys, ws
from broker.api import setup_routes
from broker.api.review import setup_review_routes  # evidence engineer: review API + recorder
from broker.auth.passwords import PasswordService
from broker.auth.throttle import LoginThrottle, RateLimiter
from broker.auth.tokens import TokenService
from broker.clock import Clock, SystemClock
from broker.config import BrokerConfig
from broker.escalation import escalation_ctx
from broker.middleware import error_middleware, security_headers
from broker.static import setup_static
from broker.store.db import Database
from broker.tls_reload import setup_tls
from broker.webhooks import setup_webhooks

__all__ = ["create_app"]

log = logging.getLogger(__name__)


async def _db_ctx(app: web.Application) -> AsyncIterator[None]:
    db = Database.open(app[keys.CONFIG].effective_database_url)
    try:
        await db.migrate()
        app[keys.DB] = db
        yield
    finally:
        await db.close()


async def _pki_ctx(app: web.Application) -> AsyncIterator[None]:
    from certs.bootstrap import ensure_broker_pki

    config = app[keys.CONFIG]
    passphrase = config.ca_passphrase.encode() if config.ca_passphrase else None
    app[keys.PKI] = await asyncio.to_thread(
        ensure_broker_pki,
        config.data_dir,
        list(config.hostnames),
        list(config.ip_addresses),
        passphrase,
    )
    yield


async def _auth_ctx(app: web.Application) -> AsyncIterator[None]:
    config = app[keys.CONFIG]
    clock = app[keys.CLOCK]
    ttls = {
        "access": config.access_token_ttl_s,
        "agent": config.agent_token_ttl_s,
        "viewer": config.viewer_token_ttl_s,
    }
    app[keys.TOKENS] = await asyncio.to_thread(
        TokenService.load,
        config.data_dir / "jwt",
        clock,
        max_ttl_s=max(ttls.values()),
        rotate_after_s=config.jwt_rotate_after_s,
        default_ttl_s=ttls,
    )
    app[keys.LOGIN_THROTTLE] = LoginThrottle(
        app[keys.DB],
        clock,
        free_failures=config.login_free_failures,
        base_delay_s=config.login_base_delay_s,
        max_delay_s=config.login_max_delay_s,
    )
    app[keys.AGENT_RATE_LIMIT] = RateLimiter(
        clock, limit=config.agent_requests_per_minute, window_s=60.0
    )
    yield


def create_app(
    config: BrokerConfig,
    *,
    clock: Clock | None = None,
    passwords: PasswordService | None = None,
) -> web.Application:
    """Build the broker application for ``config`` (checked here). ``clock`` and
    ``passwords`` are injectable for tests."""
    config.check()
    config.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    app = web.Application(middlewares=[error_middleware], client_max_size=1024**2)
    app[keys.CONFIG] = config
    app[keys.CLOCK] = clock or SystemClock()
    app[keys.PASSWORDS] = passwords or PasswordService()
    app.on_response_prepare.append(security_headers)
    app.cleanup_ctx.append(_db_ctx)
    app.cleanup_ctx.append(_pki_ctx)
    setup_tls(app)  # certs-admin: reloadable TLS context, CRL, expiry warnings, mTLS
    app.cleanup_ctx.append(_auth_ctx)
    app.cleanup_ctx.append(escalation_ctx)
    setup_routes(app)
    setup_review_routes(app)  # after the PKI context: the recorder signs with its key
    setup_webhooks(app)  # webhooks engineer: admin routes, outbox capture + delivery worker
    ws.setup(app)  # broker-relay: /ws/agent, /ws/viewer, app[keys.RELAY], relay context
    setup_static(app)  # last: its catch-all GET route must not shadow others
    return app
