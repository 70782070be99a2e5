"""Every ``web.AppKey`` of the broker application, in one place (STYLE "broker/").

The broker-relay engineer adds the relay's own keys at the end of this file.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from aiohttp import web

from broker.auth.passwords import PasswordService
from broker.auth.throttle import LoginThrottle, RateLimiter
from broker.auth.tokens import TokenService
from broker.clock import Clock
from broker.config import BrokerConfig
from broker.escalation import Escalator
from broker.store.db import Database
from broker.store.queries import User
from certs.bootstrap import BrokerPki

if TYPE_CHECKING:  # certs-admin: the reloadable TLS context (broker/tls_reload.py)
    from broker.tls_reload import TlsReloader  # noqa: F401  (used in the TLS AppKey)

__all__ = [
    "AGENT_RATE_LIMIT",
    "CLOCK",
    "CONFIG",
    "DB",
    "ESCALATOR",
    "LOGIN_THROTTLE",
    "PASSWORDS",
    "PKI",
    "RELAY",
    "TLS",
    "TOKENS",
    "USER",
    "VIEWER_DIR",
    "RelayControl",
]


class RelayControl(Protocol):
    """What the REST API needs from the relay (implemented by broker-relay).

    ``end_session`` tells the live parties the session ended, seals the log and
    records the end in the store (``queries.mark_ended``). It returns False when the
    relay does not know the session (nobody connected); the API then marks the
    session ended in the store itself.
    """

    async def end_session(
        self, sid: str, *, reason: str, by: User | None, resolution: str | None
    ) -> bool:
        """End session ``sid`` for ``reason``; see the class docstring."""
        ...


CONFIG = web.AppKey[BrokerConfig]("config")
CLOCK = web.AppKey[Clock]("clock")
DB = web.AppKey[Database]("db")
TOKENS = web.AppKey[TokenService]("tokens")
PASSWORDS = web.AppKey[PasswordService]("passwords")
LOGIN_THROTTLE = web.AppKey[LoginThrottle]("login_throttle")
AGENT_RATE_LIMIT = web.AppKey[RateLimiter]("agent_rate_limit")
ESCALATOR = web.AppKey[Escalator]("escalator")
# The broker's CA, TLS and checkpoint-signing material (certs.bootstrap).
PKI = web.AppKey[BrokerPki]("pki")
# The folder the static viewer is served from.
VIEWER_DIR = web.AppKey[Path]("viewer_dir")
# Present only when broker.ws.setup registered the relay.
RELAY = web.AppKey[RelayControl]("relay")

# certs-admin: the listener's SSLContext, reloaded in place (broker/tls_reload.py).
TLS = web.AppKey["TlsReloader"]("tls")

# Request key: the authenticated staff user of a request (set by the route guard).
USER = web.RequestKey[User]("user")
