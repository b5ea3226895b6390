"""Stream names of docs/API.md -> hub topics, validated.

Public: ``depth@S``, ``depth@S@100ms``, ``trade@S``, ``ticker@S``, ``bookTicker@S``,
``kline.<interval>@S``; the topic is the name itself. Private: ``orders`` and ``balances``,
whose topic carries the authenticated user (``orders:42``), so a user only ever reaches its own.
"""

from __future__ import annotations

from exchange.config import Venue
from exchange.service.marketdata import INTERVALS
from exchange.web.errors import ApiError, invalid

PUBLIC_KINDS = frozenset({"depth", "trade", "ticker", "bookTicker"})
PRIVATE = frozenset({"orders", "balances"})


def parse_stream(name: str, venue: Venue, user_id: int | None) -> str:
    """The hub topic of stream ``name``; ApiError if unknown or not allowed."""
    if name in PRIVATE:
        if user_id is None:
            raise ApiError("UNAUTHORIZED", f"{name} needs an authenticated connection")
        return f"{name}:{user_id}"
    kind, _, rest = name.partition("@")
    symbol, _, speed = rest.partition("@")
    if symbol not in venue.markets:
        raise invalid(f"unknown stream {name!r}")
    if speed and not (kind == "depth" and speed == "100ms"):
        raise invalid(f"unknown stream {name!r}")
    if kind in PUBLIC_KINDS:
        return name
    prefix, _, interval = kind.partition(".")
    if prefix == "kline" and interval in INTERVALS:
        return name
    raise invalid(f"unknown stream {name!r}")
