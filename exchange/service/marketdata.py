"""Market data: a projection of engine events into depth, trade tape, klines and 24 h tickers.

Fed only by engine events (``apply(events)``, one command's events in order); pure Python,
synchronous, no clock and no I/O: queries that depend on time take ``now_ms``. Every amount
stays an integer as in the events: prices in ticks, quantities in steps, quote amounts in the
quote asset's atomic units. Formatting to decimal text is the API layer's job.

Layout, per symbol (``_Symbol``):
- ``bids`` / ``asks``: SortedDict mirror of the book, price level -> total remaining quantity,
  keyed ``-price`` for bids and ``price`` for asks so iteration is best first. Fed by
  ``BookChanged`` (each level's NEW total; 0 removes it).
- ``update_id``: the number of ``BookChanged`` events applied for the symbol; 0 for the empty
  book, so ids are contiguous (a depth stream checks ``U == previous u + 1``).
- ``trades``: deque of ``TradeRecord``, oldest left, newest right.
- ``klines[interval]``: deque of ``Candle``, ascending by start, one per interval that traded.
- ``buckets``: deque of one-minute ``Candle``s for the rolling 24 h ticker.
- ``last_price``: price of the last trade ever (kept even when older than 24 h).

Invariants (``check_integrity``):
- no level with quantity <= 0; the mirror is not crossed (best bid < best ask);
- candles and buckets strictly ascending by start, each start aligned to its interval;
- trade and candle time never goes backwards: a trade stamped earlier than one already seen
  (wall clock stepped back) is counted at the latest time seen, so deques stay sorted.

Candle alignment: ``start = ts - (ts - MONDAY) % interval`` with ``MONDAY`` = 1970-01-05
00:00 UTC (the epoch was a Thursday). For every interval up to a day this equals flooring
to the interval (4 days is a multiple of it); weekly candles start on Monday 00:00 UTC.
``end = start + interval - 1``. Intervals without trades have no candle.

Ticker: rolling 24 h ending at ``now``, with one-minute granularity: it aggregates the
one-minute buckets whose start is > ``now - 24 h``. So a trade older than 24 h never counts,
and trades of the minute that straddles ``now - 24 h`` are already left out (the window is
24 h minus up to 59.999 s). ``open`` is the first price in the window;
``price_change = last_price - open`` (ticks, may be negative); the exact percent is
``100 * price_change / open``, also given rounded half away from zero in basis points
(``price_change_bp``, i.e. hundredths of a percent, ready for a 2-decimal percent string).

Memory bound:
- book mirror: one entry per non-empty price level, the same count as the engine's book;
- trades: at most ``trades_kept`` per symbol (deque maxlen);
- klines: at most ``klines_kept`` per (symbol, interval) (deque maxlen, oldest dropped);
- buckets: at most 1440 per symbol (older than 24 h dropped on apply and on query; maxlen too).

Complexity: a ``BookChanged`` with k levels costs O(k log n); a trade O(intervals) = O(7);
``depth`` O(limit); ``trades`` O(limit); ``klines`` O(skipped newer candles + limit);
``ticker`` O(buckets) <= O(1440); ``snapshot``/``restore`` linear in what is kept.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from itertools import islice
from typing import Final

import msgspec
from sortedcontainers import SortedDict

from exchange.domain.events import BookChanged, Event, TradeExecuted
from exchange.domain.markets import Market

MINUTE: Final = 60_000
DAY: Final = 1440 * MINUTE
MONDAY: Final = 4 * DAY  # 1970-01-05 00:00 UTC, the first Monday after the epoch
INTERVALS: Final[dict[str, int]] = {
    "1m": MINUTE,
    "5m": 5 * MINUTE,
    "15m": 15 * MINUTE,
    "1h": 60 * MINUTE,
    "4h": 240 * MINUTE,
    "1d": DAY,
    "1w": 7 * DAY,
}
BUCKETS_KEPT: Final = DAY // MINUTE


def candle_start(ts: int, interval_ms: int) -> int:
    """Start of the candle of ``interval_ms`` holding ``ts``; weeks start Monday 00:00 UTC."""
    return ts - (ts - MONDAY) % interval_ms


class DepthView(msgspec.Struct, frozen=True):
    """Aggregated levels best first as (price ticks, total qty steps); ``timestamp`` is the
    time of the last book change (0 if the book never changed)."""

    symbol: str
    last_update_id: int
    bids: list[tuple[int, int]]
    asks: list[tuple[int, int]]
    timestamp: int


class TradeRecord(msgspec.Struct, frozen=True, array_like=True):
    id: int
    price: int
    quantity: int
    quote_quantity: int
    timestamp: int
    is_buyer_maker: bool


class Kline(msgspec.Struct, frozen=True):
    """A closed or open candle; ``volume`` in qty steps, ``quote_volume`` in quote atomic units."""

    start: int
    end: int
    open: int
    high: int
    low: int
    close: int
    volume: int
    quote_volume: int
    trades: int


class Ticker(msgspec.Struct, frozen=True):
    """Rolling 24 h (one-minute granularity). Window fields are None / 0 without trades in it;
    ``priceChangePercent`` = ``100 * price_change / open`` exactly, or ``price_change_bp / 100``
    rounded half away from zero."""

    symbol: str
    last_price: int | None
    open: int | None
    high: int | None
    low: int | None
    volume: int
    quote_volume: int
    trades: int
    best_bid: int | None
    best_ask: int | None
    price_change: int | None
    price_change_bp: int | None


class Candle(msgspec.Struct, array_like=True, gc=False):
    """Mutable accumulator behind klines and ticker buckets (never handed out)."""

    start: int
    open: int
    high: int
    low: int
    close: int
    volume: int
    quote_volume: int
    trades: int

    def add(self, price: int, qty: int, quote: int) -> None:
        if price > self.high:
            self.high = price
        elif price < self.low:
            self.low = price
        self.close = price
        self.volume += qty
        self.quote_volume += quote
        self.trades += 1

    def kline(self, interval_ms: int) -> Kline:
        return Kline(
            self.start, self.start + interval_ms - 1, self.open, self.high, self.low, self.close,
            self.volume, self.quote_volume, self.trades,
        )  # fmt: skip


class SymbolSnapshot(msgspec.Struct, frozen=True):
    update_id: int
    book_ts: int
    bids: list[tuple[int, int]]  # best first
    asks: list[tuple[int, int]]
    trades: list[TradeRecord]  # oldest first
    klines: dict[str, list[Candle]]  # ascending
    buckets: list[Candle]
    last_price: int | None
    last_ts: int


class MarketDataSnapshot(msgspec.Struct, frozen=True):
    """Everything ``restore`` needs; ``last_seq`` is the last engine sequence applied."""

    last_seq: int
    symbols: dict[str, SymbolSnapshot]


class _Symbol:
    __slots__ = (
        "bids", "asks", "update_id", "book_ts", "trades", "klines", "buckets", "last_price", "last_ts",
    )  # fmt: skip

    def __init__(self, trades_kept: int, klines_kept: int) -> None:
        self.bids: SortedDict = SortedDict()  # -price -> total
        self.asks: SortedDict = SortedDict()  # price -> total
        self.update_id = 0
        self.book_ts = 0
        self.trades: deque[TradeRecord] = deque(maxlen=trades_kept)
        self.klines: dict[str, deque[Candle]] = {i: deque(maxlen=klines_kept) for i in INTERVALS}
        self.buckets: deque[Candle] = deque(maxlen=BUCKETS_KEPT)
        self.last_price: int | None = None
        self.last_ts = 0

    def best_bid(self) -> tuple[int, int] | None:
        if not self.bids:
            return None
        key, qty = self.bids.peekitem(0)
        return -key, qty

    def best_ask(self) -> tuple[int, int] | None:
        return self.asks.peekitem(0) if self.asks else None

    def prune(self, now_ms: int) -> None:
        """Drop ticker buckets that start at or before ``now_ms - 24 h``."""
        buckets, horizon = self.buckets, now_ms - DAY
        while buckets and buckets[0].start <= horizon:
            buckets.popleft()


class MarketData:
    """Depth mirror, trade tape, klines and 24 h tickers; see the module docstring."""

    def __init__(self, markets: Mapping[str, Market], *, trades_kept: int = 1000, klines_kept: int = 1500):
        if trades_kept < 1 or klines_kept < 1:
            raise ValueError("trades_kept and klines_kept must be at least 1")
        self.trades_kept = trades_kept
        self.klines_kept = klines_kept
        self.last_seq = 0
        self._symbols = {s: _Symbol(trades_kept, klines_kept) for s in sorted(markets)}

    # -- feeding ---------------------------------------------------------------------------
    def apply(self, events: Sequence[Event]) -> None:
        """Apply one engine command's events, in order; other event kinds are ignored."""
        # type() identity, not match/isinstance: this runs for every event, replay included
        # (about 3 million at a restart from 1M commands), and event classes are final.
        for event in events:
            kind = type(event)
            if kind is BookChanged:
                self._on_book(event)  # type: ignore[arg-type]
            elif kind is TradeExecuted:
                self._on_trade(event)  # type: ignore[arg-type]
        if events:
            self.last_seq = events[-1].seq

    def _on_book(self, e: BookChanged) -> None:
        sym = self._symbols[e.symbol]
        bids, asks = sym.bids, sym.asks
        for price, qty in e.bids:
            if qty:
                bids[-price] = qty
            else:
                bids.pop(-price, None)
        for price, qty in e.asks:
            if qty:
                asks[price] = qty
            else:
                asks.pop(price, None)
        sym.update_id += 1
        sym.book_ts = e.ts

    def _on_trade(self, e: TradeExecuted) -> None:
        sym = self._symbols[e.symbol]
        ts = max(e.ts, sym.last_ts)  # never backwards: keeps every deque sorted by start
        sym.last_ts = ts
        sym.last_price = e.price
        sym.trades.append(
            TradeRecord(e.trade_id, e.price, e.quantity, e.quote_quantity, e.ts, e.is_buyer_maker)
        )
        for name, ms in INTERVALS.items():
            _add(sym.klines[name], candle_start(ts, ms), e)
        sym.prune(ts)
        _add(sym.buckets, candle_start(ts, MINUTE), e)

    # -- queries ---------------------------------------------------------------------------
    def depth(self, symbol: str, limit: int) -> DepthView:
        """Top ``limit`` levels per side, best first; KeyError for an unknown symbol."""
        sym = self._symbols[symbol]
        n = max(limit, 0)
        bids = [(-k, q) for k, q in islice(sym.bids.items(), n)]
        asks = list(islice(sym.asks.items(), n))
        return DepthView(symbol, sym.update_id, bids, asks, sym.book_ts)

    def last_update_id(self, symbol: str) -> int:
        return self._symbols[symbol].update_id

    def best(self, symbol: str) -> tuple[tuple[int, int] | None, tuple[int, int] | None]:
        """(best bid, best ask) as (price, qty) or None, for a bookTicker."""
        sym = self._symbols[symbol]
        return sym.best_bid(), sym.best_ask()

    def trades(self, symbol: str, limit: int) -> list[TradeRecord]:
        """The last ``limit`` trades, newest first."""
        return list(islice(reversed(self._symbols[symbol].trades), max(limit, 0)))

    def klines(
        self, symbol: str, interval: str, start: int | None, end: int | None, limit: int
    ) -> list[Kline]:
        """Candles whose start is in [start, end] (None = open), the last ``limit`` of them,
        ascending by start. KeyError for an unknown symbol or interval."""
        ms = INTERVALS[interval]
        out: list[Kline] = []
        if limit <= 0:
            return out
        for candle in reversed(self._symbols[symbol].klines[interval]):
            if end is not None and candle.start > end:
                continue
            if start is not None and candle.start < start:
                break
            out.append(candle.kline(ms))
            if len(out) == limit:
                break
        out.reverse()
        return out

    def oldest_candle(self, symbol: str, interval: str) -> int | None:
        """Start of the oldest candle still in memory for (symbol, interval), or None."""
        series = self._symbols[symbol].klines[interval]
        return series[0].start if series else None

    def ticker(self, symbol: str, now_ms: int) -> Ticker:
        """Rolling 24 h ending at ``now_ms``, one-minute granularity."""
        sym = self._symbols[symbol]
        sym.prune(now_ms)
        bid, ask = sym.best_bid(), sym.best_ask()
        best_bid = bid[0] if bid is not None else None
        best_ask = ask[0] if ask is not None else None
        buckets, last = sym.buckets, sym.last_price
        if not buckets or last is None:
            return Ticker(symbol, last, None, None, None, 0, 0, 0, best_bid, best_ask, None, None)
        open_ = buckets[0].open
        high, low, volume, quote_volume, trades = open_, open_, 0, 0, 0
        for b in buckets:
            high = max(high, b.high)
            low = min(low, b.low)
            volume += b.volume
            quote_volume += b.quote_volume
            trades += b.trades
        change = last - open_
        return Ticker(
            symbol, last, open_, high, low, volume, quote_volume, trades, best_bid, best_ask,
            change, _bp(change, open_),
        )  # fmt: skip

    def tickers(self, now_ms: int) -> list[Ticker]:
        """Every market's ticker, by symbol."""
        return [self.ticker(s, now_ms) for s in self._symbols]

    # -- snapshot --------------------------------------------------------------------------
    def snapshot(self) -> MarketDataSnapshot:
        """An independent copy of the whole state; encodes deterministically."""
        return MarketDataSnapshot(self.last_seq, {s: _snap(sym) for s, sym in self._symbols.items()})

    def restore(self, snap: MarketDataSnapshot) -> None:
        """Replace the state with ``snap`` (bounds of this instance apply: the newest are kept)."""
        unknown = set(snap.symbols) - set(self._symbols)
        if unknown:
            raise ValueError(f"snapshot has unknown markets: {sorted(unknown)}")
        for s in self._symbols:
            sym = _Symbol(self.trades_kept, self.klines_kept)
            if s in snap.symbols:
                _load(sym, snap.symbols[s])
            self._symbols[s] = sym
        self.last_seq = snap.last_seq

    def check_integrity(self) -> None:
        """Raise AssertionError if an invariant of the module docstring does not hold."""
        for s, sym in self._symbols.items():
            assert all(q > 0 for q in sym.bids.values()), f"{s}: empty bid level"
            assert all(q > 0 for q in sym.asks.values()), f"{s}: empty ask level"
            bid, ask = sym.best_bid(), sym.best_ask()
            assert bid is None or ask is None or bid[0] < ask[0], f"{s}: mirror crossed"
            for name, ms in INTERVALS.items():
                _check_series(sym.klines[name], ms, f"{s} {name}")
            _check_series(sym.buckets, MINUTE, f"{s} buckets")


