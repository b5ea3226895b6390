"""Matching rules: price-time priority, maker price, time in force, post-only, market orders."""

from __future__ import annotations

import pytest

from exchange.domain.commands import TimeInForce
from exchange.domain.events import OrderExpired, OrderStatus, Role
from exchange.domain.reasons import Reason
from tests.domain.harness import Harness, final_state, only, rejected, trades

BUYER, SELLER, OTHER = 1, 2, 3


@pytest.fixture
def h() -> Harness:
    return Harness.funded((BUYER, SELLER, OTHER), USDC="100000", SOL="1000")


def test_better_price_fills_first_even_if_it_arrived_later(h: Harness) -> None:
    h.place(SELLER, "sell", "102.00", "1")
    h.place(OTHER, "sell", "101.00", "1")
    events = h.place(BUYER, "buy", "102.00", "1")
    (trade,) = trades(events)
    assert h.market().price.format(trade.price) == "101.00"
    assert trade.maker_user_id == OTHER


def test_same_price_fills_in_arrival_order(h: Harness) -> None:
    first = final_state(h.place(SELLER, "sell", "100.00", "1"), 1)
    h.place(OTHER, "sell", "100.00", "1")
    (trade,) = trades(h.place(BUYER, "buy", "100.00", "1"))
    assert trade.maker_order_id == first.order_id


def test_taker_fills_at_the_resting_makers_price(h: Harness) -> None:
    h.place(BUYER, "buy", "99.00", "2")
    (trade,) = trades(h.place(SELLER, "sell", "95.00", "2"))
    assert h.market().price.format(trade.price) == "99.00"
    assert trade.is_buyer_maker


def test_taker_walks_levels_and_rests_its_remainder(h: Harness) -> None:
    h.place(SELLER, "sell", "100.00", "1")
    h.place(SELLER, "sell", "100.50", "1")
    events = h.place(BUYER, "buy", "100.50", "3")
    assert [h.market().price.format(t.price) for t in trades(events)] == ["100.00", "100.50"]
    state = final_state(events, 3)
    assert state.status is OrderStatus.PARTIALLY_FILLED
    assert h.depth() == ([("100.50", "1.00")], [])


def test_fully_filled_taker_is_filled_and_not_in_book(h: Harness) -> None:
    h.place(SELLER, "sell", "100.00", "5")
    events = h.place(BUYER, "buy", "100.00", "5")
    assert final_state(events, 2).status is OrderStatus.FILLED
    assert final_state(events, 1).status is OrderStatus.FILLED
    assert h.depth() == ([], [])
    assert h.engine.open_orders(BUYER) == [] and h.engine.open_orders(SELLER) == []


def test_fill_events_carry_roles_fees_and_fee_assets(h: Harness) -> None:
    h.place(SELLER, "sell", "100.00", "1")
    events = h.place(BUYER, "buy", "100.00", "1")
    from exchange.domain.events import OrderFilled

    maker, taker = only(events, OrderFilled)
    assert (maker.role, maker.fee_asset, maker.fee) == (Role.MAKER, "USDC", 100_000)  # 0.1% of 100 USDC
    assert (taker.role, taker.fee_asset, taker.fee) == (Role.TAKER, "SOL", 2_000_000)  # 0.2% of 1 SOL


def test_ioc_remainder_expires_and_releases_its_hold(h: Harness) -> None:
    h.place(SELLER, "sell", "100.00", "1")
    events = h.place(BUYER, "buy", "100.00", "3", time_in_force=TimeInForce.IOC)
    state = final_state(events, 2)
    assert state.status is OrderStatus.EXPIRED and h.market().qty.format(state.executed_qty) == "1.00"
    assert only(events, OrderExpired)[0].why == "IOC"
    assert h.balance(BUYER, "USDC") == ("99900.000000", "0.000000")
    assert h.depth() == ([], [])


def test_fok_that_cannot_fill_completely_does_nothing_but_expire(h: Harness) -> None:
    h.place(SELLER, "sell", "100.00", "1")
    events = h.place(BUYER, "buy", "100.00", "2", time_in_force=TimeInForce.FOK)
    assert trades(events) == []
    assert final_state(events, 2).status is OrderStatus.EXPIRED
    assert h.depth() == ([], [("100.00", "1.00")])
    assert h.balance(BUYER, "USDC") == ("100000.000000", "0.000000")


def test_fok_that_can_fill_fills_across_levels(h: Harness) -> None:
    h.place(SELLER, "sell", "100.00", "1")
    h.place(OTHER, "sell", "100.01", "1")
    events = h.place(BUYER, "buy", "100.01", "2", time_in_force=TimeInForce.FOK)
    assert len(trades(events)) == 2
    assert final_state(events, 3).status is OrderStatus.FILLED


def test_post_only_that_would_take_is_rejected_and_changes_nothing(h: Harness) -> None:
    h.place(SELLER, "sell", "100.00", "1")
    before = h.engine.snapshot()
    r = rejected(h.place(BUYER, "buy", "100.00", "1", post_only=True))
    assert r.reason is Reason.POST_ONLY_WOULD_TAKE
    assert h.engine.snapshot().orders == before.orders
    assert h.engine.snapshot().balances == before.balances


def test_post_only_that_does_not_cross_rests(h: Harness) -> None:
    h.place(SELLER, "sell", "100.00", "1")
    events = h.place(BUYER, "buy", "99.99", "1", post_only=True)
    assert final_state(events, 2).status is OrderStatus.NEW
    assert h.depth()[0] == [("99.99", "1.00")]


