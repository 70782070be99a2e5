"""Login throttling (per username and client address, exponential back-off, stored
in the database so it survives restarts), the global limit on wrong invitation codes
(:class:`RedeemGuard`) and the per-address limit of unauthenticated agent endpoints
(:class:`SharedRateLimiter`: agent requests, invitation redeem). Both limits are
:class:`protocol.pacing.TokenBucket` — the one rate limiter of the code base — kept in
the store for every node (:class:`StoredBucket`); the login lock uses its one backoff
formula."""

from __future__ import annotations

import hashlib
import math

from broker.clock import Clock
from broker.errors import RateLimited
from broker.store import cluster_models, queries
from broker.store.db import Database
from protocol.pacing import TokenBucket, backoff_s

__all__ = ["LoginThrottle", "RedeemGuard", "SharedRateLimiter", "StoredBucket"]


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


class StoredBucket:
    """One :class:`protocol.pacing.TokenBucket` in the store (``rate_buckets``), so every
    node of a cluster takes from the same bucket. It is kept as the moment it is full
    again, and a token is taken in one atomic statement
    (:func:`broker.store.cluster_models.take_token`, the arithmetic of
    ``TokenBucket.take``): of nodes taking the last token at once, one gets it, and many
    takers at once (every client behind one proxy address) cost no retries."""

    def __init__(self, db: Database, key: str, *, rate: float, burst: float) -> None:
        self._db = db
        self._key = hashlib.sha256(f"rate\0{key}".encode()).hexdigest()
        self._rate = rate
        self._burst = burst
        self._token_ms = math.ceil(1000 / rate)

    async def peek(self, now: int) -> TokenBucket:
        """The bucket as it stands (nothing taken)."""
        old = await cluster_models.get_bucket(self._db, self._key)
        return TokenBucket.restore(self._rate, self._burst, old if old else now, now)

    async def take(self, now: int) -> tuple[bool, TokenBucket]:
        """Take one token: (whether there was one, the bucket after)."""
        full_at = await cluster_models.take_token(
            self._db, self._key, now=now, token_ms=self._token_ms, burst=int(self._burst)
        )
        if full_at is None:  # taken: the bucket as take() left it
            bucket = await self.peek(now)
            return True, bucket
        return False, TokenBucket.restore(self._rate, self._burst, full_at, now)


class RedeemGuard:
    """Wrong invitation codes from every address together: one :class:`StoredBucket`
    (all nodes share it) of ``limit`` wrong codes at once, refilled at ``limit`` per
    ``window_s``. While it is empty every redemption is refused. The alert (log +
    webhook) is a second bucket of one token per ``window_s``: a wrong code that
    empties the first bucket raises it at most once per window while an attack goes on."""

    def __init__(self, db: Database, clock: Clock, *, limit: int, window_s: float) -> None:
        self._clock = clock
        self._failures = StoredBucket(
            db, "invitation\0failures", rate=limit / window_s, burst=limit
        )
        self._alerts = StoredBucket(db, "invitation\0alerts", rate=1 / window_s, burst=1)

    async def check(self) -> None:
        """Raise :class:`RateLimited` while the bucket of wrong codes is empty."""
        now = self._clock.now_ms()
        wait_ms = (await self._failures.peek(now)).wait_ms(now)
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
        # A wrong code that raced past check() finds the bucket empty: it stays empty.
        _taken, bucket = await self._failures.take(now)
        wait_ms = bucket.wait_ms(now)
        if not wait_ms:
            return None
        alert, _ = await self._alerts.take(now)
        return now + wait_ms if alert else None


class SharedRateLimiter:
    """At most ``limit`` hits per key in a burst, refilled at ``limit`` per ``window_s``:
    one :class:`StoredBucket` per key, so every node of a cluster takes from the same
    bucket (issue 15: N processes must not allow N times the limit). One read and one
    write per hit (these endpoints are called once per help request)."""

    def __init__(self, db: Database, clock: Clock, *, limit: int, window_s: float) -> None:
        self._db = db
        self._clock = clock
        self._limit = limit
        self._rate = limit / window_s

    async def hit(self, key: str) -> None:
        """Count one hit for ``key``; raise :class:`RateLimited` if over the limit."""
        now = self._clock.now_ms()
        bucket = StoredBucket(self._db, key, rate=self._rate, burst=self._limit)
        taken, after = await bucket.take(now)
        if not taken:
            wait_s = after.wait_ms(now) / 1000
            raise RateLimited(f"too many requests; try again in {wait_s:.0f} s", wait_s)
