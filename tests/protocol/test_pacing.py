"""The one backoff formula and the one token bucket (``protocol.pacing``)."""

import random

import pytest

from protocol.pacing import TokenBucket, backoff_s


class _Fixed(random.Random):
    def __init__(self, value: float) -> None:
        super().__init__()
        self.value = value

    def random(self) -> float:
        return self.value


def test_backoff_doubles_up_to_the_cap() -> None:
    assert [backoff_s(n, 0.5, 30.0) for n in range(1, 9)] == [0.5, 1, 2, 4, 8, 16, 30, 30]
    assert backoff_s(10_000, 1.0, 60.0) == 60.0  # no overflow for huge attempt counts


def test_backoff_jitter_only_shortens() -> None:
    assert backoff_s(3, 1.0, 60.0, jitter=0.5, rng=_Fixed(0.0)) == 2.0
    assert backoff_s(3, 1.0, 60.0, jitter=0.5, rng=_Fixed(0.999999)) == pytest.approx(4.0, 1e-5)
    delays = [backoff_s(7, 1.0, 60.0, jitter=0.2) for _ in range(200)]
    assert all(48.0 <= d <= 60.0 for d in delays) and len(set(delays)) > 1


def test_backoff_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        backoff_s(0, 1.0, 2.0)
    with pytest.raises(ValueError):
        backoff_s(1, 1.0, 2.0, jitter=1.5)


def test_bucket_wait_ms_says_when_the_next_token_comes() -> None:
    bucket = TokenBucket.full(rate=2, burst=1, now_ms=0)  # one token per 500 ms
    assert bucket.wait_ms(0) == 0 and bucket.take(0)
    assert not bucket.take(0)
    assert 499 <= bucket.wait_ms(0) <= 501
    assert bucket.wait_ms(500) == 0 and bucket.take(500)


def test_a_bucket_survives_its_stored_form() -> None:
    """``full_at_ms`` and ``restore`` keep a bucket in one integer (the store's
    invitation-code limiter): the restored bucket behaves as the original."""
    now = 1_000_000
    bucket = TokenBucket.full(rate=0.5, burst=3, now_ms=now)  # 3 at once, then 1 per 2 s
    assert bucket.full_at_ms() == now
    assert [bucket.take(now) for _ in range(4)] == [True, True, True, False]
    stored = bucket.full_at_ms()
    assert stored == now + 6_000  # three tokens missing, 2 s each
    later = now + 2_000
    restored = TokenBucket.restore(0.5, 3, stored, later)
    assert restored.wait_ms(later) == bucket.wait_ms(later) == 0
    assert restored.take(later) and not restored.take(later)  # one token came back
    assert bucket.take(later) and restored.wait_ms(later) == bucket.wait_ms(later) > 0
    assert TokenBucket.restore(0.5, 3, stored, now + 60_000).tokens == 3  # full, never more
