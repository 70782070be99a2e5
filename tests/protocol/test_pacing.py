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
