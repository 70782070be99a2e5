"""``create_app(config)``: the broker's aiohttp application.

Resources start in cleanup contexts, in this order, and stop in the reverse order:
database (migrations applied) → PKI (certs.bootstrap) → auth (token keys, password
hasher, throttles) → mail worker → scheduler (queue check, SLA clocks) → the relay's
context (added by ``broker.ws.setup``). So on shutdown the relay tells live sessions and seals logs first,
and the database closes last.
"""

from __future__ import annotations

import logging

from aiohttp import web

from broker import ws
from broker.api import setup_routes
from broker.api.idempotency import idempotency_middleware
from broker.api.review import setup_review_routes  # evidence engineer: review API + recorder
from broker.auth.oidc import oidc_ctx
from broker.auth.passwords import PASSWORDS, PasswordService
from broker.auth.setup import auth_ctx
from broker.clock import CLOCK, Clock, SystemClock
from broker.config import CONFIG, BrokerConfig
from broker.escalation import escalation_ctx
from broker.mail import mail_ctx
from broker.middleware import CONNECT_ORIGINS, error_middleware, security_headers
from broker.pki import pki_ctx
from broker.routing import routing_ctx
from broker.static import setup_static
from broker.store.db import database_ctx
from broker.tls_reload import setup_tls
from broker.webhooks.setup import setup_webhooks

__all__ = ["create_app"]

log = logging.getLogger(__name__)


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
    # Idempotency-Key on every POST (issue 18), inside the error middleware.
    app = web.Application(
        middlewares=[error_middleware, idempotency_middleware], client_max_size=1024**2
    )
    app[CONFIG] = config
    app[CLOCK] = clock or SystemClock()
    app[PASSWORDS] = passwords or PasswordService()
    app[CONNECT_ORIGINS] = set()  # filled by a cluster's relay (broker/cluster.py)
    app.on_response_prepare.append(security_headers)
    app.cleanup_ctx.append(database_ctx)
    app.cleanup_ctx.append(pki_ctx)
    setup_tls(app)  # certs-admin: reloadable TLS context, CRL, expiry warnings, mTLS
    app.cleanup_ctx.append(auth_ctx)
    app.cleanup_ctx.append(oidc_ctx)  # single sign-on: the provider client, if configured
    app.cleanup_ctx.append(mail_ctx)  # workflow: the SMTP outbox (off without smtp_host)
    app.cleanup_ctx.append(escalation_ctx)  # the queue check and the SLA scheduler
    app.cleanup_ctx.append(routing_ctx)  # issue 19: push waiting requests to engineers
    setup_routes(app)
    setup_review_routes(app)  # after the PKI context: the recorder signs with its key
    setup_webhooks(app)  # webhooks engineer: admin routes, outbox capture + delivery worker
    ws.setup(app)  # broker-relay: /ws/agent, /ws/viewer, app[RELAY], relay context
    setup_static(app)  # last: its catch-all GET route must not shadow others
    return app
