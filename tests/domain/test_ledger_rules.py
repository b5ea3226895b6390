"""Holds, releases, fees and conservation: money moves only as the matching rules say."""

from __future__ import annotations

import pytest

from exchange.domain.events import BalanceChanged
from exchange.domain.ledger import FEE_ACCOUNT, Ledger
from exchange.domain.reasons import Reason
from tests.domain.harness import Harness, only, rejected

BUYER, SELLER = 1, 2


@pytest.fixture
def h() -> Harness:
    h = Harness()
    h.fund(BUYER, "USDC", "10000")
    h.fund(SELLER, "SOL", "100")
    return h


def test_limit_buy_locks_price_times_quantity_of_quote(h: Harness) -> None:
    h.place(BUYER, "buy", "100.00", "2.5")
    assert h.balance(BUYER, "USDC") == ("9750.000000", "250.000000")


def test_sell_locks_its_base_quantity(h: Harness) -> None:
    h.place(SELLER, "sell", "100.00", "2.5")
    assert h.balance(SELLER, "SOL") == ("97.500000000", "2.500000000")


def test_fees_come_from_what_each_side_receives(h: Harness) -> None:
    h.place(SELLER, "sell", "100.00", "1")  # maker, receives USDC, pays 0.1%
    h.place(BUYER, "buy", "100.00", "1")  # taker, receives SOL, pays 0.2%
    assert h.balance(SELLER, "USDC") == ("99.900000", "0.000000")
    assert h.balance(BUYER, "SOL") == ("0.998000000", "0.000000000")
    assert h.balance(FEE_ACCOUNT, "USDC") == ("0.100000", "0.000000")
    assert h.balance(FEE_ACCOUNT, "SOL") == ("0.002000000", "0.000000000")


def test_fee_is_rounded_up_to_the_atomic_unit(h: Harness) -> None:
    # 0.01 SOL at 0.01 USDC... smallest fill of 1 USDC: fee 0.1% = 0.001 USDC exactly; a 1.01 USDC fill
    # gives 0.00101 -> ceil in atomic units (1e-6) = 0.001010.
    h.place(SELLER, "sell", "101.00", "0.01")
    h.place(BUYER, "buy", "101.00", "0.01")
    assert h.balance(FEE_ACCOUNT, "USDC") == ("0.001010", "0.000000")
    m = h.market()
    assert m.maker_fee.fee(1) == 1  # a fraction of an atomic unit still costs one


def test_price_improvement_is_released_at_the_fill(h: Harness) -> None:
    h.place(SELLER, "sell", "90.00", "1")
    h.place(BUYER, "buy", "100.00", "3")  # fills 1 @ 90, rests 2 @ 100
    # paid 90, locked 200 for the rest, the 10 of improvement is available again
    assert h.balance(BUYER, "USDC") == ("9710.000000", "200.000000")


def test_cancel_releases_exactly_what_the_remainder_held(h: Harness) -> None:
    h.place(SELLER, "sell", "100.00", "1")
    h.place(BUYER, "buy", "100.00", "3")
    h.cancel(BUYER, 2)
    assert h.balance(BUYER, "USDC") == ("9900.000000", "0.000000")


def test_balance_events_report_the_new_totals_once_per_command(h: Harness) -> None:
    events = h.place(BUYER, "buy", "100.00", "1")
    (change,) = only(events, BalanceChanged)
    assert (change.user_id, change.asset, change.available, change.locked) == (
        BUYER,
        "USDC",
        9_900_000_000,
        100_000_000,
    )


def test_onramp_limit_is_enforced_per_user_and_asset(h: Harness) -> None:
    limit = 1_000_000_000  # 1000 USDC
    h.fund(5, "USDC", "600", limit=limit)
    assert rejected(h.fund(5, "USDC", "500", limit=limit)).reason is Reason.ONRAMP_LIMIT
    h.fund(5, "USDC", "400", limit=limit)
    h.fund(6, "USDC", "1000", limit=limit)
    assert h.balance(5, "USDC")[0] == "1000.000000"


def test_onramp_of_unknown_asset_or_bad_amount_is_rejected(h: Harness) -> None:
    from exchange.domain.commands import Onramp

    assert rejected(h.handle(Onramp(user_id=1, asset="DOGE", amount=5))).reason is Reason.UNKNOWN_ASSET
    assert rejected(h.handle(Onramp(user_id=1, asset="USDC", amount=0))).reason is Reason.INVALID_QUANTITY
    assert rejected(h.handle(Onramp(user_id=1, asset="USDC", amount=-5))).reason is Reason.INVALID_QUANTITY
    assert rejected(h.handle(Onramp(user_id=1, asset="USDC", amount=2**62))).reason is Reason.INVALID_QUANTITY


def test_no_command_may_act_as_the_fee_account(h: Harness) -> None:
    from exchange.domain.commands import Onramp

    assert (
        rejected(h.handle(Onramp(user_id=FEE_ACCOUNT, asset="USDC", amount=5))).reason
        is Reason.INVALID_REQUEST
    )


def test_ledger_integrity_catches_money_from_nowhere() -> None:
    ledger = Ledger()
    ledger.deposit(1, "USDC", 10, faucet=False)
    ledger.balance(2, "USDC").available += 1
    with pytest.raises(AssertionError, match="USDC"):
        ledger.check_integrity()


def test_ledger_refuses_to_hold_more_than_available() -> None:
    ledger = Ledger()
    ledger.deposit(1, "USDC", 10, faucet=False)
    with pytest.raises(AssertionError):
        ledger.hold(1, "USDC", 11)
    with pytest.raises(AssertionError):
        ledger.release(1, "USDC", 1)


def test_engine_integrity_catches_a_lock_no_order_explains(h: Harness) -> None:
    h.engine.ledger.hold(BUYER, "USDC", 5)
    with pytest.raises(AssertionError, match="locked"):
        h.engine.check_integrity()
