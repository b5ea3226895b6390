"""The events of Binance's market streams, built from MarketData and engine events.

Shapes as Binance's spot WebSocket Streams send them (docs/BINANCE.md lists what differs):
prices and quantities as decimal strings padded to the market's grid, ``s`` the compact
symbol (``SOLUSDC``), ``E`` the event time. Pure functions of what they are given.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from exchange.config import compact_symbol
from exchange.domain.events import TradeExecuted
from exchange.domain.markets import Market
from exchange.domain.units import format_scaled
from exchange.service.marketdata import DAY, DepthView, Kline, MarketData
from exchange.web.wire import levels_json

Json = dict[str, Any]


def depth_update(symbol: str, m: Market, ts: int, first: int, last: int, bids: list[tuple[int, int]],
                 asks: list[tuple[int, int]]) -> Json:  # fmt: skip
    return {"e": "depthUpdate", "E": ts, "s": compact_symbol(symbol), "U": first, "u": last,
            "b": levels_json(bids, m), "a": levels_json(asks, m)}  # fmt: skip


def partial_depth(view: DepthView, m: Market) -> Json:
    """``<s>@depth<n>``: the top levels and the update id they are as of (no ``e``, no ``s``)."""
    return {"lastUpdateId": view.last_update_id, "bids": levels_json(view.bids, m),
            "asks": levels_json(view.asks, m)}  # fmt: skip


def trade(e: TradeExecuted, m: Market) -> Json:
    return {"e": "trade", "E": e.ts, "s": compact_symbol(e.symbol), "t": e.trade_id,
            "p": m.price.format(e.price), "q": m.qty.format(e.quantity), "T": e.ts,
            "m": e.is_buyer_maker, "M": True}  # fmt: skip


def agg_trade(e: TradeExecuted, m: Market) -> Json:
    """One trade per aggregate: ``a``, ``f`` and ``l`` are all the trade id."""
    return {"e": "aggTrade", "E": e.ts, "s": compact_symbol(e.symbol), "a": e.trade_id,
            "p": m.price.format(e.price), "q": m.qty.format(e.quantity), "f": e.trade_id,
            "l": e.trade_id, "T": e.ts, "m": e.is_buyer_maker, "M": True}  # fmt: skip


def kline(symbol: str, interval: str, k: Kline, m: Market, ts: int, closed: bool) -> Json:
    """``f``/``L`` (first and last trade id of the candle) are -1 and the taker-buy volumes
    ``V``/``Q`` are zero, as in REST klines: candles do not keep them."""
    price = m.price.format
    return {"e": "kline", "E": ts, "s": compact_symbol(symbol), "k": {
        "t": k.start, "T": k.end, "s": compact_symbol(symbol), "i": interval, "f": -1, "L": -1,
        "o": price(k.open), "c": price(k.close), "h": price(k.high), "l": price(k.low),
        "v": m.qty.format(k.volume), "n": k.trades, "x": closed, "q": m.quote.format(k.quote_volume),
        "V": m.qty.format(0), "Q": m.quote.format(0), "B": "0"}}  # fmt: skip


def book_ticker(symbol: str, m: Market, md: MarketData) -> Json:
    """No ``e``/``E``, as Binance's; an empty side is zeros."""
    bid, ask = md.best(symbol)
    return {"u": md.last_update_id(symbol), "s": compact_symbol(symbol), **_best(bid, ask, m)}


def _best(bid: tuple[int, int] | None, ask: tuple[int, int] | None, m: Market) -> Json:
    price, qty = m.price.format, m.qty.format
    return {"b": price(bid[0]) if bid else price(0), "B": qty(bid[1]) if bid else qty(0),
            "a": price(ask[0]) if ask else price(0), "A": qty(ask[1]) if ask else qty(0)}  # fmt: skip


def mini_ticker(symbol: str, m: Market, md: MarketData, ts: int) -> Json:
    t, price = md.ticker(symbol, ts), m.price.format
    return {"e": "24hrMiniTicker", "E": ts, "s": compact_symbol(symbol), "c": price(t.last_price or 0),
            "o": price(t.open or 0), "h": price(t.high or 0), "l": price(t.low or 0),
            "v": m.qty.format(t.volume), "q": m.quote.format(t.quote_volume)}  # fmt: skip


def ticker(symbol: str, m: Market, md: MarketData, ts: int) -> Json:
    """24 h rolling (one-minute granularity, docs/API.md). ``x`` (the price before the window)
    is the window's open; ``F`` is -1: trade ids are shared by every market."""
    t, price = md.ticker(symbol, ts), m.price.format
    last = md.trades(symbol, 1)
    bid, ask = md.best(symbol)
    return {
        "e": "24hrTicker", "E": ts, "s": compact_symbol(symbol), "p": price(t.price_change or 0),
        "P": format_scaled(t.price_change_bp or 0, 2), "w": _weighted(t.volume, t.quote_volume, m),
        "x": price(t.open or 0), "c": price(t.last_price or 0),
        "Q": m.qty.format(last[0].quantity) if last else m.qty.format(0), **_best(bid, ask, m),
        "o": price(t.open or 0), "h": price(t.high or 0), "l": price(t.low or 0),
        "v": m.qty.format(t.volume), "q": m.quote.format(t.quote_volume), "O": ts - DAY, "C": ts,
        "F": -1, "L": last[0].id if last else -1, "n": t.trades,
    }  # fmt: skip


def _weighted(volume: int, quote_volume: int, m: Market) -> str:
    """Quote volume / volume, on the price grid's decimals (text arithmetic, no float)."""
    if not volume:
        return m.price.format(0)
    exact = Decimal(m.quote.format(quote_volume)) / Decimal(m.qty.format(volume))
    return str(exact.quantize(Decimal(1).scaleb(-m.price.decimals)))