def _add(series: deque[Candle], start: int, e: TradeExecuted) -> None:
    """Add trade ``e`` to the candle starting at ``start``, opening it if needed."""
    if series and series[-1].start == start:
        series[-1].add(e.price, e.quantity, e.quote_quantity)
    else:
        series.append(Candle(start, e.price, e.price, e.price, e.price, e.quantity, e.quote_quantity, 1))


def _bp(change: int, open_: int) -> int:
    """``10000 * change / open_`` rounded half away from zero (open_ > 0)."""
    q = (2 * 10_000 * abs(change) + open_) // (2 * open_)
    return q if change >= 0 else -q


def _check_series(series: deque[Candle], ms: int, label: str) -> None:
    prev = None
    for c in series:
        assert candle_start(c.start, ms) == c.start, f"{label}: misaligned candle {c.start}"
        assert prev is None or c.start > prev, f"{label}: candles out of order"
        assert c.low <= min(c.open, c.close) and c.high >= max(c.open, c.close), f"{label}: bad range"
        prev = c.start


def _snap(sym: _Symbol) -> SymbolSnapshot:
    copy = msgspec.structs.replace
    return SymbolSnapshot(
        update_id=sym.update_id,
        book_ts=sym.book_ts,
        bids=[(-k, q) for k, q in sym.bids.items()],
        asks=list(sym.asks.items()),
        trades=list(sym.trades),
        klines={name: [copy(c) for c in series] for name, series in sym.klines.items() if series},
        buckets=[copy(c) for c in sym.buckets],
        last_price=sym.last_price,
        last_ts=sym.last_ts,
    )


def _load(sym: _Symbol, snap: SymbolSnapshot) -> None:
    copy = msgspec.structs.replace
    sym.update_id, sym.book_ts = snap.update_id, snap.book_ts
    sym.bids.update((-p, q) for p, q in snap.bids)
    sym.asks.update(snap.asks)
    sym.trades.extend(snap.trades)
    for name, candles in snap.klines.items():
        sym.klines[name].extend(copy(c) for c in candles)
    sym.buckets.extend(copy(c) for c in snap.buckets)
    sym.last_price, sym.last_ts = snap.last_price, snap.last_ts


def klines_from_trades(trades: Sequence[TradeExecuted], interval: str) -> list[Kline]:
    """Candles built from trades (oldest first), as ``apply`` would have built them: for ranges
    older than what memory keeps, from the SQLite history."""
    ms = INTERVALS[interval]
    candles: list[Candle] = []
    for t in trades:
        start = candle_start(t.ts, ms)
        if not candles or candles[-1].start != start:
            candles.append(Candle(start, t.price, t.price, t.price, t.price, 0, 0, 0))
        candles[-1].add(t.price, t.quantity, t.quote_quantity)
    return [c.kline(ms) for c in candles]
