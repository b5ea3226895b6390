"""Snapshot and restore: the whole state as msgspec data, exact and canonical."""

from __future__ import annotations

import msgspec

from exchange.domain.commands import OrderType, PlaceOrder, Side
from exchange.domain.engine import Engine
from tests.domain.harness import VENUE, Harness


def _busy() -> Harness:
    h = Harness()
    for user in (1, 2, 3):
        h.fund(user, "USDC", "10000")
        h.fund(user, "SOL", "100")
    h.place(1, "buy", "99.00", "2", client_order_id="bid")
    h.place(2, "buy", "99.00", "1")
    h.place(3, "sell", "101.00", "3")
    h.place(2, "sell", "99.00", "0.5")  # partial fill of order 1
    h.place(1, "buy", "60000.0", "0.001", symbol="BTC_USDC")
    h.cancel(3, 3)
    return h


def test_restore_gives_the_same_snapshot_bytes() -> None:
    h = _busy()
    snap = h.engine.snapshot()
    copy = Engine(VENUE.assets, VENUE.markets)
    copy.restore(msgspec.msgpack.decode(msgspec.msgpack.encode(snap), type=type(snap)))
    copy.check_integrity()
    assert msgspec.msgpack.encode(copy.snapshot()) == msgspec.msgpack.encode(snap)


def test_restored_engine_continues_exactly_like_the_original() -> None:
    h = _busy()
    copy = Engine(VENUE.assets, VENUE.markets)
    copy.restore(h.engine.snapshot())
    cmd = PlaceOrder(user_id=3, seq=99, ts=5_000, symbol="SOL_USDC", side=Side.SELL, type=OrderType.LIMIT,
                     price=9_900, quantity=300)  # fmt: skip
    assert msgspec.msgpack.encode(h.engine.handle(cmd)) == msgspec.msgpack.encode(copy.handle(cmd))
    assert msgspec.msgpack.encode(h.engine.snapshot()) == msgspec.msgpack.encode(copy.snapshot())


def test_restore_keeps_fifo_and_client_order_ids() -> None:
    h = _busy()
    copy = Engine(VENUE.assets, VENUE.markets)
    copy.restore(h.engine.snapshot())
    level = copy.books["SOL_USDC"].best_level(Side.BUY)
    assert level is not None and [o.id for o in level.orders if o.live] == [1, 2]
    assert copy.coids == {(1, "bid"): 1}
