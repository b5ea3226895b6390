"""Cancel, cancel-all, amend and client order ids, including who may touch which order."""

from __future__ import annotations

import msgspec
import pytest

from exchange.domain.commands import Onramp, OrderType, PlaceOrder, Side
from exchange.domain.engine import Engine
from exchange.domain.events import OrderAccepted, OrderAmended, OrderCanceled, OrderRejected, OrderStatus
from exchange.domain.reasons import Reason
from tests.domain.harness import SOL, VENUE, Harness, final_state, only, rejected, trades

ALICE, BOB, CAROL = 1, 2, 3


@pytest.fixture
def h() -> Harness:
    return Harness.funded((ALICE, BOB, CAROL), USDC="10000", SOL="100", BTC="1")


def test_cancel_by_id_answers_the_canceled_order(h: Harness) -> None:
    h.place(ALICE, "buy", "99.00", "1")
    (event,) = only(h.cancel(ALICE, 1), OrderCanceled)
    assert event.order.status is OrderStatus.CANCELED
    assert h.depth() == ([], [])


def test_cancel_by_client_order_id(h: Harness) -> None:
    h.place(ALICE, "buy", "99.00", "1", client_order_id="my-bid_1")
    (event,) = only(h.cancel(ALICE, client_order_id="my-bid_1"), OrderCanceled)
    assert event.order.order_id == 1


def test_cancel_of_another_users_order_is_not_found_and_leaves_it(h: Harness) -> None:
    h.place(ALICE, "buy", "99.00", "1", client_order_id="a")
    assert rejected(h.cancel(BOB, 1)).reason is Reason.ORDER_NOT_FOUND
    assert rejected(h.cancel(BOB, client_order_id="a")).reason is Reason.ORDER_NOT_FOUND
    assert len(h.engine.open_orders(ALICE)) == 1


def test_cancel_in_the_wrong_market_or_of_a_closed_order_is_not_found(h: Harness) -> None:
    h.place(ALICE, "buy", "99.00", "1")
    assert rejected(h.cancel(ALICE, 1, symbol="BTC_USDC")).reason is Reason.ORDER_NOT_FOUND
    h.cancel(ALICE, 1)
    assert rejected(h.cancel(ALICE, 1)).reason is Reason.ORDER_NOT_FOUND
    assert rejected(h.cancel(ALICE, 999)).reason is Reason.ORDER_NOT_FOUND


def test_cancel_needs_exactly_one_identifier(h: Harness) -> None:
    assert rejected(h.cancel(ALICE, None)).reason is Reason.INVALID_REQUEST
    assert rejected(h.cancel(ALICE, 1, client_order_id="x")).reason is Reason.INVALID_REQUEST


def test_duplicate_client_order_id_among_open_orders_is_refused_then_reusable(h: Harness) -> None:
    h.place(ALICE, "buy", "99.00", "1", client_order_id="dup")
    assert (
        rejected(h.place(ALICE, "buy", "98.00", "1", client_order_id="dup")).reason
        is Reason.DUPLICATE_CLIENT_ORDER_ID
    )
    h.place(BOB, "buy", "98.00", "1", client_order_id="dup")  # another user may use it
    h.cancel(ALICE, 1)
    h.place(ALICE, "buy", "97.00", "1", client_order_id="dup")  # free again once closed


@pytest.mark.parametrize("coid", ["", "x" * 37, "has space", "semi;colon", "ünï"])
def test_malformed_client_order_id_is_invalid(h: Harness, coid: str) -> None:
    assert (
        rejected(h.place(ALICE, "buy", "99.00", "1", client_order_id=coid)).reason is Reason.INVALID_REQUEST
    )


def test_cancel_all_in_one_market_leaves_other_markets(h: Harness) -> None:
    h.place(ALICE, "buy", "99.00", "1")
    h.place(ALICE, "sell", "101.00", "1")
    h.place(ALICE, "buy", "60000.0", "0.0001", symbol="BTC_USDC")
    h.place(BOB, "buy", "98.00", "1")
    events = h.cancel_all(ALICE, "SOL_USDC")
    assert [e.order.order_id for e in only(events, OrderCanceled)] == [1, 2]
    assert [o.order_id for o in h.engine.open_orders(ALICE)] == [3]
    assert len(h.engine.open_orders(BOB)) == 1
    assert h.balance(ALICE, "SOL") == ("100.000000000", "0.000000000")


def test_cancel_all_everywhere_and_with_nothing_open(h: Harness) -> None:
    h.place(ALICE, "buy", "99.00", "1")
    h.place(ALICE, "buy", "60000.0", "0.0001", symbol="BTC_USDC")
    assert len(only(h.cancel_all(ALICE), OrderCanceled)) == 2
    assert h.cancel_all(ALICE) == []
    assert rejected(h.cancel_all(ALICE, "NOPE_USDC")).reason is Reason.UNKNOWN_SYMBOL


def test_amend_smaller_quantity_keeps_the_queue_place_and_releases(h: Harness) -> None:
    h.place(ALICE, "buy", "99.00", "3")
    h.place(BOB, "buy", "99.00", "1")
    (amended,) = only(h.amend(ALICE, 1, qty="2"), OrderAmended)
    assert not amended.requeued
    assert h.balance(ALICE, "USDC") == ("9802.000000", "198.000000")
    (first, *_) = trades(h.place(CAROL, "sell", "99.00", "1"))
    assert first.maker_order_id == 1  # still ahead of Bob


