"""Login throttling (per username and client address, exponential back-off, stored
in the database so it survives restarts), the global limit on wrong invitation codes,
the per-address limit of unauthenticated agent endpoints kept in the store for every
node (:class:`SharedRateLimiter`: agent requests, invitation redeem) and a small
in-memory rate limiter. Every limit is :class:`protocol.pacing.TokenBucket` — the one
rate limiter of the code base; the login lock uses its one backoff formula."""

from __future__ import annotations

import hashlib

from broker.clock import Clock
from broker.errors import RateLimited
from broker.store import cluster_models, queries
from broker.store.db import Database
from broker.store.queries import LoginAttempt
from protocol.pacing import TokenBucket, backoff_s

__all__ = ["LoginThrottle", "RateLimiter", "RedeemGuard", "SharedRateLimiter"]


class LoginThrottle:
    """Failed logins are counted under three keys at once (issue 14): the (username,
    address) pair, the account alone (guessing one password from many addresses) and
    the address alone (spraying many usernames from one address). Past its free
    failures, each further failure locks that key for ``base_delay_s * 2**(n-1)``
    seconds (n = failures beyond the free ones), capped at ``max_delay_s``; a login is
    refused while any of its keys is locked. A success clears the pair and the account;
    the address count is forgotten only ``reset_after_s`` after its last failure (a
    success on the attacker's own account must not reset a spray)."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        *,
        free_failures: int,
        base_delay_s: float,
        max_delay_s: float,
        account_free_failures: int = 10,
        address_free_failures: int = 20,
        reset_after_s: float = 3600.0,
    ) -> None:
        self._db = db
        self._clock = clock
        self._free = free_failures
        self._account_free = account_free_failures
        self._address_free = address_free_failures
        self._base_ms = base_delay_s * 1000
        self._max_ms = max_delay_s * 1000
        self._reset_ms = reset_after_s * 1000

    @staticmethod
    def key(username: str, address: str) -> str:
        """The stored key: a hash, so the table holds no usernames or addresses."""
        return hashlib.sha256(f"{username.lower()}\0{address}".encode()).hexdigest()

    @staticmethod
    def account_key(username: str) -> str:
        """The key counting an account's failures from every address."""
        return hashlib.sha256(f"account\0{username.lower()}".encode()).hexdigest()

    @staticmethod
    def address_key(address: str) -> str:
        """The key counting an address's failures over every username."""
        return hashlib.sha256(f"address\0{address}".encode()).hexdigest()

    def _keys(self, username: str, address: str) -> list[tuple[str, int]]:
        return [
            (self.key(username, address), self._free),
            (self.account_key(username), self._account_free),
            (self.address_key(address), self._address_free),
        ]

    async def check(self, username: str, address: str) -> None:
        """Raise :class:`RateLimited` while the pair, the account or the address is locked."""
        now = self._clock.now_ms()
        for key, _free in self._keys(username, address):
            attempt = await queries.get_login_attempt(self._db, key)
            if attempt is not None and attempt.locked_until_ms > now:
                wait_s = (attempt.locked_until_ms - now) / 1000
                raise RateLimited(f"too many failed logins; try again in {wait_s:.0f} s", wait_s)

    async def failure(self, username: str, address: str) -> None:
        """Count a failed login under each key and lock those past their free failures."""
        now = self._clock.now_ms()
        for key, free in self._keys(username, address):
            attempt = await queries.get_login_attempt(self._db, key)
            stale = attempt is not None and now - attempt.last_failure_ms > self._reset_ms
            failures = 1 if attempt is None or stale else attempt.failures + 1
            locked_until = 0
            beyond = failures - free
            if beyond > 0:
                delay_s = backoff_s(beyond, self._base_ms / 1000, self._max_ms / 1000)
                locked_until = now + int(delay_s * 1000)
            await queries.record_login_failure(
                self._db, key, failures=failures, at=now, locked_until=locked_until
            )

    async def success(self, username: str, address: str) -> None:
        """Forget the failures of the pair and of the account (not of the address)."""
        await queries.clear_login_failures(self._db, self.key(username, address))
        await queries.clear_login_failures(self._db, self.account_key(username))


