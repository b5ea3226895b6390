"""The server's clocks, in one place: the wall clock in milliseconds (times on the wire, the
engine's stamps, signature windows, session expiry) and the monotonic clock in seconds (rate
limits, intervals). The domain never reads either: time comes to it stamped on commands."""

from __future__ import annotations

import time

#: Seconds on a clock that never goes backwards; for intervals and token buckets.
monotonic = time.monotonic


def now_ms() -> int:
    """Milliseconds since the Unix epoch, as the API speaks them."""
    return time.time_ns() // 1_000_000
