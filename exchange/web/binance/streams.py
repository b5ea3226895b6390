"""Binance's market streams, rendered from the one feed's events onto the one hub.

``BinanceStreams`` is a renderer of web/ws/feed.py: the feed hands it every command's events
after MarketData applied them (so update ids and candles are current) and calls ``flush``
every 100 ms; it publishes to the same hub the native ``/ws`` uses, so slow readers are
evicted the same way and nothing here awaits a socket. What is sent and when:

- ``<s>@depth``: one ``depthUpdate`` per command that touched the book (``U == u``, the
  MarketData update id: REST depth's ``lastUpdateId`` space). Binance sends it each second;
  sooner is allowed by its local-book recipe, which holds either way.
- ``<s>@depth@100ms``: the diffs of each 100 ms merged (``U`` the first id, ``u`` the last).
- ``<s>@depth5/10/20`` (and ``@100ms``): the top levels every 100 ms in which the book changed.
- ``<s>@trade``, ``<s>@aggTrade`` (one trade each): per trade. ``<s>@ticker``,
  ``<s>@miniTicker``, ``<s>@kline_<i>``: after a command that traded (a kline's previous candle
  is sent once more as closed when a new one opens). ``<s>@bookTicker``: when the best bid or
  ask changes. ``!ticker@arr``, ``!miniTicker@arr``: every 100 ms, the markets that traded.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, cast

import orjson

from exchange.config import Venue, compact_symbol
from exchange.domain.events import BookChanged, Event, TradeExecuted
from exchange.domain.markets import Market
from exchange.service.marketdata import INTERVALS, MarketData
from exchange.web.binance import stream_frames as frames
from exchange.web.binance.stream_names import PARTIAL, Stream, topic_of
from exchange.web.ws.feed import DepthMerge, candles_to_send
from exchange.web.ws.hub import Hub

Json = dict[str, Any]


class BinanceStreams:
    def __init__(self, venue: Venue, marketdata: MarketData, hub: Hub, clock: Callable[[], int]) -> None:
        self.venue = venue
        self.md = marketdata
        self.hub = hub
        self.clock = clock
        self._merges: dict[str, DepthMerge] = {}
        self._best: dict[str, Any] = {}
        self._candle: dict[tuple[str, str], int] = {}
        self._traded: set[str] = set()  # since the last flush, for the all-market arrays

    # -- publishing ------------------------------------------------------------------------
    def wants(self, kind: str, symbol: str | None, fast: bool = False) -> bool:
        hub = self.hub
        return hub.has(topic_of(kind, symbol, fast, False)) or hub.has(topic_of(kind, symbol, fast, True))

    def publish(self, stream: Stream, data: Json | list[Json]) -> None:
        """Both frame forms, each encoded only if someone reads it."""
        for combined in (False, True):
            topic = topic_of(stream.kind, stream.symbol, stream.fast, combined)
            if self.hub.has(topic):
                self.hub.publish(topic, encode(stream.name, data, combined))

    def _send(self, kind: str, symbol: str | None, data: Json | list[Json], fast: bool = False) -> None:
        self.publish(Stream(stream_name(kind, symbol, fast), kind, symbol, fast), data)

    # -- events ----------------------------------------------------------------------------
    def apply(self, events: Sequence[Event]) -> None:
        traded: set[str] = set()
        for e in events:
            kind = type(e)
            if kind is BookChanged:
                self._on_book(cast(BookChanged, e))
            elif kind is TradeExecuted:
                trade = cast(TradeExecuted, e)
                self._traded.add(trade.symbol)
                if self.hub.watching(trade.symbol):
                    traded.add(trade.symbol)
                    self._trade(trade)
        for symbol in traded:
            self._after_trades(symbol, events[-1].ts)

    def _on_book(self, e: BookChanged) -> None:
        if not self.hub.watching(e.symbol):  # a new subscriber starts from REST depth anyway
            self._merges.pop(e.symbol, None)
            self._best.pop(e.symbol, None)
            return
        m, uid = self.venue.markets[e.symbol], self.md.last_update_id(e.symbol)
        if self.wants("depth", e.symbol):
            self._send("depth", e.symbol, frames.depth_update(e.symbol, m, e.ts, uid, uid, e.bids, e.asks))
        DepthMerge.add(self._merges, e, uid)
        best = self.md.best(e.symbol)
        if self._best.get(e.symbol) != best:
            self._best[e.symbol] = best
            if self.wants("bookTicker", e.symbol):
                self._send("bookTicker", e.symbol, frames.book_ticker(e.symbol, m, self.md))

    def _trade(self, e: TradeExecuted) -> None:
        m = self.venue.markets[e.symbol]
        if self.wants("trade", e.symbol):
            self._send("trade", e.symbol, frames.trade(e, m))
        if self.wants("aggTrade", e.symbol):
            self._send("aggTrade", e.symbol, frames.agg_trade(e, m))

    def _after_trades(self, symbol: str, ts: int) -> None:
        m = self.venue.markets[symbol]
        if self.wants("ticker", symbol):
            self._send("ticker", symbol, frames.ticker(symbol, m, self.md, ts))
        if self.wants("miniTicker", symbol):
            self._send("miniTicker", symbol, frames.mini_ticker(symbol, m, self.md, ts))
        for interval in INTERVALS:
            if self.wants(f"kline_{interval}", symbol):
                self._kline(symbol, interval, m, ts)

    def _kline(self, symbol: str, interval: str, m: Market, ts: int) -> None:
        for k, closed in candles_to_send(self.md, self._candle, symbol, interval):
            self._send(f"kline_{interval}", symbol, frames.kline(symbol, interval, k, m, ts, closed))

    # -- every 100 ms ----------------------------------------------------------------------
    def flush(self) -> None:
        merges, self._merges = self._merges, {}
        for symbol, merge in merges.items():
            m = self.venue.markets[symbol]
            if self.wants("depth", symbol, fast=True):
                bids, asks = sorted(merge.bids.items(), reverse=True), sorted(merge.asks.items())
                data = frames.depth_update(symbol, m, merge.ts, merge.first, merge.last, bids, asks)
                self._send("depth", symbol, data, fast=True)
            for kind in PARTIAL:
                for fast in (False, True):
                    if self.wants(kind, symbol, fast):
                        self._send(kind, symbol, self.partial(kind, symbol), fast)
        traded, self._traded = self._traded, set()
        if traded:
            self._arrays(sorted(traded))

    def _arrays(self, symbols: list[str]) -> None:
        ts, markets = self.clock(), self.venue.markets
        if self.wants("!ticker@arr", None):
            self._send("!ticker@arr", None, [frames.ticker(s, markets[s], self.md, ts) for s in symbols])
        if self.wants("!miniTicker@arr", None):
            data = [frames.mini_ticker(s, markets[s], self.md, ts) for s in symbols]
            self._send("!miniTicker@arr", None, data)

    # -- what a new subscriber gets at once ------------------------------------------------
    def partial(self, kind: str, symbol: str) -> Json:
        m = self.venue.markets[symbol]
        return frames.partial_depth(self.md.depth(symbol, PARTIAL[kind]), m)

    def current(self, stream: Stream) -> Json | None:
        """What a stream sends right after it is subscribed: the top levels for a partial depth,
        the best bid and ask for a bookTicker; None for the others."""
        if stream.symbol is None:
            return None
        if stream.kind in PARTIAL:
            return self.partial(stream.kind, stream.symbol)
        if stream.kind == "bookTicker":
            return frames.book_ticker(stream.symbol, self.venue.markets[stream.symbol], self.md)
        return None


def stream_name(kind: str, symbol: str | None, fast: bool) -> str:
    if symbol is None:
        return kind
    return f"{compact_symbol(symbol).lower()}@{kind}{'@100ms' if fast else ''}"


def encode(name: str, data: Json | list[Json], combined: bool) -> bytes:
    return orjson.dumps({"stream": name, "data": data} if combined else data)
