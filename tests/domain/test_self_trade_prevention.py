"""Self-trade prevention: the taker's mode decides; the default is expire_taker."""

from __future__ import annotations

import pytest

from exchange.domain.commands import SelfTradePrevention as STP
from exchange.domain.events import OrderExpired, OrderStatus
from tests.domain.harness import Harness, final_state, only, trades

ME, YOU = 1, 2


@pytest.fixture
def h() -> Harness:
    h = Harness()
    for user in (ME, YOU):
        h.fund(user, "USDC", "10000")
        h.fund(user, "SOL", "100")
    h.place(ME, "sell", "100.00", "1")  # order 1, mine, first in the queue
    h.place(YOU, "sell", "100.00", "1")  # order 2
    return h


def test_default_expire_taker_stops_at_my_own_order_and_keeps_it(h: Harness) -> None:
    events = h.place(ME, "buy", "100.00", "2")
    assert trades(events) == []
    state = final_state(events, 3)
    assert state.status is OrderStatus.EXPIRED and only(events, OrderExpired)[0].why == "STP"
    assert [o.order_id for o in h.engine.open_orders(ME)] == [1]
    assert h.balance(ME, "USDC") == ("10000.000000", "0.000000")


def test_expire_maker_removes_my_order_and_keeps_matching(h: Harness) -> None:
    events = h.place(ME, "buy", "100.00", "2", stp=STP.EXPIRE_MAKER)
    (trade,) = trades(events)
    assert trade.maker_order_id == 2
    assert final_state(events, 1).status is OrderStatus.EXPIRED
    assert final_state(events, 3).status is OrderStatus.PARTIALLY_FILLED  # 1 left rests
    assert h.depth() == ([("100.00", "1.00")], [])
    assert h.balance(ME, "SOL") == ("100.998000000", "0.000000000")


def test_expire_both_removes_both(h: Harness) -> None:
    events = h.place(ME, "buy", "100.00", "2", stp=STP.EXPIRE_BOTH)
    assert trades(events) == []
    assert final_state(events, 1).status is OrderStatus.EXPIRED
    assert final_state(events, 3).status is OrderStatus.EXPIRED
    assert h.depth() == ([], [("100.00", "1.00")])


def test_none_lets_me_trade_with_myself_and_pay_both_fees(h: Harness) -> None:
    events = h.place(ME, "buy", "100.00", "1", stp=STP.NONE)
    (trade,) = trades(events)
    assert (trade.maker_user_id, trade.taker_user_id) == (ME, ME)
    # sold 1 SOL to myself: the fees are the only change
    assert h.balance(ME, "SOL") == ("99.998000000", "0.000000000")
    assert h.balance(ME, "USDC") == ("9999.900000", "0.000000")


def test_fok_with_expire_taker_counts_only_what_comes_before_my_order(h: Harness) -> None:
    from exchange.domain.commands import TimeInForce

    events = h.place(ME, "buy", "100.00", "1", time_in_force=TimeInForce.FOK)
    assert trades(events) == [] and final_state(events, 3).status is OrderStatus.EXPIRED
    assert len(h.engine.open_orders(ME)) == 1  # an unfillable FOK touches nothing


def test_self_trade_never_leaves_a_crossed_book(h: Harness) -> None:
    h.place(ME, "buy", "101.00", "5")
    bid, ask = h.engine.books["SOL_USDC"].best_bid(), h.engine.books["SOL_USDC"].best_ask()
    assert bid is None or ask is None or bid < ask
