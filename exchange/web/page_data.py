"""What the server-rendered pages show before the socket connects: the views of the projections.

Each function turns the market-data and engine projections into plain dicts of decimal strings
(the REST shapes of docs/API.md), so the templates print exactly what the API would answer and the
page scripts start from the same values. Cumulative book sizes are summed as integers here.
"""

from __future__ import annotations

from typing import Any

import orjson

from exchange.config import Venue
from exchange.domain.markets import Market
from exchange.service.marketdata import MarketData
from exchange.service.reads import Reads
from exchange.web.wire import balances_json, order_json, ticker_json, trade_json

Json = dict[str, Any]

#: Levels per side the book widget shows; the trade page tells its script (bookRows).
BOOK_LEVELS = 20
#: Trades the recent-trades widget shows (tradeRows to the script).
TRADE_ROWS = 50


def direction(change: int | None) -> str:
    """The class a 24 h change is painted with: ``up``, ``down`` or empty when flat/unknown."""
    if not change:
        return ""
    return "up" if change > 0 else "down"


def ticker_view(md: MarketData, m: Market, now_ms: int) -> Json:
    t = md.ticker(m.symbol, now_ms)
    view = ticker_json(t, m)
    view["direction"] = direction(t.price_change)
    pct = view["priceChangePercent"]  # None before the first trade: shown as flat, as the JS does
    view["changeText"] = "0.00%" if pct is None else f"{'+' if view['direction'] == 'up' else ''}{pct}%"
    return view


def book_view(md: MarketData, m: Market, levels: int = BOOK_LEVELS) -> Json:
    """Both sides best first with running totals; ``maxTotal`` scales the size bars."""
    depth = md.depth(m.symbol, levels)

    def side(rows: list[tuple[int, int]]) -> list[Json]:
        out, running = [], 0
        for price, qty in rows:
            running += qty
            total = m.qty.format(running)
            out.append(
                {"price": m.price.format(price), "qty": m.qty.format(qty), "total": total, "cum": running}
            )
        return out

    bids, asks = side(depth.bids), side(depth.asks)
    biggest = max([r["cum"] for r in bids[-1:] + asks[-1:]] or [0]) or 1
    for row in bids + asks:
        row["bar"] = round(100 * row.pop("cum") / biggest, 2)  # a display width, not money
    spread = None
    if depth.bids and depth.asks:
        spread = m.price.format(depth.asks[0][0] - depth.bids[0][0])
    return {"bids": bids, "asks": asks, "spread": spread, "lastUpdateId": depth.last_update_id}


def trades_view(md: MarketData, m: Market, limit: int = TRADE_ROWS) -> list[Json]:
    return [
        {**trade_json(t, m), "side": "sell" if t.is_buyer_maker else "buy"}
        for t in md.trades(m.symbol, limit)
    ]


async def balances_view(reads: Reads, venue: Venue, user_id: int) -> list[Json]:
    found = await reads.balances(user_id)
    return [{"asset": name, **b} for name, b in balances_json(found, venue.assets).items()]


async def open_orders_view(reads: Reads, venue: Venue, user_id: int, symbol: str | None) -> list[Json]:
    found = await reads.open_orders(user_id, symbol)
    return [order_json(s, venue.markets[s.symbol]) for s in reversed(found)]


def script_json(data: Any) -> str:
    """JSON safe inside a ``<script type="application/json">``: no ``</`` can end the element."""
    return orjson.dumps(data).decode().replace("</", "<\\/")


def percent(fraction: str) -> str:
    """A fee fraction as a percentage, exactly: ``"0.001"`` -> ``"0.1%"`` (decimal point moved)."""
    whole, _, frac = fraction.partition(".")
    frac = frac.ljust(2, "0")
    digits = (whole + frac[:2]).lstrip("0") or "0"
    rest = frac[2:].rstrip("0")
    return f"{digits}.{rest}%" if rest else f"{digits}%"
