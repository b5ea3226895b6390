"""A terminal demo of the engine alone: simulated traders on the demo markets.

It drives the real engine (no server yet) with a seeded stream of quotes and takers, checks
every invariant after every command, and prints the tape, the books and the balances.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

import msgspec

from exchange.config import Venue
from exchange.domain.commands import AnyCommand, Onramp, OrderType, PlaceOrder, Side
from exchange.domain.engine import Engine
from exchange.domain.events import OrderRejected, TradeExecuted
from exchange.domain.markets import Market

MIDS = {"SOL_USDC": "150", "BTC_USDC": "65000", "ETH_USDC": "3200"}


def _orders(venue: Venue, rng: random.Random, users: int, count: int) -> Iterator[AnyCommand]:
    for user in range(1, users + 1):
        for asset in venue.assets.values():
            yield Onramp(user_id=user, asset=asset.name, amount=venue.onramp_limits.get(asset.name, 10**12))
    markets = [m for m in venue.markets.values() if m.symbol in MIDS]
    for _ in range(count):
        m = rng.choice(markets)
        mid = m.price.parse(MIDS[m.symbol])
        side = rng.choice([Side.BUY, Side.SELL])
        away = rng.randint(-3, 20) * max(1, mid // 2000)
        price = mid - away if side is Side.BUY else mid + away
        qty = rng.randint(1, 50) * _lot(m, mid)
        taker = rng.random() < 0.15
        yield PlaceOrder(
            user_id=rng.randint(1, users), symbol=m.symbol, side=side,
            type=OrderType.MARKET if taker else OrderType.LIMIT,
            price=None if taker else price, quantity=qty,
        )  # fmt: skip


def _lot(m: Market, mid: int) -> int:
    """Smallest quantity whose value at ``mid`` clears the market's minimum notional."""
    return max(m.min_qty, -(-m.min_notional // m.notional(mid, 1)))


def run(venue: Venue, *, seed: int = 7, users: int = 6, orders: int = 400) -> Engine:
    engine = Engine(venue.assets, venue.markets)
    rng = random.Random(seed)
    trades = rejected = 0
    for seq, cmd in enumerate(_orders(venue, rng, users, orders), start=1):
        stamped = msgspec.structs.replace(cmd, seq=seq, ts=1_700_000_000_000 + seq * 250)
        for event in engine.handle(stamped):
            if isinstance(event, TradeExecuted):
                trades += 1
                if trades <= 12:
                    _print_trade(venue.markets[event.symbol], event)
            elif isinstance(event, OrderRejected):
                rejected += 1
        engine.check_integrity()
    print(f"\n{orders} orders, {trades} trades, {rejected} rejected; invariants held after every command")
    for m in venue.markets.values():
        _print_book(engine, m)
    return engine


def _print_trade(m: Market, t: TradeExecuted) -> None:
    side = "buy " if t.taker_side is Side.BUY else "sell"
    qty, price = m.qty.format(t.quantity), m.price.format(t.price)
    print(f"trade {t.trade_id:>4} {m.symbol:<9} {side} {qty:>12} @ {price}")


def _print_book(engine: Engine, m: Market) -> None:
    bids, asks = engine.depth(m.symbol, 5)
    print(f"\n{m.symbol}  (asks above, bids below)")
    for price, qty in reversed(asks):
        print(f"  {m.price.format(price):>14} {m.qty.format(qty):>14}")
    print("  " + "-" * 29)
    for price, qty in bids:
        print(f"  {m.price.format(price):>14} {m.qty.format(qty):>14}")
