"""Funding in the engine: deposits (idempotent by reference), withdrawals held at once and then
completed or rejected by an operator, the faucet as a deposit; every refusal changes nothing;
the records and holds survive a snapshot."""

from __future__ import annotations

import msgspec
import pytest

from exchange.domain.commands import (
    AnyCommand,
    CompleteWithdrawal,
    Deposit,
    Onramp,
    RejectWithdrawal,
    RequestWithdrawal,
)
from exchange.domain.engine import Engine
from exchange.domain.events import (
    BalanceChanged,
    DepositCredited,
    DepositSource,
    Event,
    WithdrawalChanged,
    WithdrawalState,
    WithdrawalStatus,
)
from exchange.domain.ledger import FEE_ACCOUNT
from exchange.domain.markets import MAX_AMOUNT
from exchange.domain.reasons import Reason
from exchange.domain.snapshots import EngineSnapshot
from tests.domain.harness import VENUE, Harness, rejected

OPERATOR, ALICE, BOB = 9, 1, 2
USDC = 10**6  # one USDC in atomic units
ENC = msgspec.msgpack.Encoder()


@pytest.fixture
def h() -> Harness:
    return Harness()


def _deposit(
    h: Harness, account: int = ALICE, amount: int = 100 * USDC, ref: str = "tx-1", **kw: object
) -> list[Event]:
    fields: dict[str, object] = {"asset": "USDC", **kw}
    return h.handle(Deposit(user_id=OPERATOR, account=account, amount=amount, reference=ref, **fields))  # type: ignore[arg-type]


def _withdraw(h: Harness, amount: int = 30 * USDC, user: int = ALICE, dest: str = "addr-1") -> list[Event]:
    return h.handle(RequestWithdrawal(user_id=user, asset="USDC", amount=amount, destination=dest))


def _withdrawal(events: list[Event]) -> WithdrawalState:
    first = events[0]
    assert isinstance(first, WithdrawalChanged), events
    return first.withdrawal


def _unchanged(h: Harness, cmd: AnyCommand) -> Reason:
    """Run ``cmd``, which must be refused and change nothing but the sequence; its reason."""
    before = msgspec.structs.replace(h.engine.snapshot(), last_seq=0)
    reason = rejected(h.handle(cmd)).reason
    assert ENC.encode(msgspec.structs.replace(h.engine.snapshot(), last_seq=0)) == ENC.encode(before)
    return reason


def test_a_deposit_credits_the_account_and_is_recorded(h: Harness) -> None:
    events = _deposit(h)
    first, balance = events
    assert isinstance(first, DepositCredited) and not first.duplicate
    d = first.deposit
    assert (d.id, d.user_id, d.asset, d.amount, d.reference, d.source) == (
        1, ALICE, "USDC", 100 * USDC, "tx-1", DepositSource.OPERATOR,
    )  # fmt: skip
    assert balance == BalanceChanged(first.seq, first.ts, ALICE, "USDC", 100 * USDC, 0, 0)
    assert h.balance(ALICE, "USDC") == ("100.000000", "0.000000")
    assert h.engine.funding.deposits_of(ALICE) == [d]
    assert h.engine.ledger.user_onramped == {}, "an operator's deposit does not count toward the faucet cap"


