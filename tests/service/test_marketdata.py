"""Market data projection driven by a real engine: depth mirror, tape, klines, tickers, snapshot."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime

import msgspec
import pytest

from exchange.config import load_venue
from exchange.domain.commands import (
    AmendOrder,
    AnyCommand,
    CancelOrder,
    Onramp,
    OrderType,
    PlaceOrder,
    Side,
    TimeInForce,
)
from exchange.domain.engine import Engine
from exchange.domain.events import BookChanged, Event, TradeExecuted
from exchange.service.marketdata import (
    DAY,
    INTERVALS,
    MINUTE,
    Kline,
    MarketData,
    MarketDataSnapshot,
    candle_start,
)

VENUE = load_venue()
SOL, BTC = "SOL_USDC", "BTC_USDC"
T0 = 1_704_067_200_000  # 2024-01-01 00:00 UTC, a Monday
USERS = (1, 2, 3, 4)


class Feed:
    """A real engine whose every command's events go to a MarketData; time is explicit."""

    def __init__(self, **kw: int) -> None:
        self.engine = Engine(VENUE.assets, VENUE.markets)
        self.md = MarketData(VENUE.markets, **kw)
        self.seq = 0
        self.now = T0
        self.book_changes: Counter[str] = Counter()
        self.trades: list[TradeExecuted] = []
        for user in USERS:
            for asset, amount in (("USDC", 10**15), ("SOL", 10**15), ("BTC", 10**12)):
                self.run(Onramp(user_id=user, asset=asset, amount=amount))

    def run(self, cmd: AnyCommand, at: int | None = None) -> list[Event]:
        self.seq += 1
        self.now = self.now if at is None else at
        events = self.engine.handle(msgspec.structs.replace(cmd, seq=self.seq, ts=self.now))
        self.md.apply(events)
        self.book_changes.update(e.symbol for e in events if isinstance(e, BookChanged))
        self.trades.extend(e for e in events if isinstance(e, TradeExecuted))
        return events

    def limit(self, user: int, side: str, price: int, qty: int, symbol: str = SOL, at: int | None = None,
              tif: TimeInForce = TimeInForce.GTC) -> list[Event]:  # fmt: skip
        cmd = PlaceOrder(user_id=user, symbol=symbol, side=Side(side), type=OrderType.LIMIT, price=price,
                         quantity=qty, time_in_force=tif)  # fmt: skip
        return self.run(cmd, at)

    def cross(self, price: int, qty: int, at: int, symbol: str = SOL, taker_side: str = "buy") -> None:
        """One trade of ``qty`` at ``price``: user 1 rests, user 2 takes."""
        maker_side = "sell" if taker_side == "buy" else "buy"
        self.limit(1, maker_side, price, qty, symbol, at)
        self.limit(2, taker_side, price, qty, symbol, at)


def _random_step(f: Feed, rng: random.Random) -> None:
    symbol, mid, qty_unit = rng.choice(((SOL, 10_000, 100), (BTC, 600_000, 100)))
    user = rng.choice(USERS)
    r = rng.random()
    f.now += rng.choice((0, 0, 1_000, 45_000, 7 * MINUTE, 3 * 3_600_000))
    open_orders = f.engine.open_orders(user, symbol)
    if r < 0.18 and open_orders:
        f.run(CancelOrder(user_id=user, symbol=symbol, order_id=rng.choice(open_orders).order_id))
    elif r < 0.25 and open_orders:
        o = rng.choice(open_orders)
        f.run(AmendOrder(user_id=user, symbol=symbol, order_id=o.order_id, price=mid + rng.randint(-30, 30)))
    else:
        side = rng.choice(("buy", "sell"))
        tif = rng.choice((TimeInForce.GTC, TimeInForce.GTC, TimeInForce.GTC, TimeInForce.IOC))
        price = mid + rng.randint(-30, 30)
        f.limit(user, side, price, qty_unit * rng.randint(1, 5), symbol, tif=tif)


