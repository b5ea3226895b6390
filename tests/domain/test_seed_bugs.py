"""Regression tests for each bug of the project we replace, so that none comes back.

Each test would fail on the seed's behaviour, which is named in its docstring.
"""

from __future__ import annotations

import pytest

from exchange.domain.events import OrderRejected, OrderStatus
from exchange.domain.reasons import Reason
from exchange.domain.units import InvalidNumber
from tests.domain.harness import Harness, final_state, rejected, trades

A, B, C = 1, 2, 3


@pytest.fixture
def h() -> Harness:
    return Harness.funded(
        (
            A,
            B,
            C,
        ),
        USDC="10000",
        SOL="100",
    )


def test_money_is_never_a_float(h: Harness) -> None:
    """Seed: floats for money. 0.1 + 0.2 of SOL must be exactly 0.3, and a float is refused."""
    h.place(A, "sell", "100.00", "0.1")
    h.place(A, "sell", "100.00", "0.2")
    assert h.depth()[1] == [("100.00", "0.30")]
    with pytest.raises(InvalidNumber):
        h.market().qty.parse(0.3)  # type: ignore[arg-type]


def test_cancel_checks_the_owner(h: Harness) -> None:
    """Seed: userId trusted from the body and cancel with no owner check."""
    h.place(A, "buy", "99.00", "1")
    assert rejected(h.cancel(B, 1)).reason is Reason.ORDER_NOT_FOUND
    assert h.depth()[0] == [("99.00", "1.00")]


def test_matching_is_by_best_price_not_arrival(h: Harness) -> None:
    """Seed: matching in arrival order instead of best price."""
    h.place(A, "sell", "105.00", "1")
    h.place(B, "sell", "101.00", "1")
    (trade,) = trades(h.place(C, "buy", "105.00", "1"))
    assert trade.maker_user_id == B and h.market().price.format(trade.price) == "101.00"


def test_a_partially_filled_maker_is_never_over_filled(h: Harness) -> None:
    """Seed: partially filled makers were over-filled (each taker filled the original quantity)."""
    h.place(A, "sell", "100.00", "5")
    h.place(B, "buy", "100.00", "3")
    events = h.place(C, "buy", "100.00", "3")
    (trade,) = trades(events)
    assert h.market().qty.format(trade.quantity) == "2.00"
    assert final_state(events, 1).executed_qty == 500
    assert final_state(events, 3).status is OrderStatus.PARTIALLY_FILLED
    assert h.balance(A, "SOL") == ("95.000000000", "0.000000000")


def test_a_buys_price_improvement_is_released(h: Harness) -> None:
    """Seed: the price-improvement part of a buy's hold was never released."""
    h.place(A, "sell", "90.00", "1")
    h.place(B, "buy", "100.00", "1")
    assert h.balance(B, "USDC") == ("9910.000000", "0.000000")


def test_cancelling_a_sell_refunds_the_base_asset(h: Harness) -> None:
    """Seed: a sell cancel refunded the quote asset."""
    h.place(A, "sell", "100.00", "2")
    h.cancel(A, 1)
    assert h.balance(A, "SOL") == ("100.000000000", "0.000000000")
    assert h.balance(A, "USDC") == ("10000.000000", "0.000000")


def test_depth_shows_remaining_not_original_quantity(h: Harness) -> None:
    """Seed: depth summed original rather than remaining quantities."""
    h.place(A, "sell", "100.00", "5")
    h.place(B, "buy", "100.00", "2")
    assert h.depth()[1] == [("100.00", "3.00")]


def test_errors_are_answers_not_silence(h: Harness) -> None:
    """Seed: errors were swallowed, so requests hung. Every bad command gets a rejection event."""
    events = h.place(A, "buy", "100.00", "1000")
    assert isinstance(events[0], OrderRejected) and events[0].message


def test_ids_are_sequential_not_random(h: Harness) -> None:
    """Seed: random ids. Ids are engine counters, so a replay assigns the same ones."""
    ids = [final_state(h.place(A, "buy", f"{90 + i}.00", "1"), i + 1).order_id for i in range(5)]
    assert ids == [1, 2, 3, 4, 5]