def test_the_same_reference_twice_credits_once_and_says_so(h: Harness) -> None:
    (first, _) = _deposit(h)
    again = _deposit(h)
    assert len(again) == 1 and isinstance(again[0], DepositCredited)
    assert again[0].duplicate and again[0].deposit == first.deposit  # type: ignore[attr-defined]
    assert h.balance(ALICE, "USDC")[0] == "100.000000"
    assert len(h.engine.funding.deposits_of(ALICE)) == 1


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"account": BOB}, Reason.DUPLICATE_REFERENCE),
        ({"amount": 101 * USDC}, Reason.DUPLICATE_REFERENCE),
        ({"asset": "SOL", "amount": 10**9}, Reason.DUPLICATE_REFERENCE),
        ({"ref": ""}, Reason.INVALID_REQUEST),
        ({"ref": "x" * 65}, Reason.INVALID_REQUEST),
        ({"ref": "tab\there"}, Reason.INVALID_REQUEST),
        ({"ref": "naïve"}, Reason.INVALID_REQUEST),
        ({"ref": "faucet:7"}, Reason.INVALID_REQUEST),
        ({"account": FEE_ACCOUNT}, Reason.INVALID_REQUEST),
        ({"account": -1}, Reason.INVALID_REQUEST),
        ({"asset": "DOGE"}, Reason.UNKNOWN_ASSET),
        ({"amount": 0}, Reason.INVALID_QUANTITY),
        ({"amount": -USDC}, Reason.INVALID_QUANTITY),
        ({"amount": MAX_AMOUNT}, Reason.INVALID_QUANTITY),
        ({"amount": MAX_AMOUNT - 50 * USDC, "ref": "tx-2"}, Reason.INVALID_QUANTITY),  # balance out of range
    ],
)
def test_a_bad_deposit_is_refused_and_changes_nothing(
    h: Harness, change: dict[str, object], reason: Reason
) -> None:
    _deposit(h)
    fields = {"account": ALICE, "amount": 100 * USDC, "ref": "tx-1", "asset": "USDC"} | change
    cmd = Deposit(user_id=OPERATOR, account=fields["account"], asset=fields["asset"], amount=fields["amount"],
                  reference=fields["ref"])  # type: ignore[arg-type]  # fmt: skip
    assert _unchanged(h, cmd) is reason


def test_a_withdrawal_is_held_at_once_then_completed(h: Harness) -> None:
    _deposit(h)
    requested = _withdraw(h)
    w = _withdrawal(requested)
    assert (w.id, w.user_id, w.amount, w.destination, w.status, w.reason) == (
        1, ALICE, 30 * USDC, "addr-1", WithdrawalStatus.PENDING, None,
    )  # fmt: skip
    seq, ts = requested[0].seq, requested[0].ts
    assert requested[1:] == [BalanceChanged(seq, ts, ALICE, "USDC", 70 * USDC, 0, 30 * USDC)]
    assert h.withdrawing(ALICE, "USDC") == "30.000000"
    assert h.engine.funding.pending() == [w]
    done = _withdrawal(h.handle(CompleteWithdrawal(user_id=OPERATOR, withdrawal_id=w.id)))
    assert done.status is WithdrawalStatus.COMPLETED and done.created_at == w.created_at < done.updated_at
    assert (
        h.balance(ALICE, "USDC") == ("70.000000", "0.000000") and h.withdrawing(ALICE, "USDC") == "0.000000"
    )
    assert h.engine.ledger.withdrawn == {"USDC": 30 * USDC}
    assert h.engine.funding.pending() == [] and h.engine.funding.withdrawals_of(ALICE) == [done]


def test_a_rejected_withdrawal_returns_the_hold(h: Harness) -> None:
    _deposit(h)
    w = _withdrawal(_withdraw(h))
    events = h.handle(RejectWithdrawal(user_id=OPERATOR, withdrawal_id=w.id, reason="sanctioned address"))
    done = _withdrawal(events)
    assert (done.status, done.reason) == (WithdrawalStatus.REJECTED, "sanctioned address")
    assert events[1] == BalanceChanged(events[0].seq, events[0].ts, ALICE, "USDC", 100 * USDC, 0, 0)
    assert h.balance(ALICE, "USDC")[0] == "100.000000"