def test_amend_larger_quantity_loses_the_queue_place(h: Harness) -> None:
    h.place(ALICE, "buy", "99.00", "1")
    h.place(BOB, "buy", "99.00", "1")
    (amended,) = only(h.amend(ALICE, 1, qty="2"), OrderAmended)
    assert amended.requeued
    (first,) = trades(h.place(CAROL, "sell", "99.00", "1"))
    assert first.maker_order_id == 2


def test_amend_to_a_crossing_price_trades(h: Harness) -> None:
    h.place(BOB, "sell", "100.00", "1")
    h.place(ALICE, "buy", "99.00", "1")
    events = h.amend(ALICE, 2, price="100.00")
    assert len(trades(events)) == 1
    assert final_state(events, 2).status is OrderStatus.FILLED
    assert h.balance(ALICE, "USDC") == ("9900.000000", "0.000000")


def test_amend_quantity_is_the_new_total_above_executed(h: Harness) -> None:
    h.place(ALICE, "buy", "99.00", "3")
    h.place(BOB, "sell", "99.00", "2")
    assert rejected(h.amend(ALICE, 1, qty="2")).reason is Reason.INVALID_QUANTITY
    events = h.amend(ALICE, 1, qty="2.5")
    state = final_state(events, 1)
    assert (state.quantity, state.executed_qty, state.status) == (250, 200, OrderStatus.PARTIALLY_FILLED)
    assert h.depth()[0] == [("99.00", "0.50")]


def test_amend_is_all_or_nothing(h: Harness) -> None:
    h.fund(7, "USDC", "100")
    h.place(7, "buy", "50.00", "1")
    before = h.engine.snapshot()
    assert rejected(h.amend(7, 1, price="50.00", qty="3")).reason is Reason.INSUFFICIENT_FUNDS
    assert rejected(h.amend(7, 1, price="0.50")).reason is Reason.MIN_NOTIONAL
    assert rejected(h.amend(7, 1)).reason is Reason.INVALID_REQUEST
    after = h.engine.snapshot()
    assert (after.orders, after.balances) == (before.orders, before.balances)


def test_amend_of_a_post_only_order_to_a_crossing_price_is_refused(h: Harness) -> None:
    h.place(BOB, "sell", "100.00", "1")
    h.place(ALICE, "buy", "99.00", "1", post_only=True)
    assert rejected(h.amend(ALICE, 2, price="100.00")).reason is Reason.POST_ONLY_WOULD_TAKE


def test_amend_of_another_users_order_is_not_found(h: Harness) -> None:
    h.place(ALICE, "buy", "99.00", "1")
    assert rejected(h.amend(BOB, 1, qty="0.5")).reason is Reason.ORDER_NOT_FOUND


def test_closed_orders_stay_readable_by_id(h: Harness) -> None:
    h.place(ALICE, "buy", "99.00", "1")
    h.cancel(ALICE, 1)
    state = h.engine.order(1)
    assert state is not None and state.status is OrderStatus.CANCELED
    assert h.engine.order(42) is None


def test_command_with_a_seen_request_id_is_rejected_and_changes_nothing() -> None:
    h = Harness.funded((1,), USDC="1000")
    first = h.handle(PlaceOrder(user_id=1, symbol=SOL, side=Side.BUY, type=OrderType.LIMIT,
                                price=h.market().price.parse("10"), quantity=h.market().qty.parse("1"),
                                request_id="gw1:7"))  # fmt: skip
    assert isinstance(first[0], OrderAccepted)
    before = h.engine.snapshot()
    again = h.handle(PlaceOrder(user_id=1, symbol=SOL, side=Side.BUY, type=OrderType.LIMIT,
                                price=h.market().price.parse("10"), quantity=h.market().qty.parse("1"),
                                request_id="gw1:7"))  # fmt: skip
    assert rejected(again).reason is Reason.DUPLICATE_REQUEST
    after = h.engine.snapshot()
    assert msgspec.structs.replace(after, last_seq=before.last_seq) == before
    assert len(h.engine.open_orders(1)) == 1


def test_request_window_forgets_the_oldest_and_survives_snapshot_restore() -> None:
    engine = Engine(VENUE.assets, VENUE.markets, request_window=2)
    for seq, rid in enumerate(("a", "b", "c"), 1):
        engine.handle(Onramp(user_id=1, asset="USDC", amount=1, seq=seq, request_id=rid))
    assert list(engine.request_order) == ["b", "c"] and engine.requests == {"b": 2, "c": 3}
    restored = Engine(VENUE.assets, VENUE.markets, request_window=2)
    restored.restore(engine.snapshot())
    restored.check_integrity()
    again = restored.handle(Onramp(user_id=1, asset="USDC", amount=1, seq=4, request_id="c"))
    assert rejected(again).reason is Reason.DUPLICATE_REQUEST
    fresh = restored.handle(Onramp(user_id=1, asset="USDC", amount=1, seq=5, request_id="a"))
    assert not isinstance(fresh[0], OrderRejected)  # forgotten: beyond the window
