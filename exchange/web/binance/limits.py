"""The limits the Binance face announces in ``exchangeInfo`` and enforces, as Binance counts them.

Request weight per client address per minute (each route has Binance's weight) and new orders
per account per 10 s; the numbers are ``Limits.binance_weight_per_min`` and
``binance_orders_per_10s`` (exchange/limits.py: ``--binance-weight-per-min``,
``--binance-orders-per-10s``). Every answer carries ``X-MBX-USED-WEIGHT-1M``, an order's also
``X-MBX-ORDER-COUNT-10S``. Past a limit: 429 with ``Retry-After``, -1003 for weight, -1015 for
orders, and nothing is counted or changed.
"""

from __future__ import annotations

from collections.abc import Hashable

from exchange.config import Limits
from exchange.service.ratelimit import WindowCounter
from exchange.web.errors import BN_ORDER_RATE, ApiError

WEIGHT_HEADER = "X-MBX-USED-WEIGHT-1M"
ORDERS_HEADER = "X-MBX-ORDER-COUNT-10S"


class BinanceLimits:
    """Both counters of one app (all its Binance routes)."""

    __slots__ = ("orders", "weight")

    def __init__(self, limits: Limits) -> None:
        self.weight = WindowCounter(limits.binance_weight_per_min, 60.0)
        self.orders = WindowCounter(limits.binance_orders_per_10s, 10.0)

    def rate_limits(self) -> list[dict[str, object]]:
        """``exchangeInfo``'s ``rateLimits``: exactly what ``take_weight``/``take_order`` enforce."""
        return [
            _announced("REQUEST_WEIGHT", "MINUTE", 1, self.weight.limit),
            _announced("ORDERS", "SECOND", 10, self.orders.limit),
        ]

    def take_weight(self, client: Hashable, weight: int, now: float) -> tuple[int, ApiError | None]:
        used, wait = self.weight.add(client, weight, now)
        if not wait:
            return used, None
        return used, ApiError(
            "RATE_LIMITED",
            f"Too much request weight used; current limit is {self.weight.limit} request weight per 1 "
            "MINUTE. Please use WebSocket Streams for live updates to avoid polling the API.",
            retry_after=wait,
        )

    def take_order(self, user: int, now: float) -> tuple[int, ApiError | None]:
        used, wait = self.orders.add(user, 1, now)
        if not wait:
            return used, None
        message = f"Too many new orders; current limit is {self.orders.limit} orders per 10 SECOND."
        return used, ApiError("RATE_LIMITED", message, retry_after=wait, binance=BN_ORDER_RATE)


def _announced(kind: str, interval: str, num: int, limit: int) -> dict[str, object]:
    return {"rateLimitType": kind, "interval": interval, "intervalNum": num, "limit": limit}
