"""Candles rebuilt from stored trades equal the ones market data built live."""

from __future__ import annotations

import random

import msgspec
import pytest

from exchange.domain.commands import OrderType, PlaceOrder, Side, TimeInForce
from exchange.domain.events import TradeExecuted
from exchange.service.marketdata import INTERVALS, MarketData, klines_from_trades
from tests.domain.harness import VENUE, Harness


@pytest.mark.parametrize("interval", list(INTERVALS))
def test_klines_from_stored_trades_match_the_live_ones(interval: str) -> None:
    h = Harness.funded((1, 2), USDC="1000000", SOL="10000")
    md, trades, rng = MarketData(VENUE.markets), [], random.Random(3)
    ts = 1_700_000_000_000
    for _ in range(400):
        ts += rng.randint(1, 3_600_000)  # up to an hour between orders: many candles
        side = rng.choice([Side.BUY, Side.SELL])
        cmd = PlaceOrder(user_id=rng.choice([1, 2]), symbol="SOL_USDC", side=side, type=OrderType.LIMIT,
                         price=rng.randint(9_990, 10_010), quantity=rng.randint(1, 30),
                         time_in_force=TimeInForce.GTC)  # fmt: skip
        h.seq += 1
        events = h.engine.handle(msgspec.structs.replace(cmd, seq=h.seq, ts=ts))
        md.apply(events)
        trades += [e for e in events if isinstance(e, TradeExecuted)]
    assert trades
    assert klines_from_trades(trades, interval) == md.klines("SOL_USDC", interval, None, None, 10_000)
