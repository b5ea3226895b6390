"""Binance's public REST routes (``/api/v3``): time, exchangeInfo, depth, trades, klines, tickers.

Answered from the same projections as the native API (service/marketdata.py, the SQLite history
for older trades and candles), in Binance's shapes; each route has Binance's request weight.
"""

from __future__ import annotations

from typing import Any

import orjson

from exchange.clock import now_ms
from exchange.domain.markets import Market
from exchange.service.marketdata import INTERVALS, MINUTE, TradeRecord
from exchange.web.binance import info
from exchange.web.binance.auth import Call, endpoint
from exchange.web.binance.params import Params, not_valid
from exchange.web.binance.wire import agg_trade_json, trade_json
from exchange.web.common import market_data
from exchange.web.errors import BN_INTERVAL, BN_INVALID_DATA, invalid
from exchange.web.keys import BINANCE_LIMITS, READS
from exchange.web.public_api import load_klines, record
from exchange.web.wire import levels_json

Json = dict[str, Any]


@endpoint(1)
async def ping(call: Call) -> Json:
    call.params.only(())
    return {}


@endpoint(1)
async def server_time(call: Call) -> Json:
    call.params.only(())
    return {"serverTime": now_ms()}


def _markets(call: Call) -> list[Market]:
    """The markets a ``symbol`` or ``symbols`` (a JSON array) parameter names; all if neither."""
    p = call.params
    if p.has("symbol") and p.has("symbols"):
        raise invalid("give symbol or symbols, not both")
    if p.has("symbol"):
        return [call.symbols.market(p.need("symbol"))]
    names = p.get("symbols")
    if names is None:
        return list(call.symbols)
    try:
        listed = orjson.loads(names)
    except orjson.JSONDecodeError:
        listed = None
    if not isinstance(listed, list) or not listed or not all(isinstance(n, str) for n in listed):
        raise not_valid("symbols")
    return [call.symbols.market(n) for n in listed]


@endpoint(20)
async def exchange_info(call: Call) -> Json:
    call.params.only(("symbol", "symbols", "permissions", "showPermissionSets", "symbolStatus"))
    return {
        "timezone": "UTC",
        "serverTime": now_ms(),
        "rateLimits": call.app[BINANCE_LIMITS].rate_limits(),
        "exchangeFilters": [],
        "symbols": [info.symbol_json(call.symbols.compact(m.symbol), m) for m in _markets(call)],
    }


def _depth_weight(p: Params) -> int:
    limit = p.integer("limit", 100, 1, 5000) or 100
    return 5 if limit <= 100 else 25 if limit <= 500 else 50 if limit <= 1000 else 250


@endpoint(_depth_weight)
async def depth(call: Call) -> Json:
    p = call.params.only(("symbol", "limit"))
    m = call.symbols.market(p.need("symbol"))
    view = market_data(call.app).depth(m.symbol, p.integer("limit", 100, 1, 5000) or 100)
    return {
        "lastUpdateId": view.last_update_id,
        "bids": levels_json(view.bids, m),
        "asks": levels_json(view.asks, m),
    }


def _recent(call: Call, m: Market, limit: int) -> list[TradeRecord]:
    """The newest ``limit`` trades in memory, oldest first (as Binance lists them)."""
    return market_data(call.app).trades(m.symbol, limit)[::-1]


@endpoint(25)
async def trades(call: Call) -> list[Json]:
    p = call.params.only(("symbol", "limit"))
    m = call.symbols.market(p.need("symbol"))
    return [trade_json(t, m) for t in _recent(call, m, p.integer("limit", 500, 1, 1000) or 500)]


@endpoint(25)
async def historical_trades(call: Call) -> list[Json]:
    """Trades from ``fromId`` on (the newest ``limit`` without it), from the last 1,000 in memory."""
    p = call.params.only(("symbol", "limit", "fromId"))
    m = call.symbols.market(p.need("symbol"))
    limit, from_id = p.integer("limit", 500, 1, 1000) or 500, p.integer("fromId", None, 0, 2**62)
    if from_id is None:
        return [trade_json(t, m) for t in _recent(call, m, limit)]
    kept = _recent(call, m, market_data(call.app).trades_kept)
    return [trade_json(t, m) for t in kept if t.id >= from_id][:limit]


@endpoint(4)
async def agg_trades(call: Call) -> list[Json]:
    """Each trade is its own aggregate here; by ``fromId``, by time (the history), or the newest."""
    p = call.params.only(("symbol", "fromId", "startTime", "endTime", "limit"))
    m = call.symbols.market(p.need("symbol"))
    limit, from_id = p.integer("limit", 500, 1, 1000) or 500, p.integer("fromId", None, 0, 2**62)
    start, end = p.integer("startTime", None, 0, 2**53), p.integer("endTime", None, 0, 2**53)
    if start is not None or end is not None:
        if start is None or end is None or start > end:
            raise invalid("give startTime and endTime together, startTime not after endTime")
        found = await _between(call, m, start, end)
    else:
        found = _recent(call, m, 1000 if from_id is not None else limit)
    return [agg_trade_json(t, m) for t in found if from_id is None or t.id >= from_id][:limit]


