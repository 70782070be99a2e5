"""Pacing, Sans-I/O: the one rate limiter and the one backoff formula of the code base.

:class:`TokenBucket` bounds a connection's messages (``protocol.Connection``), the
broker's unauthenticated endpoints per client address
(``broker.auth.throttle.SharedRateLimiter``) and wrong invitation codes from everywhere
together (``broker.auth.throttle.RedeemGuard``); the broker keeps those buckets in its
store as :meth:`TokenBucket.full_at_ms`, so all nodes share them. :func:`backoff_s` is the delay before a retry: the agent's reconnects,
webhook redeliveries, the broker's store retries and the login lock all use it. Time
and randomness are passed in.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

__all__ = ["TokenBucket", "backoff_s"]


@dataclass(slots=True)
class TokenBucket:
    """``rate`` tokens per second up to ``burst``; time in milliseconds is passed in."""

    rate: float
    burst: float
    tokens: float
    last_ms: int

    def __post_init__(self) -> None:
        if self.rate <= 0 or self.burst < 1:
            raise ValueError("a token bucket needs rate > 0 and burst >= 1")

    @classmethod
    def full(cls, rate: float, burst: float, now_ms: int) -> TokenBucket:
        """A bucket that starts full."""
        return cls(rate, burst, burst, now_ms)

    @classmethod
    def restore(cls, rate: float, burst: float, full_at_ms: int, now_ms: int) -> TokenBucket:
        """A bucket from its stored form, the moment it is full again
        (:meth:`full_at_ms`): one integer a store can keep for several processes."""
        missing = max(0, full_at_ms - now_ms) * rate / 1000
        return cls(rate, burst, max(0.0, burst - missing), now_ms)

    def full_at_ms(self) -> int:
        """When the bucket is full again if nothing more is taken (its stored form)."""
        return self.last_ms + math.ceil((self.burst - self.tokens) * 1000 / self.rate)

    def _refill(self, now_ms: int) -> None:
        elapsed = max(0, now_ms - self.last_ms)
        self.tokens = min(self.burst, self.tokens + elapsed * self.rate / 1000)
        self.last_ms = max(self.last_ms, now_ms)

    def take(self, now_ms: int) -> bool:
        """Take one token; ``False`` if the bucket is empty (the message is over the rate)."""
        self._refill(now_ms)
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True

    def wait_ms(self, now_ms: int) -> int:
        """Milliseconds until a token is available (0: one is available now)."""
        self._refill(now_ms)
        if self.tokens >= 1:
            return 0
        return int((1 - self.tokens) * 1000 / self.rate) + 1


def backoff_s(
    attempt: int,
    base_s: float,
    max_s: float,
    *,
    jitter: float = 0.0,
    rng: random.Random | None = None,
) -> float:
    """The delay before retry number ``attempt`` (1 = the first retry).

    ``min(max_s, base_s · 2^(attempt-1))``, scaled by a random factor in
    ``[1 - jitter, 1]`` (``jitter`` 0: exact; 0.5: "equal jitter"), so clients that
    failed together do not retry together and no delay exceeds ``max_s``."""
    if attempt < 1:
        raise ValueError("attempt counts from 1")
    if not 0.0 <= jitter <= 1.0:
        raise ValueError("jitter is a fraction in [0, 1]")
    delay = min(max_s, base_s * 2.0 ** min(attempt - 1, 62))
    if jitter:
        delay *= 1.0 - jitter + jitter * (rng or random).random()
    return float(delay)