class RedeemGuard:
    """Wrong invitation codes from every address together, bounded by one
    :class:`protocol.pacing.TokenBucket` kept in the store (so all nodes share it):
    ``limit`` wrong codes at once, refilled at ``limit`` per ``window_s``. While the
    bucket is empty every redemption is refused. :meth:`failure` tells the caller to
    raise the alert (log + webhook) when a wrong code empties the bucket, at most once
    per ``window_s``.

    The store row (``login_attempts``, a hashed key) holds the bucket as the moment it
    is full again (``last_failure_ms``), the wrong codes since it was last full
    (``failures``) and when the next alert may be raised (``locked_until_ms``)."""

    _KEY = hashlib.sha256(b"invitation-failures").hexdigest()

    def __init__(self, db: Database, clock: Clock, *, limit: int, window_s: float) -> None:
        self._db = db
        self._clock = clock
        self._limit = limit
        self._rate = limit / window_s
        self._window_ms = int(window_s * 1000)

    async def _bucket(self, now: int) -> tuple[TokenBucket, LoginAttempt | None]:
        row = await queries.get_login_attempt(self._db, self._KEY)
        full_at = row.last_failure_ms if row is not None else now
        return TokenBucket.restore(self._rate, self._limit, full_at, now), row

    async def check(self) -> None:
        """Raise :class:`RateLimited` while the bucket of wrong codes is empty."""
        now = self._clock.now_ms()
        bucket, _row = await self._bucket(now)
        wait_ms = bucket.wait_ms(now)
        if wait_ms:
            wait_s = wait_ms / 1000
            raise RateLimited(
                f"too many wrong invitation codes; try again in {wait_s:.0f} s", wait_s
            )

    async def failure(self) -> int | None:
        """Count one wrong code. If it emptied the bucket and no alert was raised in
        the last window: the time (ms) redemptions are allowed again — the caller
        raises the alert; otherwise None."""
        now = self._clock.now_ms()
        bucket, row = await self._bucket(now)
        was_full = row is None or row.last_failure_ms <= now
        bucket.take(now)  # a failure that raced past check() still counts (bucket stays empty)
        wait_ms = bucket.wait_ms(now)
        alert = wait_ms > 0 and (row is None or row.locked_until_ms <= now)
        next_alert = now + self._window_ms if alert else (row.locked_until_ms if row else 0)
        await queries.record_login_failure(
            self._db,
            self._KEY,
            failures=1 if was_full or row is None else row.failures + 1,
            at=bucket.full_at_ms(),
            locked_until=next_alert,
        )
        return now + wait_ms if alert else None


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


class SharedRateLimiter:
    """At most ``limit`` hits per key in a burst, refilled at ``limit`` per ``window_s``:
    one :class:`protocol.pacing.TokenBucket` per key **in the store**, so every node of
    a cluster takes from the same bucket (issue 15: N processes must not allow N times
    the limit). The bucket is kept as the moment it is full again and changed by
    compare-and-set (:func:`broker.store.cluster_models.swap_bucket`): of two nodes
    taking the last token at once, one gets it. One read and one write per hit (these
    endpoints are called once per help request)."""

    ATTEMPTS = 8
    """Compare-and-set rounds before giving up (each lost round means another node took
    a token in between)."""

    def __init__(self, db: Database, clock: Clock, *, limit: int, window_s: float) -> None:
        self._db = db
        self._clock = clock
        self._limit = limit
        self._rate = limit / window_s

    async def hit(self, key: str) -> None:
        """Count one hit for ``key``; raise :class:`RateLimited` if over the limit."""
        stored = hashlib.sha256(f"rate\0{key}".encode()).hexdigest()
        for _ in range(self.ATTEMPTS):
            now = self._clock.now_ms()
            old = await cluster_models.get_bucket(self._db, stored)
            bucket = TokenBucket.restore(self._rate, self._limit, old if old else now, now)
            if not bucket.take(now):
                wait_s = bucket.wait_ms(now) / 1000
                raise RateLimited(f"too many requests; try again in {wait_s:.0f} s", wait_s)
            if await cluster_models.swap_bucket(self._db, stored, old, bucket.full_at_ms(), now):
                return
        raise RateLimited("too many requests at once; try again in 1 s", 1.0)
