"""Engine events -> WebSocket stream frames, each encoded once and handed to the hub.

Streams (docs/API.md): ``depth@S`` (one diff per command that touched the book, ``U == u`` = the
market-data update id), ``depth@S@100ms`` (the same diffs merged and flushed every 100 ms,
``U`` the first id merged, ``u`` the last), ``trade@S``, ``ticker@S`` and ``kline.<i>@S`` (after
a command that traded), ``bookTicker@S`` (when the best bid or ask changes), and per user
``orders`` and ``balances``. Work is skipped for topics nobody subscribes to, except the
100 ms merge, which is cheap and keeps late subscribers consistent.

It runs as a bus listener after ``MarketData.apply``, so update ids and candles are current.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol, cast

import orjson

from exchange.config import Venue
from exchange.domain.events import (
    ORDER_EVENTS,
    BalanceChanged,
    BookChanged,
    Event,
    OrderEvent,
    OrderFilled,
    TradeExecuted,
)
from exchange.domain.markets import Market
from exchange.service.marketdata import INTERVALS, Kline, MarketData
from exchange.web.wire import fill_json, levels_json, order_json, ticker_json
from exchange.web.ws.hub import Hub

#: Levels per side in a depthSnapshot: the whole book of any realistic market.
SNAPSHOT_LEVELS = 5000


def frame(stream: str, data: dict[str, Any]) -> bytes:
    return orjson.dumps({"stream": stream, "data": data})


class Renderer(Protocol):
    """Another face's streams (the Binance face), fed the same events by this feed and flushed
    with it, publishing to the same hub: one market data, one fan-out."""

    def apply(self, events: Sequence[Event]) -> None: ...

    def flush(self) -> None: ...


class DepthMerge:
    """Depth diffs of one market waiting for the next 100 ms flush."""

    __slots__ = ("first", "last", "bids", "asks", "ts")

    def __init__(self, first: int) -> None:
        self.first = first
        self.last = first
        self.bids: dict[int, int] = {}
        self.asks: dict[int, int] = {}
        self.ts = 0

    @staticmethod
    def add(merges: dict[str, DepthMerge], e: BookChanged, uid: int) -> None:
        """Merge diff ``e`` (update id ``uid``) into its market's window, opening it if needed."""
        merge = merges.get(e.symbol)
        if merge is None:
            merge = merges[e.symbol] = DepthMerge(uid)
        merge.last, merge.ts = uid, e.ts
        merge.bids.update(e.bids)
        merge.asks.update(e.asks)


def candles_to_send(
    md: MarketData, sent: dict[tuple[str, str], int], symbol: str, interval: str
) -> list[tuple[Kline, bool]]:
    """After a trade: the current candle (not closed), preceded, when the trade opened a new
    one, by the previous candle once more as closed. ``sent`` remembers each series' last start."""
    candles = md.klines(symbol, interval, None, None, 2)
    previous = sent.get((symbol, interval))
    sent[(symbol, interval)] = candles[-1].start
    out = [(k, False) for k in candles[-1:]]
    if len(candles) == 2 and candles[0].start == previous:
        out.insert(0, (candles[0], True))
    return out