async def _between(call: Call, m: Market, start: int, end: int) -> list[TradeRecord]:
    """Trades in [start, end], oldest first: from memory when it reaches back to ``start`` or
    holds every trade (fewer than it keeps), as the SQLite history trails by up to 100 ms;
    else from the history."""
    keeps = market_data(call.app).trades_kept
    kept = _recent(call, m, keeps)
    if len(kept) < keeps or kept[0].timestamp <= start:
        return [t for t in kept if start <= t.timestamp <= end]
    return [record(t) for t in await call.app[READS].trades_between(m.symbol, start, end)]


@endpoint(2)
async def klines(call: Call) -> list[list[Any]]:
    p = call.params.only(("symbol", "interval", "startTime", "endTime", "limit", "timeZone"))
    m = call.symbols.market(p.need("symbol"))
    interval = p.need("interval")
    if interval not in INTERVALS:
        raise invalid(f"interval must be one of {' '.join(INTERVALS)}", BN_INTERVAL)
    if p.get("timeZone") not in (None, "0", "+00:00", "0:00"):
        raise not_valid("timeZone")
    start, end = p.integer("startTime", None, 0, 2**53), p.integer("endTime", None, 0, 2**53)
    if start is not None and end is not None and start > end:
        raise invalid("startTime must not be after endTime")
    candles = await load_klines(call.app, m, interval, start, end, p.integer("limit", 500, 1, 1000) or 500)
    price, qty, quote = m.price.format, m.qty.format, m.quote.format
    return [
        [k.start, price(k.open), price(k.high), price(k.low), price(k.close), qty(k.volume), k.end,
         quote(k.quote_volume), k.trades, qty(0), quote(0), "0"]
        for k in candles
    ]  # fmt: skip


@endpoint(2)
async def avg_price(call: Call) -> Json:
    """The volume-weighted price of the last 5 minutes' trades (the last price if none)."""
    p = call.params.only(("symbol",))
    m = call.symbols.market(p.need("symbol"))
    md, now = market_data(call.app), now_ms()
    candles = md.klines(m.symbol, "1m", now - 5 * MINUTE, None, 5)
    volume, quote = sum(k.volume for k in candles), sum(k.quote_volume for k in candles)
    last = md.trades(m.symbol, 1)
    price = info.weighted_avg(m, quote, volume) if volume else m.price.format(last[0].price if last else 0)
    return {"mins": 5, "price": price, "closeTime": last[0].timestamp if last else 0}


def _ticker(call: Call, m: Market, now: int, full: bool) -> Json:
    md = market_data(call.app)
    name, t = call.symbols.compact(m.symbol), md.ticker(m.symbol, now)
    body = info.window_json(name, m, t, now)
    if full:
        last = md.trades(m.symbol, 1)
        body |= info.book_json(name, m, *md.best(m.symbol)) | {
            "prevClosePrice": body["openPrice"],
            "lastQty": m.qty.format(last[0].quantity if last else 0),
        }
    return body


def _one_or_all(call: Call, answers: list[Json]) -> Json | list[Json]:
    return answers[0] if call.params.has("symbol") else answers


def _ticker_weight(p: Params) -> int:
    return 2 if p.has("symbol") else 80


@endpoint(_ticker_weight)
async def ticker_24hr(call: Call) -> Json | list[Json]:
    p = call.params.only(("symbol", "symbols", "type"))
    kind = p.choice("type", ("FULL", "MINI"), BN_INVALID_DATA, "FULL")
    now = now_ms()
    return _one_or_all(call, [_ticker(call, m, now, kind == "FULL") for m in _markets(call)])


@endpoint(4)
async def ticker_window(call: Call) -> Json | list[Json]:
    """The rolling-window ticker; only the 24 h window (``windowSize=1d``) is kept here."""
    p = call.params.only(("symbol", "symbols", "type", "windowSize"))
    p.choice("windowSize", ("1d", "24h"), BN_INVALID_DATA)
    p.choice("type", ("FULL", "MINI"), BN_INVALID_DATA)
    if not p.has("symbol") and not p.has("symbols"):
        raise invalid("Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.")
    now = now_ms()
    return _one_or_all(call, [_ticker(call, m, now, False) for m in _markets(call)])


@endpoint(_ticker_weight)
async def ticker_price(call: Call) -> Json | list[Json]:
    call.params.only(("symbol", "symbols"))
    md = market_data(call.app)
    answers = []
    for m in _markets(call):
        last = md.trades(m.symbol, 1)
        answers.append(
            {"symbol": call.symbols.compact(m.symbol), "price": m.price.format(last[0].price if last else 0)}
        )
    return _one_or_all(call, answers)


@endpoint(_ticker_weight)
async def book_ticker(call: Call) -> Json | list[Json]:
    call.params.only(("symbol", "symbols"))
    md = market_data(call.app)
    return _one_or_all(call, [info.book_json(call.symbols.compact(m.symbol), m, *md.best(m.symbol))
                              for m in _markets(call)])  # fmt: skip