def test_held_funds_cannot_be_traded_or_withdrawn_twice(h: Harness) -> None:
    _deposit(h)
    _withdraw(h, 80 * USDC)
    assert _unchanged(
        h, RequestWithdrawal(user_id=ALICE, asset="USDC", amount=21 * USDC, destination="a")
    ) is (Reason.INSUFFICIENT_FUNDS)
    assert rejected(h.place(ALICE, "buy", "100.00", "0.3")).reason is Reason.INSUFFICIENT_FUNDS
    _withdraw(h, 20 * USDC)  # exactly what is left
    assert h.balance(ALICE, "USDC")[0] == "0.000000" and h.withdrawing(ALICE, "USDC") == "100.000000"


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"asset": "DOGE"}, Reason.UNKNOWN_ASSET),
        ({"amount": 0}, Reason.INVALID_QUANTITY),
        ({"amount": -1}, Reason.INVALID_QUANTITY),
        ({"amount": MAX_AMOUNT}, Reason.INVALID_QUANTITY),
        ({"destination": ""}, Reason.INVALID_REQUEST),
        ({"destination": "d" * 129}, Reason.INVALID_REQUEST),
        ({"destination": "line\nbreak"}, Reason.INVALID_REQUEST),
        ({"amount": 100 * USDC + 1}, Reason.INSUFFICIENT_FUNDS),
        ({"user_id": FEE_ACCOUNT}, Reason.INVALID_REQUEST),
        ({"user_id": BOB}, Reason.INSUFFICIENT_FUNDS),  # nothing there
    ],
)
def test_a_bad_withdrawal_request_is_refused_and_changes_nothing(
    h: Harness, fields: dict[str, object], reason: Reason
) -> None:
    _deposit(h)
    base: dict[str, object] = {"user_id": ALICE, "asset": "USDC", "amount": USDC, "destination": "d" * 128}
    assert _unchanged(h, RequestWithdrawal(**(base | fields))) is reason  # type: ignore[arg-type]


def test_completing_or_rejecting_twice_or_an_unknown_one_is_refused(h: Harness) -> None:
    _deposit(h)
    w = _withdrawal(_withdraw(h))
    h.handle(CompleteWithdrawal(user_id=OPERATOR, withdrawal_id=w.id))
    again: list[AnyCommand] = [
        CompleteWithdrawal(user_id=OPERATOR, withdrawal_id=w.id),
        RejectWithdrawal(user_id=OPERATOR, withdrawal_id=w.id, reason="late"),
    ]
    assert [_unchanged(h, c) for c in again] == [Reason.WITHDRAWAL_NOT_PENDING] * 2
    unknown: list[AnyCommand] = [
        CompleteWithdrawal(user_id=OPERATOR, withdrawal_id=99),
        RejectWithdrawal(user_id=OPERATOR, withdrawal_id=-1, reason="no"),
    ]
    assert [_unchanged(h, c) for c in unknown] == [Reason.WITHDRAWAL_NOT_FOUND] * 2
    w2 = _withdrawal(_withdraw(h, USDC))
    bad_reason = RejectWithdrawal(user_id=OPERATOR, withdrawal_id=w2.id, reason="")
    assert _unchanged(h, bad_reason) is Reason.INVALID_REQUEST


def test_the_faucet_is_a_deposit_with_its_own_reference(h: Harness) -> None:
    (first, _) = h.fund(ALICE, "USDC", "5", limit=10 * USDC)
    assert isinstance(first, DepositCredited)
    d = first.deposit
    assert (d.reference, d.source, d.amount) == ("faucet:1", DepositSource.FAUCET, 5 * USDC)
    _deposit(h, ref="tx-9")
    (second, _) = h.fund(ALICE, "USDC", "5", limit=10 * USDC)  # the operator's deposit is not capped
    assert second.deposit.reference == "faucet:3"  # type: ignore[attr-defined]
    assert rejected(h.fund(ALICE, "USDC", "1", limit=10 * USDC)).reason is Reason.ONRAMP_LIMIT


def _funded_with_history() -> Harness:
    h = Harness()
    _deposit(h)
    _deposit(h, BOB, 50 * USDC, "tx-2")
    h.fund(ALICE, "SOL", "3")
    w1 = _withdrawal(_withdraw(h, 10 * USDC))
    _withdraw(h, 20 * USDC)
    w3 = _withdrawal(_withdraw(h, 5 * USDC, BOB, "bob's address"))
    h.handle(CompleteWithdrawal(user_id=OPERATOR, withdrawal_id=w1.id))
    h.handle(RejectWithdrawal(user_id=OPERATOR, withdrawal_id=w3.id, reason="no"))
    h.place(ALICE, "buy", "100.00", "0.5")
    return h


