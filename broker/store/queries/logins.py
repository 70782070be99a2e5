"""Failed-login records for throttling."""

from __future__ import annotations

from broker.store.db import Database
from broker.store.models import LoginAttemptModel
from broker.store.queries.values import LoginAttempt

__all__ = ["clear_login_failures", "get_login_attempt", "record_login_failure"]


# --- login throttling ----------------------------------------------------------------


async def get_login_attempt(db: Database, key: str) -> LoginAttempt | None:
    """Failed-login record for ``key``, or None."""
    async with db.sessions() as s:
        m = await s.get(LoginAttemptModel, key)
        return LoginAttempt(m.key, m.failures, m.last_failure_ms, m.locked_until_ms) if m else None


async def record_login_failure(
    db: Database, key: str, *, failures: int, at: int, locked_until: int
) -> None:
    """Store the failure count and lock time for ``key``."""
    async with db.sessions.begin() as s:
        m = await s.get(LoginAttemptModel, key)
        if m is None:
            s.add(
                LoginAttemptModel(
                    key=key, failures=failures, last_failure_ms=at, locked_until_ms=locked_until
                )
            )
        else:
            m.failures = failures
            m.last_failure_ms = at
            m.locked_until_ms = locked_until


async def clear_login_failures(db: Database, key: str) -> None:
    """Forget failures for ``key`` (after a successful login)."""
    async with db.sessions.begin() as s:
        m = await s.get(LoginAttemptModel, key)
        if m is not None:
            await s.delete(m)
