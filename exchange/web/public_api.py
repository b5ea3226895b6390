"""Public REST: markets, assets, depth, trades, klines, tickers, time; all from projections."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from exchange.clock import now_ms
from exchange.domain.events import TradeExecuted
from exchange.domain.markets import Market
from exchange.limits import limits_json
from exchange.service.marketdata import INTERVALS, Kline, TradeRecord, candle_start, klines_from_trades
from exchange.web import queries
from exchange.web.common import json_response, market_data, query_market
from exchange.web.keys import READS, SETTINGS, VENUE
from exchange.web.wire import levels_json, market_json, ticker_json, trade_json


async def markets(request: web.Request) -> web.Response:
    return json_response([market_json(m) for m in request.app[VENUE].markets.values()])


async def assets(request: web.Request) -> web.Response:
    return json_response(
        [{"asset": a.name, "decimals": a.decimals} for a in request.app[VENUE].assets.values()]
    )


async def limits(request: web.Request) -> web.Response:
    """Every limit of this server (exchange/limits.py) and the onramp cap per asset."""
    limits = request.app[SETTINGS].limits
    return json_response({"limits": limits_json(limits), "onrampLimits": request.app[VENUE].onramp_caps()})


async def server_time(request: web.Request) -> web.Response:
    return json_response({"serverTime": now_ms()})


async def depth(request: web.Request) -> web.Response:
    q = queries.read(request, queries.DepthQuery)
    m = query_market(request.app, q)
    assert m is not None
    view = market_data(request.app).depth(m.symbol, q.limit)
    return json_response({
        "symbol": m.symbol,
        "lastUpdateId": view.last_update_id,
        "bids": levels_json(view.bids, m),
        "asks": levels_json(view.asks, m),
        "timestamp": view.timestamp,
    })  # fmt: skip


async def trades(request: web.Request) -> web.Response:
    q = queries.read(request, queries.TradesQuery)
    m = query_market(request.app, q)
    assert m is not None
    limit, start, end = q.limit, q.start_time, q.end_time
    if end is None:  # the newest 1,000 are in memory; older pages come from the SQLite history
        tape: list[Any] = market_data(request.app).trades(m.symbol, limit)
    else:
        tape = [record(t) for t in await request.app[READS].trades_before(m.symbol, limit, end)]
    # The newest ``limit`` up to endTime, then those not before startTime (as /fills does).
    return json_response([trade_json(t, m) for t in tape if start is None or t.timestamp >= start])


def record(t: TradeExecuted) -> TradeRecord:
    return TradeRecord(t.trade_id, t.price, t.quantity, t.quote_quantity, t.ts, t.is_buyer_maker)


async def klines(request: web.Request) -> web.Response:
    q = queries.read(request, queries.KlinesQuery)
    m = query_market(request.app, q)
    assert m is not None
    candles = await load_klines(request.app, m, q.interval, q.start_time, q.end_time, q.limit)
    return json_response([
        {
            "start": k.start, "end": k.end, "open": m.price.format(k.open), "high": m.price.format(k.high),
            "low": m.price.format(k.low), "close": m.price.format(k.close), "volume": m.qty.format(k.volume),
            "quoteVolume": m.quote.format(k.quote_volume), "trades": k.trades,
        }
        for k in candles
    ])  # fmt: skip


async def load_klines(
    app: web.Application, m: Market, interval: str, start: int | None, end: int | None, limit: int
) -> list[Kline]:
    """The candles whose start is in [start, end], the newest ``limit``, oldest first (both faces)."""
    md = market_data(app)
    candles = md.klines(m.symbol, interval, start, end, limit)
    oldest = md.oldest_candle(m.symbol, interval)
    if start is not None and (oldest is None or start < oldest) and len(candles) < limit:
        # Older than memory keeps: rebuild those candles from the trades in the SQLite history.
        until = min(end if end is not None else 2**53, (oldest if oldest is not None else 2**53)) - 1
        first = candle_start(start, INTERVALS[interval])  # include the candle start falls in
        older = await app[READS].trades_between(m.symbol, first, until)
        rebuilt = [k for k in klines_from_trades(older, interval) if k.start >= start]
        candles = (rebuilt + candles)[-limit:]
    return candles


async def tickers(request: web.Request) -> web.Response:
    md, venue, now = market_data(request.app), request.app[VENUE], now_ms()
    return json_response([ticker_json(t, venue.markets[t.symbol]) for t in md.tickers(now)])


async def ticker(request: web.Request) -> web.Response:
    m = query_market(request.app, queries.read(request, queries.MarketQuery))
    assert m is not None
    return json_response(ticker_json(market_data(request.app).ticker(m.symbol, now_ms()), m))
