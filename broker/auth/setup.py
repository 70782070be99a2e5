"""The auth resources of the application: the cleanup context that loads the token
keys and creates the throttles, and the ``AppKey``\\ s they are stored under."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from aiohttp import web

from broker.auth.throttle import LoginThrottle, RedeemGuard, SharedRateLimiter
from broker.auth.tokens import TokenService
from broker.clock import CLOCK
from broker.config import CONFIG
from broker.store.db import DB

__all__ = ["AGENT_RATE_LIMIT", "LOGIN_THROTTLE", "REDEEM_GUARD", "TOKENS", "auth_ctx"]

TOKENS = web.AppKey[TokenService]("tokens")
LOGIN_THROTTLE = web.AppKey[LoginThrottle]("login_throttle")
AGENT_RATE_LIMIT = web.AppKey[SharedRateLimiter]("agent_rate_limit")
REDEEM_GUARD = web.AppKey[RedeemGuard]("redeem_guard")


async def auth_ctx(app: web.Application) -> AsyncIterator[None]:
    """Cleanup context: token keys (``data_dir/jwt``), login throttle, agent rate limit."""
    config = app[CONFIG]
    clock = app[CLOCK]
    ttls = {
        "access": config.access_token_ttl_s,
        "agent": config.agent_token_ttl_s,
        "viewer": config.viewer_token_ttl_s,
    }
    app[TOKENS] = await asyncio.to_thread(
        TokenService.load,
        config.data_dir / "jwt",
        clock,
        max_ttl_s=max(ttls.values()),
        rotate_after_s=config.jwt_rotate_after_s,
        default_ttl_s=ttls,
    )
    app[LOGIN_THROTTLE] = LoginThrottle(
        app[DB],
        clock,
        free_failures=config.login_free_failures,
        base_delay_s=config.login_base_delay_s,
        max_delay_s=config.login_max_delay_s,
        account_free_failures=config.login_account_free_failures,
        address_free_failures=config.login_address_free_failures,
    )
    app[REDEEM_GUARD] = RedeemGuard(
        app[DB],
        clock,
        limit=config.invitation_failures_per_window,
        window_s=config.invitation_failure_window_s,
    )
    app[AGENT_RATE_LIMIT] = SharedRateLimiter(  # in the store: one count for all nodes
        app[DB], clock, limit=config.agent_requests_per_minute, window_s=60.0
    )
    yield