def _expected_klines(trades: list[TradeExecuted], symbol: str, ms: int) -> list[Kline]:
    out: list[Kline] = []
    for t in (t for t in trades if t.symbol == symbol):
        start = candle_start(t.ts, ms)
        if out and out[-1].start == start:
            k = out[-1]
            high, low = max(k.high, t.price), min(k.low, t.price)
            out[-1] = Kline(start, k.end, k.open, high, low, t.price, k.volume + t.quantity,
                            k.quote_volume + t.quote_quantity, k.trades + 1)  # fmt: skip
        else:
            out.append(Kline(start, start + ms - 1, t.price, t.price, t.price, t.price, t.quantity,
                             t.quote_quantity, 1))  # fmt: skip
    return out


@pytest.fixture(scope="module")
def random_feed() -> Feed:
    f = Feed()
    rng = random.Random(20240101)
    for _ in range(600):
        _random_step(f, rng)
        for symbol in (SOL, BTC):
            view = f.md.depth(symbol, 10_000)
            assert (view.bids, view.asks) == f.engine.depth(symbol, 10_000)
            assert view.last_update_id == f.book_changes[symbol]
        f.md.check_integrity()
    assert len(f.trades) > 50
    return f


def test_random_place_cancel_mirror_equals_engine_depth(random_feed: Feed) -> None:
    for symbol in (SOL, BTC):
        for n in (0, 1, 3, 50):
            view = random_feed.md.depth(symbol, n)
            assert (view.bids, view.asks) == random_feed.engine.depth(symbol, n)
        assert random_feed.md.last_update_id(symbol) == random_feed.book_changes[symbol] > 0


def test_book_changed_events_update_ids_contiguous_from_zero() -> None:
    f = Feed()
    assert f.md.depth(SOL, 10).last_update_id == 0
    f.limit(1, "buy", 9_900, 100, at=T0 + 5)
    f.limit(1, "buy", 9_900, 200)
    view = f.md.depth(SOL, 10)
    assert (view.last_update_id, view.bids, view.asks, view.timestamp) == (2, [(9_900, 300)], [], T0 + 5)
    f.limit(1, "buy", 1, 1)  # rejected (below min notional): no BookChanged, no new id
    assert f.md.last_update_id(SOL) == 2
    f.limit(2, "sell", 9_900, 300)  # takes the whole level: level removed
    assert f.md.depth(SOL, 10).bids == []
    assert f.md.last_update_id(SOL) == 3 == f.book_changes[SOL]
    assert f.md.last_update_id(BTC) == 0


def test_resting_orders_ticker_best_bid_ask_from_mirror() -> None:
    f = Feed()
    f.limit(1, "buy", 9_900, 100)
    f.limit(1, "buy", 9_950, 100)
    f.limit(2, "sell", 10_100, 100)
    t = f.md.ticker(SOL, T0)
    assert (t.best_bid, t.best_ask, t.last_price, t.open, t.trades) == (9_950, 10_100, None, None, 0)
    assert f.md.best(SOL) == ((9_950, 100), (10_100, 100))


def test_more_trades_than_kept_tape_newest_first_and_bounded() -> None:
    f = Feed(trades_kept=5)
    for i in range(8):
        f.cross(10_000 + i, 100, T0 + i, taker_side="sell" if i % 2 else "buy")
    tape = f.md.trades(SOL, 100)
    assert [t.id for t in tape] == [t.trade_id for t in reversed(f.trades)][:5]
    assert [t.price for t in tape] == [10_007, 10_006, 10_005, 10_004, 10_003]
    assert [t.is_buyer_maker for t in tape] == [True, False, True, False, True]
    assert tape[0].quote_quantity == VENUE.markets[SOL].notional(10_007, 100)
    assert f.md.trades(SOL, 2) == tape[:2] and f.md.trades(BTC, 10) == []


