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


class WindowCounter:
    """Units used per key in fixed windows of ``window_s`` seconds (Binance's request weight per
    minute, orders per 10 s): a request that would pass ``limit`` is refused and counts nothing.

    Windows are aligned to multiples of ``window_s`` on the clock given; memory is bounded like
    the token buckets' (least recently used keys dropped past ``max_keys``). ``add`` is O(1).
    """

    __slots__ = ("_used", "limit", "max_keys", "window_s")

    def __init__(self, limit: int, window_s: float, max_keys: int = 100_000) -> None:
        if limit < 1 or not window_s > 0 or max_keys < 1:
            raise ValueError("limit and max_keys must be at least 1, window_s positive")
        self.limit, self.window_s, self.max_keys = limit, window_s, max_keys
        self._used: OrderedDict[Hashable, tuple[int, int]] = OrderedDict()  # key -> (window, used)

    def add(self, key: Hashable, units: int, now: float) -> tuple[int, float]:
        """Count ``units`` for ``key`` at ``now`` (seconds): (units used in this window, 0.0), or
        when refused (units used, seconds until the window ends)."""
        window = int(now // self.window_s)
        found = self._used.get(key)
        used = found[1] if found is not None and found[0] == window else 0
        if used + units > self.limit:
            return used, (window + 1) * self.window_s - now
        self._used[key] = (window, used + units)
        self._used.move_to_end(key)
        if len(self._used) > self.max_keys:
            self._used.popitem(last=False)
        return used + units, 0.0

    def used(self, key: Hashable, now: float) -> int:
        """Units ``key`` used in the current window (nothing counted)."""
        found = self._used.get(key)
        return found[1] if found is not None and found[0] == int(now // self.window_s) else 0
