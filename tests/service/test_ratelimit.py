"""Token-bucket limiter: bursts, refusals with a retry-after, refill and the memory bound."""

from __future__ import annotations

import pytest

from exchange.service.ratelimit import TokenBucketLimiter


def test_burst_is_allowed_then_refused() -> None:
    limiter = TokenBucketLimiter(rate_per_s=2.0, burst=5)

    allowed = [limiter.check("alice", now=100.0) for _ in range(5)]
    refused = limiter.check("alice", now=100.0)

    assert allowed == [0.0] * 5
    assert refused > 0.0
    limiter.check_integrity()


def test_refusal_reports_seconds_until_next_token() -> None:
    limiter = TokenBucketLimiter(rate_per_s=2.0, burst=1)
    assert limiter.check("k", now=0.0) == 0.0

    assert limiter.check("k", now=0.0) == pytest.approx(0.5)
    assert limiter.check("k", now=0.2) == pytest.approx(0.3)


def test_refused_request_consumes_nothing() -> None:
    limiter = TokenBucketLimiter(rate_per_s=1.0, burst=1)
    limiter.check("k", now=0.0)
    for _ in range(10):
        limiter.check("k", now=0.5)

    assert limiter.check("k", now=1.0) == 0.0


def test_tokens_refill_at_rate_and_cap_at_burst() -> None:
    limiter = TokenBucketLimiter(rate_per_s=10.0, burst=3)
    for _ in range(3):
        limiter.check("k", now=0.0)

    assert limiter.check("k", now=0.1) == 0.0  # one token back after 0.1 s
    assert limiter.check("k", now=0.1) > 0.0
    # A long idle refills only up to the burst.
    assert [limiter.check("k", now=1000.0) for _ in range(4)][:3] == [0.0] * 3
    assert limiter.check("k", now=1000.0) > 0.0
    limiter.check_integrity()


def test_keys_have_separate_buckets() -> None:
    limiter = TokenBucketLimiter(rate_per_s=1.0, burst=1)
    assert limiter.check("a", now=0.0) == 0.0
    assert limiter.check("a", now=0.0) > 0.0

    assert limiter.check("b", now=0.0) == 0.0
    assert limiter.check(("ip", "10.0.0.1"), now=0.0) == 0.0


def test_clock_going_backwards_refills_nothing() -> None:
    limiter = TokenBucketLimiter(rate_per_s=1.0, burst=1)
    limiter.check("k", now=10.0)

    assert limiter.check("k", now=5.0) > 0.0
    assert limiter.check("k", now=10.5) == pytest.approx(0.5)
    limiter.check_integrity()


def test_memory_is_bounded_by_evicting_least_recently_used() -> None:
    limiter = TokenBucketLimiter(rate_per_s=1.0, burst=1, max_keys=3)
    for key in ("a", "b", "c"):
        limiter.check(key, now=0.0)
    limiter.check("a", now=0.0)  # refused, but "a" is now the most recently used

    limiter.check("d", now=0.0)  # evicts "b", the least recently used

    assert len(limiter) == 3
    assert limiter.check("a", now=0.0) > 0.0  # still tracked: still empty
    assert limiter.check("b", now=0.0) == 0.0  # forgotten: comes back with a full bucket
    assert len(limiter) == 3
    limiter.check_integrity()


def test_many_keys_never_exceed_bound() -> None:
    limiter = TokenBucketLimiter(rate_per_s=5.0, burst=2, max_keys=100)
    for i in range(10_000):
        limiter.check(i, now=i / 1000)

    assert len(limiter) == 100
    limiter.check_integrity()


@pytest.mark.parametrize(
    ("rate", "burst", "max_keys"), [(0.0, 1, 1), (-1.0, 1, 1), (float("nan"), 1, 1), (1.0, 0, 1), (1.0, 1, 0)]
)
def test_invalid_parameters_are_rejected(rate: float, burst: int, max_keys: int) -> None:
    with pytest.raises(ValueError):
        TokenBucketLimiter(rate, burst, max_keys)
