"""A token-bucket rate limiter per key (user id, API key, client address ...): pure, time is an argument.

Each key owns a bucket of at most ``burst`` tokens that refills at ``rate_per_s``; a request takes
one token or is refused with the seconds until one is available (the ``Retry-After`` of a 429).
A new key starts with a full bucket.

Memory is bounded: the buckets live in an ``OrderedDict`` in least-recently-used order and past
``max_keys`` the oldest is dropped. A dropped key comes back with a full bucket, which is the
price of the bound; with ``max_keys`` well above the number of active clients only idle keys,
whose buckets had refilled anyway, are ever dropped.

``check`` is O(1). A clock that goes backwards refills nothing rather than draining a bucket.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable


class _Bucket:
    __slots__ = ("tokens", "updated")

    def __init__(self, tokens: float, updated: float) -> None:
        self.tokens = tokens
        self.updated = updated


class TokenBucketLimiter:
    """Allow ``burst`` requests at once per key, then ``rate_per_s`` on average."""

    __slots__ = ("_buckets", "burst", "max_keys", "rate_per_s")

    def __init__(self, rate_per_s: float, burst: int, max_keys: int = 100_000) -> None:
        if not rate_per_s > 0:
            raise ValueError("rate_per_s must be positive")
        if burst < 1:
            raise ValueError("burst must be at least 1")
        if max_keys < 1:
            raise ValueError("max_keys must be at least 1")
        self.rate_per_s = rate_per_s
        self.burst = burst
        self.max_keys = max_keys
        self._buckets: OrderedDict[Hashable, _Bucket] = OrderedDict()

    def check(self, key: Hashable, now: float) -> float:
        """Take one token for ``key`` at time ``now`` (seconds, any monotonic origin).

        Returns 0.0 when allowed, else the seconds until a token is available; the caller rounds
        that up for ``Retry-After``. A refused request consumes nothing.
        """
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(float(self.burst), now)
            if len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
            elapsed = max(0.0, now - bucket.updated)
            bucket.tokens = min(float(self.burst), bucket.tokens + elapsed * self.rate_per_s)
            # max(): a clock that went backwards must not push "updated" back and refill twice.
            bucket.updated = max(bucket.updated, now)
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / self.rate_per_s

    def __len__(self) -> int:
        """The number of keys currently tracked (at most ``max_keys``)."""
        return len(self._buckets)

    def check_integrity(self) -> None:
        """Assert the bound on keys and that every bucket holds between 0 and ``burst`` tokens."""
        assert len(self._buckets) <= self.max_keys, "more keys than max_keys"
        for key, bucket in self._buckets.items():
            assert 0.0 <= bucket.tokens <= self.burst, f"bucket {key!r} holds {bucket.tokens} tokens"
