"""Login throttling (per username and client address, exponential back-off, stored
in the database so it survives restarts) and a small in-memory rate limiter for
unauthenticated endpoints (agent requests, invitation redeem)."""

from __future__ import annotations

import hashlib

from broker.clock import Clock
from broker.errors import RateLimited
from broker.store import queries
from broker.store.db import Database
from protocol.pacing import TokenBucket, backoff_s

__all__ = ["LoginThrottle", "RateLimiter"]


class LoginThrottle:
    """After ``free_failures`` wrong passwords for one (username, address), each
    further failure locks that pair for ``base_delay_s * 2**(n-1)`` seconds (n = failures
    beyond the free ones), capped at ``max_delay_s``. A success clears the count."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        *,
        free_failures: int,
        base_delay_s: float,
        max_delay_s: float,
    ) -> None:
        self._db = db
        self._clock = clock
        self._free = free_failures
        self._base_ms = base_delay_s * 1000
        self._max_ms = max_delay_s * 1000

    @staticmethod
    def key(username: str, address: str) -> str:
        """The stored key: a hash, so the table holds no usernames or addresses."""
        return hashlib.sha256(f"{username.lower()}\0{address}".encode()).hexdigest()

    async def check(self, username: str, address: str) -> None:
        """Raise :class:`RateLimited` while the pair is locked."""
        attempt = await queries.get_login_attempt(self._db, self.key(username, address))
        now = self._clock.now_ms()
        if attempt is not None and attempt.locked_until_ms > now:
            wait_s = (attempt.locked_until_ms - now) / 1000
            raise RateLimited(f"too many failed logins; try again in {wait_s:.0f} s", wait_s)

    async def failure(self, username: str, address: str) -> None:
        """Count a failed login and lock the pair if it is past the free failures."""
        key = self.key(username, address)
        attempt = await queries.get_login_attempt(self._db, key)
        failures = (attempt.failures if attempt else 0) + 1
        now = self._clock.now_ms()
        locked_until = 0
        beyond = failures - self._free
        if beyond > 0:
            delay_s = backoff_s(beyond, self._base_ms / 1000, self._max_ms / 1000)
            locked_until = now + int(delay_s * 1000)
        await queries.record_login_failure(
            self._db, key, failures=failures, at=now, locked_until=locked_until
        )

    async def success(self, username: str, address: str) -> None:
        """Forget the failures of the pair."""
        await queries.clear_login_failures(self._db, self.key(username, address))


class RateLimiter:
    """At most ``limit`` hits per key in a burst, refilled at ``limit`` per ``window_s``
    (one :class:`protocol.pacing.TokenBucket` per key). Memory is bounded: at most
    ``max_keys`` keys are tracked, the least recently used dropped."""

    def __init__(
        self, clock: Clock, *, limit: int, window_s: float, max_keys: int = 10_000
    ) -> None:
        self._clock = clock
        self._limit = limit
        self._rate = limit / window_s
        self._max_keys = max_keys
        self._buckets: dict[str, TokenBucket] = {}

    def hit(self, key: str) -> None:
        """Count one hit for ``key``; raise :class:`RateLimited` if over the limit."""
        now = self._clock.now_ms()
        bucket = self._buckets.pop(key, None) or TokenBucket.full(self._rate, self._limit, now)
        self._buckets[key] = bucket  # re-insert: dict order is least recently used first
        if not bucket.take(now):
            wait_s = bucket.wait_ms(now) / 1000
            raise RateLimited(f"too many requests; try again in {wait_s:.0f} s", wait_s)
        while len(self._buckets) > self._max_keys:
            self._buckets.pop(next(iter(self._buckets)))