@pytest.mark.parametrize("interval", list(INTERVALS))
def test_random_trades_klines_match_trades(random_feed: Feed, interval: str) -> None:
    ms = INTERVALS[interval]
    for symbol in (SOL, BTC):
        expected = _expected_klines(random_feed.trades, symbol, ms)
        assert expected
        assert random_feed.md.klines(symbol, interval, None, None, 100_000) == expected


def test_weekly_candle_starts_monday_utc() -> None:
    week = INTERVALS["1w"]
    wednesday_noon = T0 + 2 * DAY + 12 * 3_600_000
    assert candle_start(wednesday_noon, week) == T0
    assert candle_start(T0 - 1, week) == T0 - week
    assert datetime.fromtimestamp(candle_start(0, week) / 1000, UTC).strftime("%a %Y-%m-%d %H:%M") == (
        "Mon 1969-12-29 00:00"
    )
    f = Feed()
    f.cross(10_000, 100, wednesday_noon)
    f.cross(10_100, 100, T0 + 7 * DAY - 1)  # Sunday 23:59:59.999: same week
    f.cross(10_200, 100, T0 + 7 * DAY)  # next Monday
    k1, k2 = f.md.klines(SOL, "1w", None, None, 10)
    assert datetime.fromtimestamp(k1.start / 1000, UTC).weekday() == 0
    assert (k1.start, k1.end, k1.open, k1.close, k1.trades, k1.volume) == (
        T0,
        T0 + week - 1,
        10_000,
        10_100,
        2,
        200,
    )
    assert (k2.start, k2.open, k2.trades) == (T0 + week, 10_200, 1)
    day1, day2, day3 = f.md.klines(SOL, "1d", None, None, 10)
    assert (day1.start, day2.start, day3.start) == (T0 + 2 * DAY, T0 + 6 * DAY, T0 + 7 * DAY)