def test_funding_survives_a_snapshot_and_continues_the_same() -> None:
    h = _funded_with_history()
    snap = h.engine.snapshot()
    copy = Engine(VENUE.assets, VENUE.markets)
    copy.restore(msgspec.msgpack.decode(ENC.encode(snap), type=EngineSnapshot))
    copy.check_integrity()
    assert ENC.encode(copy.snapshot()) == ENC.encode(snap)
    assert copy.balances(ALICE)["USDC"] == (20 * USDC, 50 * USDC, 20 * USDC)
    assert [w.id for w in copy.funding.pending()] == [2]
    for cmd in (
        CompleteWithdrawal(user_id=OPERATOR, withdrawal_id=2, seq=50, ts=9_000),
        RequestWithdrawal(user_id=BOB, asset="USDC", amount=USDC, destination="x", seq=51, ts=9_001),
        Deposit(user_id=OPERATOR, account=BOB, asset="USDC", amount=USDC, reference="tx-1", seq=52, ts=9_002),
        Onramp(user_id=BOB, asset="USDC", amount=USDC, seq=53, ts=9_003),
    ):
        assert ENC.encode(copy.handle(cmd)) == ENC.encode(h.engine.handle(cmd))
    assert ENC.encode(copy.snapshot()) == ENC.encode(h.engine.snapshot())


def test_a_snapshot_from_before_funding_carries_its_balances_over_as_opening_deposits() -> None:
    """Format 1 has no funding records (its money came from journaled onramps): each balance,
    the fee account's too, becomes one OPENING deposit, and the books balance from there on."""
    h = _funded_with_history()
    new = ("deposits", "withdrawals", "next_deposit_id", "next_withdrawal_id", "format")
    old = {k: v for k, v in msgspec.to_builtins(h.engine.snapshot()).items() if k not in new}
    snap = msgspec.msgpack.decode(ENC.encode(old), type=EngineSnapshot)
    assert snap.format == 1
    copy = Engine(VENUE.assets, VENUE.markets)
    copy.restore(snap)
    copy.check_integrity()  # accounts + fees + holds = deposited - withdrawn
    opening = copy.funding.deposits_of(ALICE)
    assert {d.source for d in opening} == {DepositSource.OPENING}
    totals = {d.asset: d.amount for d in opening}
    held = {a: av + lk for a, (av, lk, _) in copy.balances(ALICE).items() if av + lk}
    assert totals == held
    fees = {a: av + lk for a, (av, lk, _) in copy.balances(FEE_ACCOUNT).items() if av + lk}
    assert {d.asset: d.amount for d in copy.funding.deposits_of(FEE_ACCOUNT)} == fees  # the fees too
    ids = [d.id for d in copy.funding.deposits.values()]
    more = Deposit(user_id=OPERATOR, account=BOB, asset="USDC", amount=USDC, reference="tx-after", seq=90)
    (credited,) = [e for e in copy.handle(more) if isinstance(e, DepositCredited)]
    assert credited.deposit.id > max(ids)  # ids go on after the carried-over ones
    copy.check_integrity()
    taken = copy.handle(Deposit(user_id=OPERATOR, account=BOB, asset="USDC", amount=USDC,
                                reference=f"opening:{BOB}:USDC", seq=91, ts=2))  # fmt: skip
    assert rejected(taken).reason == Reason.INVALID_REQUEST


def test_integrity_catches_a_hold_no_withdrawal_explains(h: Harness) -> None:
    _deposit(h)
    h.engine.ledger.hold_withdrawal(ALICE, "USDC", 5)
    with pytest.raises(AssertionError, match="withdrawing"):
        h.engine.check_integrity()


def test_integrity_catches_money_that_left_without_a_record(h: Harness) -> None:
    _deposit(h)
    h.engine.ledger.hold_withdrawal(ALICE, "USDC", 5)
    h.engine.ledger.send_withdrawal(ALICE, "USDC", 5)
    with pytest.raises(AssertionError, match="withdrawn"):
        h.engine.check_integrity()