class Feed:
    def __init__(
        self,
        venue: Venue,
        marketdata: MarketData,
        hub: Hub,
        clock: Callable[[], int],
        renderers: Sequence[Renderer] = (),
    ) -> None:
        self.venue, self.md, self.hub, self.clock, self.renderers = venue, marketdata, hub, clock, renderers
        self._merges: dict[str, DepthMerge] = {}
        self._best: dict[str, tuple[Any, Any]] = {}
        self._candle: dict[tuple[str, str], int] = {}

    def apply(self, events: Sequence[Event]) -> None:
        # type() identity, not isinstance chains: this runs for every event of every command
        # (event classes are final), and mostly finds nobody to tell.
        traded: set[str] = set()
        watching, private = self.hub.watching, self.hub.private_topics
        for e in events:
            kind = type(e)
            if kind is BookChanged:
                self._on_book(cast(BookChanged, e))
            elif kind is BalanceChanged:
                if private:
                    self._balance(cast(BalanceChanged, e))
            elif kind in ORDER_EVENTS:
                if private:
                    self._order(cast(OrderEvent, e))
            elif kind is TradeExecuted:
                trade = cast(TradeExecuted, e)
                if watching(trade.symbol):
                    traded.add(trade.symbol)
                    self._trade(trade)
        for symbol in traded:
            self._after_trades(symbol, events[-1].ts)
        self._render(events)
        self.hub.flush()

    def _render(self, events: Sequence[Event]) -> None:
        """The other faces' streams, from the same events, before the one flush."""
        for renderer in self.renderers:
            renderer.apply(events)

    def _on_book(self, e: BookChanged) -> None:
        if self.hub.watching(e.symbol):
            self._book(e)
        else:  # nobody to tell; a new subscriber starts from a snapshot anyway
            self._merges.pop(e.symbol, None)
            self._best.pop(e.symbol, None)

    # -- market streams --------------------------------------------------------------------
    def _book(self, e: BookChanged) -> None:
        m, uid = self.venue.markets[e.symbol], self.md.last_update_id(e.symbol)
        topic = f"depth@{e.symbol}"
        if self.hub.has(topic):
            data = {"e": "depth", "E": e.ts, "s": e.symbol, "U": uid, "u": uid,
                    "b": levels_json(e.bids, m), "a": levels_json(e.asks, m)}  # fmt: skip
            self.hub.publish(topic, frame(topic, data))
        DepthMerge.add(self._merges, e, uid)
        self._book_ticker(e.symbol, m, uid, e.ts)

    def _book_ticker(self, symbol: str, m: Market, uid: int, ts: int) -> None:
        best = self.md.best(symbol)
        if self._best.get(symbol) == best:
            return
        self._best[symbol] = best
        topic = f"bookTicker@{symbol}"
        if self.hub.has(topic):
            self.hub.publish(topic, frame(topic, self.book_ticker(symbol, m, uid, ts)))

    def book_ticker(self, symbol: str, m: Market, uid: int, ts: int) -> dict[str, Any]:
        bid, ask = self.md.best(symbol)
        return {
            "e": "bookTicker", "E": ts, "s": symbol, "u": uid,
            "b": m.price.format(bid[0]) if bid else None, "B": m.qty.format(bid[1]) if bid else None,
            "a": m.price.format(ask[0]) if ask else None, "A": m.qty.format(ask[1]) if ask else None,
        }  # fmt: skip

    def _trade(self, e: TradeExecuted) -> None:
        topic = f"trade@{e.symbol}"
        if self.hub.has(topic):
            m = self.venue.markets[e.symbol]
            data = {"e": "trade", "E": e.ts, "s": e.symbol, "t": e.trade_id, "p": m.price.format(e.price),
                    "q": m.qty.format(e.quantity), "m": e.is_buyer_maker, "T": e.ts}  # fmt: skip
            self.hub.publish(topic, frame(topic, data))

    def _after_trades(self, symbol: str, ts: int) -> None:
        m = self.venue.markets[symbol]
        topic = f"ticker@{symbol}"
        if self.hub.has(topic):
            data = {"e": "ticker", "E": ts, "s": symbol, **ticker_json(self.md.ticker(symbol, ts), m)}
            self.hub.publish(topic, frame(topic, data))
        for interval in INTERVALS:
            topic = f"kline.{interval}@{symbol}"
            if self.hub.has(topic):
                self._kline(topic, symbol, interval, m, ts)

    def _kline(self, topic: str, symbol: str, interval: str, m: Market, ts: int) -> None:
        for k, closed in candles_to_send(self.md, self._candle, symbol, interval):
            price = m.price.format
            data = {"e": "kline", "E": ts, "s": symbol, "k": {
                "t": k.start, "T": k.end, "i": interval, "o": price(k.open), "h": price(k.high),
                "l": price(k.low), "c": price(k.close), "v": m.qty.format(k.volume),
                "q": m.quote.format(k.quote_volume), "n": k.trades, "x": closed}}  # fmt: skip
            self.hub.publish(topic, frame(topic, data))

    def flush(self) -> None:
        """Publish the merged 100 ms diffs (called by a timer every 100 ms)."""
        merges, self._merges = self._merges, {}
        for symbol, merge in merges.items():
            topic = f"depth@{symbol}@100ms"
            if not self.hub.has(topic):
                continue
            m = self.venue.markets[symbol]
            data = {"e": "depth", "E": merge.ts, "s": symbol, "U": merge.first, "u": merge.last,
                    "b": levels_json(sorted(merge.bids.items(), reverse=True), m),
                    "a": levels_json(sorted(merge.asks.items()), m)}  # fmt: skip
            self.hub.publish(topic, frame(topic, data))
        for renderer in self.renderers:
            renderer.flush()
        self.hub.flush()

    def snapshot(self, symbol: str, stream: str) -> bytes:
        """The ``depthSnapshot`` a new ``depth`` subscriber gets first, in the same id space."""
        view, market = self.md.depth(symbol, SNAPSHOT_LEVELS), self.venue.markets[symbol]
        data = {"e": "depthSnapshot", "E": self.clock(), "s": symbol, "u": view.last_update_id,
                "b": levels_json(view.bids, market), "a": levels_json(view.asks, market)}  # fmt: skip
        return frame(stream, data)

    # -- private streams -------------------------------------------------------------------
    def _order(self, e: OrderEvent) -> None:
        state = e.order
        topic = f"orders:{state.user_id}"
        if not self.hub.has(topic):
            return
        m = self.venue.markets[state.symbol]
        fills = [fill_json(e, m, self.venue.assets)] if isinstance(e, OrderFilled) else []
        data = {"e": "order", "E": e.ts, **order_json(state, m, fills)}
        self.hub.publish(topic, frame("orders", data))

    def _balance(self, e: BalanceChanged) -> None:
        topic = f"balances:{e.user_id}"
        if self.hub.has(topic):
            asset = self.venue.assets[e.asset]
            data = {"e": "balance", "E": e.ts, "asset": e.asset, "available": asset.format(e.available),
                    "locked": asset.format(e.locked), "withdrawing": asset.format(e.withdrawing)}  # fmt: skip
            self.hub.publish(topic, frame("balances", data))