def test_klines_start_end_limit_last_candles_of_range() -> None:
    f = Feed()
    for i in range(6):  # one trade in each of minutes 0, 2, 4, 6, 8, 10
        f.cross(10_000 + i, 100, T0 + 2 * i * MINUTE + 30_000)
    starts = [k.start for k in f.md.klines(SOL, "1m", None, None, 100)]
    assert starts == [T0 + 2 * i * MINUTE for i in range(6)]  # minutes without trades omitted

    def query(start: int | None, end: int | None, limit: int) -> list[int]:
        return [(k.start - T0) // MINUTE for k in f.md.klines(SOL, "1m", start, end, limit)]

    assert query(None, None, 2) == [8, 10]
    assert query(T0 + 2 * MINUTE, T0 + 6 * MINUTE, 100) == [2, 4, 6]
    assert query(T0 + 2 * MINUTE, T0 + 6 * MINUTE, 2) == [4, 6]
    assert query(T0 + 3 * MINUTE, None, 100) == [4, 6, 8, 10]
    assert query(None, T0 + 5 * MINUTE, 100) == [0, 2, 4]
    assert query(T0 + 7 * MINUTE, T0 + 7 * MINUTE + 1, 100) == []
    assert query(None, None, 0) == []
    with pytest.raises(KeyError):
        f.md.klines(SOL, "2m", None, None, 10)


def test_more_candles_than_kept_oldest_dropped() -> None:
    f = Feed(klines_kept=3)
    for i in range(5):
        f.cross(10_000, 100, T0 + i * MINUTE)
    assert [k.start for k in f.md.klines(SOL, "1m", None, None, 100)] == [T0 + i * MINUTE for i in (2, 3, 4)]
    assert [k.trades for k in f.md.klines(SOL, "1h", None, None, 100)] == [5]


def test_trades_older_than_24h_fall_out_of_ticker_last_price_kept() -> None:
    f = Feed()
    f.cross(10_000, 100, T0 + 10 * MINUTE)
    f.cross(12_000, 300, T0 + 25 * 3_600_000)
    f.cross(11_000, 200, T0 + 25 * 3_600_000 + 5 * MINUTE)
    t = f.md.ticker(SOL, T0 + 25 * 3_600_000 + 6 * MINUTE)
    notional = VENUE.markets[SOL].notional
    assert (t.last_price, t.open, t.high, t.low, t.trades, t.volume) == (
        11_000,
        12_000,
        12_000,
        11_000,
        2,
        500,
    )
    assert t.quote_volume == notional(12_000, 300) + notional(11_000, 200)
    assert (t.price_change, t.price_change_bp) == (-1_000, -833)  # -8.33 %
    later = f.md.ticker(SOL, T0 + 50 * 3_600_000)
    assert (later.last_price, later.open, later.high, later.low) == (11_000, None, None, None)
    assert (later.volume, later.quote_volume, later.trades, later.price_change) == (0, 0, 0, None)
    assert [t.symbol for t in f.md.tickers(T0)] == sorted(VENUE.markets)


def test_trade_at_window_edge_minute_granularity() -> None:
    f = Feed()
    f.cross(10_000, 100, T0)
    assert f.md.ticker(SOL, T0 + DAY - 1).trades == 1
    assert f.md.ticker(SOL, T0 + DAY).trades == 0


@pytest.mark.parametrize(("last", "bp"), [(40_002, 1), (39_998, -1), (40_001, 0), (40_400, 100)])
def test_price_change_bp_rounds_half_away_from_zero(last: int, bp: int) -> None:
    f = Feed()
    f.cross(40_000, 100, T0)
    f.cross(last, 100, T0 + 1)
    t = f.md.ticker(SOL, T0 + 2)
    assert (t.open, t.price_change, t.price_change_bp) == (40_000, last - 40_000, bp)


def test_trade_stamped_earlier_counted_at_latest_time() -> None:
    f = Feed()
    f.cross(10_000, 100, T0 + 5 * MINUTE)
    f.cross(10_100, 100, T0)  # wall clock stepped back
    (k,) = f.md.klines(SOL, "1m", None, None, 10)
    assert (k.start, k.trades, k.close) == (T0 + 5 * MINUTE, 2, 10_100)
    assert f.md.trades(SOL, 1)[0].timestamp == T0
    f.md.check_integrity()


def _answers(md: MarketData, now: int) -> list[object]:
    out: list[object] = [md.tickers(now)]
    for symbol in (SOL, BTC):
        out += [md.depth(symbol, 1000), md.trades(symbol, 1000)]
        out += [md.klines(symbol, i, None, None, 1000) for i in INTERVALS]
    return out


def test_snapshot_restore_identical_bytes_and_answers(random_feed: Feed) -> None:
    md = random_feed.md
    data = msgspec.msgpack.encode(md.snapshot())
    copy = MarketData(VENUE.markets)
    copy.restore(msgspec.msgpack.decode(data, type=MarketDataSnapshot))
    copy.check_integrity()
    assert msgspec.msgpack.encode(copy.snapshot()) == data
    assert copy.last_seq == md.last_seq == random_feed.seq
    now = random_feed.now
    assert _answers(copy, now) == _answers(md, now)


def test_restore_then_same_events_same_state() -> None:
    f = Feed()
    f.cross(10_000, 100, T0)
    f.limit(3, "buy", 9_000, 100)
    copy = MarketData(VENUE.markets)
    copy.restore(msgspec.msgpack.decode(msgspec.msgpack.encode(f.md.snapshot()), type=MarketDataSnapshot))
    events = f.run(PlaceOrder(user_id=4, symbol=SOL, side=Side.SELL, type=OrderType.MARKET, quantity=50))
    copy.apply(events)
    assert msgspec.msgpack.encode(copy.snapshot()) == msgspec.msgpack.encode(f.md.snapshot())
    assert copy.depth(SOL, 5).bids == [(9_000, 50)]


def test_restore_unknown_market_rejected() -> None:
    snap = MarketData(VENUE.markets).snapshot()
    only_sol = MarketData({SOL: VENUE.markets[SOL]})
    with pytest.raises(ValueError, match="unknown markets"):
        only_sol.restore(snap)