def test_post_only_with_ioc_is_an_invalid_request(h: Harness) -> None:
    r = rejected(h.place(BUYER, "buy", "99.00", "1", post_only=True, time_in_force=TimeInForce.IOC))
    assert r.reason is Reason.INVALID_REQUEST


def test_market_sell_takes_bids_best_first_and_expires_the_rest(h: Harness) -> None:
    h.place(BUYER, "buy", "99.00", "1")
    h.place(BUYER, "buy", "98.00", "1")
    events = h.place(SELLER, "sell", None, "3")
    assert [h.market().price.format(t.price) for t in trades(events)] == ["99.00", "98.00"]
    state = final_state(events, 3)
    assert state.status is OrderStatus.EXPIRED and state.time_in_force is TimeInForce.IOC
    assert h.balance(SELLER, "SOL") == ("998.000000000", "0.000000000")


def test_market_buy_by_quantity_pays_the_book_and_locks_nothing_after(h: Harness) -> None:
    h.place(SELLER, "sell", "100.00", "1")
    h.place(SELLER, "sell", "101.00", "1")
    events = h.place(BUYER, "buy", None, "2")
    assert final_state(events, 3).status is OrderStatus.FILLED
    assert h.balance(BUYER, "USDC") == ("99799.000000", "0.000000")


def test_market_buy_by_quantity_beyond_funds_is_rejected(h: Harness) -> None:
    h.fund(9, "USDC", "150")
    h.place(SELLER, "sell", "100.00", "2")
    assert rejected(h.place(9, "buy", None, "2")).reason is Reason.INSUFFICIENT_FUNDS


def test_market_buy_by_quote_spends_at_most_its_budget(h: Harness) -> None:
    h.place(SELLER, "sell", "101.00", "5")
    events = h.place(BUYER, "buy", None, None, quote_quantity="50")
    state = final_state(events, 2)
    m = h.market()
    assert m.qty.format(state.executed_qty) == "0.49"  # 0.49 x 101 = 49.49 <= 50
    assert state.status is OrderStatus.FILLED  # the 0.51 left cannot buy one more step
    assert h.balance(BUYER, "USDC") == ("99950.510000", "0.000000")


def test_market_buy_by_quote_on_an_empty_book_expires_and_refunds(h: Harness) -> None:
    events = h.place(BUYER, "buy", None, None, quote_quantity="50")
    assert final_state(events, 1).status is OrderStatus.EXPIRED
    assert h.balance(BUYER, "USDC") == ("100000.000000", "0.000000")


def test_market_sell_by_quote_quantity_is_invalid(h: Harness) -> None:
    assert rejected(h.place(SELLER, "sell", None, None, quote_quantity="50")).reason is Reason.INVALID_REQUEST


@pytest.mark.parametrize(
    ("price", "qty", "reason"),
    [("100.00", "0.001", None), ("100.00", "0.00", None), ("0.50", "1", Reason.MIN_NOTIONAL),
     ("1000000.01", "1", None), ("100.00", "1000000.01", None)],
)  # fmt: skip
def test_orders_outside_the_market_filters_are_rejected(
    h: Harness, price: str, qty: str, reason: Reason | None
) -> None:
    from exchange.domain.units import InvalidNumber

    try:
        events = h.place(BUYER, "buy", price, qty)
    except InvalidNumber as exc:  # off-grid / out of range text never reaches the engine
        assert reason is None and exc.reason in (Reason.INVALID_PRICE, Reason.INVALID_QUANTITY)
        return
    assert rejected(events).reason is reason


def test_integer_filters_are_checked_by_the_engine_too(h: Harness) -> None:
    from exchange.domain.commands import OrderType, PlaceOrder, Side

    def place(price: int | None, qty: int | None) -> Reason:
        cmd = PlaceOrder(
            user_id=BUYER, symbol="SOL_USDC", side=Side.BUY, type=OrderType.LIMIT, price=price, quantity=qty
        )
        return rejected(h.handle(cmd)).reason

    assert place(0, 100) is Reason.INVALID_PRICE
    assert place(-5, 100) is Reason.INVALID_PRICE
    assert place(None, 100) is Reason.INVALID_PRICE
    assert place(10_000, 0) is Reason.INVALID_QUANTITY
    assert place(10_000, None) is Reason.INVALID_QUANTITY
    assert place(10**12, 1) is Reason.INVALID_PRICE


def test_unknown_symbol_is_rejected(h: Harness) -> None:
    from exchange.domain.commands import OrderType, PlaceOrder, Side

    cmd = PlaceOrder(
        user_id=BUYER, symbol="DOGE_USDC", side=Side.BUY, type=OrderType.LIMIT, price=1, quantity=1
    )
    assert rejected(h.handle(cmd)).reason is Reason.UNKNOWN_SYMBOL


def test_insufficient_funds_is_rejected_and_changes_nothing(h: Harness) -> None:
    h.fund(9, "USDC", "99.99")
    before = h.engine.snapshot()
    assert rejected(h.place(9, "buy", "100.00", "1")).reason is Reason.INSUFFICIENT_FUNDS
    after = h.engine.snapshot()
    assert (after.balances, after.orders, after.next_order_id) == (
        before.balances,
        before.orders,
        before.next_order_id,
    )


def test_order_and_trade_ids_increase_from_one(h: Harness) -> None:
    a = final_state(h.place(SELLER, "sell", "100.00", "1"), 1)
    rejected(h.place(SELLER, "sell", "0.01", "1"))  # rejected: consumes no id
    b = final_state(h.place(SELLER, "sell", "100.00", "1"), 2)
    t = trades(h.place(BUYER, "buy", "100.00", "2"))
    assert (a.order_id, b.order_id) == (1, 2)
    assert [x.trade_id for x in t] == [1, 2]
