"""Stateful property test of the engine: random commands on two markets, checked at every step.

Four users (who also trade with themselves) place, cancel, amend and onramp on SOL_USDC and
BTC_USDC, with prices in a narrow band around a mid so that orders cross often, plus a share of
invalid input. Money also comes and goes by funding: operators' deposits (references drawn from
a small pool, so that the same one comes again, with the same details or others), withdrawals
requested against what is available (or more), then completed or rejected (or again).
After every step, per asset, all accounts + fees + withdrawal holds = deposits (the faucet's
included) - completed withdrawals, as this test counts them from the commands it sent.

Before each command a small model predicts from the snapshot alone whether the engine must
accept it or reject it, and why; after it, the events are checked against the model
(the exact fills of price-time priority with self-trade prevention, fees, every balance's move,
book deltas) and against the engine's own ``check_integrity``. Each step also runs on an engine
restored from the snapshot taken before it, and the teardown replays the whole journal.
Command number n (the seq) runs at the fake time ``T0 + 1000 * n``.

This file owns the hypothesis strategies and ``EngineMachine``; the model lives in
``tests/property/model.py`` and the per-step checks in ``tests/property/checks.py``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import msgspec
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, rule

from exchange.domain.commands import (
    AmendOrder,
    AnyCommand,
    CancelAll,
    CancelOrder,
    CompleteWithdrawal,
    Deposit,
    Onramp,
    OrderType,
    PlaceOrder,
    RejectWithdrawal,
    RequestWithdrawal,
    Side,
)
from exchange.domain.commands import SelfTradePrevention as Stp
from exchange.domain.commands import TimeInForce as Tif
from exchange.domain.events import OrderAccepted, OrderRejected, WithdrawalStatus
from exchange.domain.ledger import FEE_ACCOUNT
from exchange.domain.markets import MAX_AMOUNT
from exchange.domain.reasons import Reason
from exchange.domain.snapshots import RestingOrder
from tests.property.checks import (
    OUTCOME_CHECKS,
    Step,
    check_balance_events,
    check_book,
    check_envelope,
    check_ledger_moves,
    check_matching,
    check_money,
    check_orders,
    check_queries,
    check_rejection,
    check_subject,
)
from tests.property.model import (
    BAND,
    COIDS,
    ENC,
    SPECS,
    SYMBOLS,
    T0,
    UNIT,
    USERS,
    Spec,
    View,
    new_engine,
    predict,
)

# -- strategies --------------------------------------------------------------------------------
USER = st.sampled_from(USERS)
SYMBOL = st.sampled_from(SYMBOLS)
SIDE = st.sampled_from(Side)
STP = st.sampled_from(Stp)
COID = st.sampled_from((None, None, None, *COIDS))
MOSTLY = st.sampled_from((True,) * 7 + (False,))
Fields = dict[str, Any]


def _market(**fields: Any) -> Fields:
    return {"type": OrderType.MARKET, "price": None, **fields}


#: Place orders with exactly one thing wrong; the model must predict a rejection.
FLAWS: dict[str, Callable[[Spec], Fields]] = {
    "price_zero": lambda s: {"price": 0},
    "price_negative": lambda s: {"price": -s.mid},
    "price_above_max": lambda s: {"price": s.max_price + 1},
    "price_missing": lambda s: {"price": None},
    "qty_zero": lambda s: {"quantity": 0},
    "qty_negative": lambda s: {"quantity": -s.lot},
    "qty_above_max": lambda s: {"quantity": s.max_qty + 1},
    "qty_missing": lambda s: {"quantity": None},
    "below_min_notional": lambda s: {"price": s.mid - BAND, "quantity": 1},
    "limit_with_quote": lambda s: {"quote_quantity": s.min_notional},
    "post_only_ioc": lambda s: {"post_only": True, "time_in_force": Tif.IOC},
    "post_only_fok": lambda s: {"post_only": True, "time_in_force": Tif.FOK},
    "market_with_price": lambda s: {"type": OrderType.MARKET},
    "market_with_tif": lambda s: _market(time_in_force=Tif.GTC),
    "market_post_only": lambda s: _market(post_only=True),
    "market_qty_and_quote": lambda s: _market(side=Side.BUY, quote_quantity=s.min_notional),
    "market_sell_by_quote": lambda s: _market(side=Side.SELL, quantity=None, quote_quantity=s.min_notional),
    "market_without_amount": lambda s: _market(quantity=None),
    "quote_zero": lambda s: _market(side=Side.BUY, quantity=None, quote_quantity=0),
    "quote_below_min_notional": lambda s: _market(
        side=Side.BUY, quantity=None, quote_quantity=s.min_notional - 1
    ),
    "quote_out_of_range": lambda s: _market(side=Side.BUY, quantity=None, quote_quantity=MAX_AMOUNT),
    "coid_empty": lambda s: {"client_order_id": ""},
    "coid_bad_char": lambda s: {"client_order_id": "a b"},
    "coid_too_long": lambda s: {"client_order_id": "x" * 37},
    "unknown_symbol": lambda s: {"symbol": "DOGE_USDC"},
    "fee_account_user": lambda s: {"user_id": FEE_ACCOUNT},
    "negative_user": lambda s: {"user_id": -7},
}


#: Onramps with exactly one thing wrong: (unit, already onramped) -> fields to change.
ONRAMP_FLAWS: dict[str, Callable[[int, int], Fields]] = {
    "onramp_unknown_asset": lambda unit, done: {"asset": "DOGE"},
    "onramp_zero": lambda unit, done: {"amount": 0},
    "onramp_negative": lambda unit, done: {"amount": -unit},
    "onramp_out_of_range": lambda unit, done: {"amount": MAX_AMOUNT},
    "onramp_over_limit": lambda unit, done: {"limit": done + unit - 1},
    "onramp_fee_account": lambda unit, done: {"user_id": FEE_ACCOUNT},
}


#: Funding with exactly one thing wrong: fields to change in a deposit or a withdrawal request.
DEPOSIT_FLAWS: dict[str, Fields] = {
    "deposit_to_fee_account": {"account": FEE_ACCOUNT},
    "deposit_by_fee_account": {"user_id": FEE_ACCOUNT},
    "deposit_unknown_asset": {"asset": "DOGE"},
    "deposit_zero": {"amount": 0},
    "deposit_negative": {"amount": -1},
    "deposit_out_of_range": {"amount": MAX_AMOUNT},
    "deposit_empty_reference": {"reference": ""},
    "deposit_long_reference": {"reference": "r" * 65},
    "deposit_control_reference": {"reference": "tx\n1"},
    "deposit_faucet_reference": {"reference": "faucet:1"},
}
WITHDRAW_FLAWS: dict[str, Fields] = {
    "withdraw_unknown_asset": {"asset": "DOGE"},
    "withdraw_zero": {"amount": 0},
    "withdraw_negative": {"amount": -1},
    "withdraw_out_of_range": {"amount": MAX_AMOUNT},
    "withdraw_no_destination": {"destination": ""},
    "withdraw_long_destination": {"destination": "d" * 129},
    "withdraw_unicode_destination": {"destination": "adresse-é"},
    "withdraw_by_fee_account": {"user_id": FEE_ACCOUNT},
}
REFERENCES = ("tx-1", "tx-2", "tx-3", "x" * 64, "a reference with spaces ~!")
OPERATOR = 99  # any user may act as an operator in the engine: the web decides who is one

Draw = Callable[[st.SearchStrategy[int]], int]
_MOVE = st.integers(-BAND, BAND)

#: Amend changes: (old quantity, executed, market, draw) -> (new price, new quantity).
AMENDS: dict[str, Callable[[int, int, Spec, Draw], tuple[int | None, int | None]]] = {
    "smaller": lambda q, x, s, draw: (None, draw(st.integers(1, max(1, q - 1)))),
    "same": lambda q, x, s, draw: (None, q),
    "larger": lambda q, x, s, draw: (None, q + s.lot * draw(st.integers(1, 3))),
    "price": lambda q, x, s, draw: (s.mid + draw(_MOVE), None),
    "price_and_qty": lambda q, x, s, draw: (s.mid + draw(_MOVE), s.lot * draw(st.integers(1, 6))),
    "nothing": lambda q, x, s, draw: (None, None),
    "qty_zero": lambda q, x, s, draw: (None, 0),
    "qty_executed": lambda q, x, s, draw: (None, x),
    "qty_above_max": lambda q, x, s, draw: (None, s.max_qty + 1),
    "price_zero": lambda q, x, s, draw: (0, None),
    "price_above_max": lambda q, x, s, draw: (s.max_price + 1, None),
}


class EngineMachine(RuleBasedStateMachine):
    """Random commands into one engine; every step checked, the journal replayed at the end."""

    def __init__(self) -> None:
        super().__init__()
        self.engine = new_engine()
        self.view = View(self.engine.snapshot())
        self.journal: list[tuple[AnyCommand, bytes]] = []
        self.deposited: Counter[str] = Counter()
        self.withdrawn: Counter[str] = Counter()
        self.seen_ids: list[int] = []
        self.clean = True

    def run(self, make: type[AnyCommand], *, must_reject: bool = False, **fields: Any) -> None:
        seq = len(self.journal) + 1
        cmd = make(seq=seq, ts=T0 + 1000 * seq, request_id=f"r{seq}", **fields)
        self.clean = False
        before = self.view
        expected = predict(cmd, before)
        assert expected is not None or not must_reject, f"model lets a flawed command pass: {cmd}"
        shadow = new_engine()
        shadow.restore(before.snap)
        assert ENC.encode(shadow.snapshot()) == before.raw, "snapshot -> restore -> snapshot differs"
        events = self.engine.handle(cmd)
        self.engine.check_integrity()
        encoded = ENC.encode(events)
        assert ENC.encode(shadow.handle(cmd)) == encoded, "a restored engine answered differently"
        after = View(self.engine.snapshot())
        assert ENC.encode(shadow.snapshot()) == after.raw, "a restored engine ended in another state"
        self.journal.append((cmd, encoded))
        self.check(Step(cmd, events, before, after), expected)
        self.view = after
        self.clean = True

    def check(self, step: Step, expected: Reason | None) -> None:
        check_envelope(step)
        rejected = check_rejection(step, expected)
        check_subject(step)
        if not rejected:
            OUTCOME_CHECKS[type(step.cmd)](step.cmd, step)
            self.count_money(step)
        self.seen_ids += [e.order.order_id for e in step.events if isinstance(e, OrderAccepted)]
        check_matching(step)
        check_orders(step)
        check_money(step, self.engine, self.deposited, self.withdrawn)
        check_ledger_moves(step, rejected)
        check_book(step, self.engine)
        check_balance_events(step)
        check_queries(step, self.engine)

    def count_money(self, step: Step) -> None:
        """What an accepted command brought in or sent out, from the command and the state before."""
        cmd = step.cmd
        new = isinstance(cmd, Deposit) and cmd.reference not in step.before.deposits
        if isinstance(cmd, Onramp) or new:
            self.deposited[cmd.asset] += cmd.amount
        elif isinstance(cmd, CompleteWithdrawal):
            w = step.before.withdrawals[cmd.withdrawal_id]
            self.withdrawn[w.asset] += w.amount

    # -- rules ---------------------------------------------------------------------------------
    @initialize(amounts=st.lists(st.sampled_from((10, 100, 1000)), min_size=12, max_size=12))
    def fund(self, amounts: list[int]) -> None:
        pairs = [(user, asset) for user in USERS for asset in ("USDC", "SOL", "BTC")]
        for (user, asset), n in zip(pairs, amounts, strict=True):
            self.run(Onramp, user_id=user, asset=asset, amount=n * UNIT[asset])

    @rule(
        user=USER, asset=st.sampled_from(("USDC", "USDC", "SOL", "BTC")), mult=st.sampled_from((1, 10, 100)),
        capped=st.booleans(),
    )  # fmt: skip
    def onramp(self, user: int, asset: str, mult: int, capped: bool) -> None:
        amount = mult * UNIT[asset]
        cap = self.view.onramped.get((user, asset), 0) + amount if capped else None  # exactly at the cap
        self.run(Onramp, user_id=user, asset=asset, amount=amount, limit=cap)

    @rule(
        user=USER, symbol=SYMBOL, side=SIDE, stp=STP, coid=COID, offset=_MOVE,
        lots=st.integers(1, 6), extra=st.sampled_from((0, 0, 1)),
        tif=st.sampled_from((None, Tif.GTC, Tif.GTC, Tif.IOC, Tif.FOK)),
        post_only=st.sampled_from((False, False, False, True)),
    )  # fmt: skip
    def place_limit(
        self, user: int, symbol: str, side: Side, stp: Stp, coid: str | None, offset: int,
        lots: int, extra: int, tif: Tif | None, post_only: bool,
    ) -> None:  # fmt: skip
        s = SPECS[symbol]
        self.run(
            PlaceOrder, user_id=user, symbol=symbol, side=side, type=OrderType.LIMIT, price=s.mid + offset,
            quantity=lots * s.lot + extra, time_in_force=tif, post_only=post_only, client_order_id=coid,
            stp=stp,
        )  # fmt: skip

    @rule(
        orders=st.lists(
            st.tuples(USER, SYMBOL, SIDE, COID, st.integers(1, 6), st.integers(0, BAND)), max_size=3
        )
    )
    def place_makers(self, orders: list[tuple[int, str, Side, str | None, int, int]]) -> None:
        """GTC limits on their own side of the mid, so that the books fill up."""
        for user, symbol, side, coid, lots, depth in orders:
            s = SPECS[symbol]
            price = s.mid - depth if side is Side.BUY else s.mid + depth
            self.run(
                PlaceOrder, user_id=user, symbol=symbol, side=side, type=OrderType.LIMIT, price=price,
                quantity=lots * s.lot, post_only=depth > 2, client_order_id=coid,
            )  # fmt: skip

    @rule(
        user=USER, symbol=SYMBOL, side=SIDE, stp=STP, coid=COID, lots=st.integers(1, 6),
        budget=st.sampled_from((None, None, 1, 3, 10, 40)),
        odd=st.sampled_from((0, 1, 12_345)),
    )  # fmt: skip
    def place_market(
        self, user: int, symbol: str, side: Side, stp: Stp, coid: str | None, lots: int,
        budget: int | None, odd: int,
    ) -> None:  # fmt: skip
        s = SPECS[symbol]
        by_quote = budget is not None and side is Side.BUY  # a sell by quote is among the flaws
        self.run(
            PlaceOrder, user_id=user, symbol=symbol, side=side, type=OrderType.MARKET,
            quantity=None if by_quote else lots * s.lot,
            quote_quantity=(budget or 0) * s.min_notional + odd if by_quote else None,
            client_order_id=coid, stp=stp,
        )  # fmt: skip

    @rule(
        user=USER, symbol=SYMBOL, side=SIDE, asset=st.sampled_from(("USDC", "SOL", "BTC")),
        flaw=st.sampled_from(sorted(FLAWS) + sorted(ONRAMP_FLAWS)),
    )  # fmt: skip
    def invalid(self, user: int, symbol: str, side: Side, asset: str, flaw: str) -> None:
        """A place order or an onramp with exactly one thing wrong."""
        if flaw in ONRAMP_FLAWS:
            done = self.view.onramped.get((user, asset), 0)
            fields: Fields = {"user_id": user, "asset": asset, "amount": UNIT[asset]}
            fields.update(ONRAMP_FLAWS[flaw](UNIT[asset], done))
            self.run(Onramp, must_reject=True, **fields)
            return
        s = SPECS[symbol]
        fields = {
            "user_id": user, "symbol": symbol, "side": side, "type": OrderType.LIMIT,
            "price": s.mid, "quantity": s.lot,
        }  # fmt: skip
        fields.update(FLAWS[flaw](s))
        self.run(PlaceOrder, must_reject=True, **fields)

    @rule(
        data=st.data(), account=USER, asset=st.sampled_from(("USDC", "SOL", "BTC")),
        mult=st.sampled_from((1, 10, 100)), reference=st.sampled_from(REFERENCES),
        again=st.sampled_from((False, False, True)),
    )  # fmt: skip
    def deposit(
        self, data: st.DataObject, account: int, asset: str, mult: int, reference: str, again: bool
    ) -> None:
        """An operator's deposit; now and then exactly one credited before (a retried webhook)."""
        earlier = [d for d in self.view.deposits.values() if not d.reference.startswith("faucet:")]
        if again and earlier:
            d = data.draw(st.sampled_from(earlier), label="again")
            account, asset, mult, reference = d.user_id, d.asset, d.amount // UNIT[d.asset], d.reference
            amount = d.amount
        else:
            amount = mult * UNIT[asset]
        self.run(Deposit, user_id=OPERATOR, account=account, asset=asset, amount=amount, reference=reference)

    @rule(
        user=USER, asset=st.sampled_from(("USDC", "USDC", "SOL", "BTC")),
        share=st.sampled_from((1, 2, 4, 4, 5)), destination=st.sampled_from(("addr-1", "d" * 128, " ~ ")),
    )  # fmt: skip
    def withdraw(self, user: int, asset: str, share: int, destination: str) -> None:
        """A quarter, half or all of what is available; now and then one unit more than that."""
        available = self.view.available(user, asset)
        amount = available * share // 4 if share <= 4 else available + 1
        self.run(RequestWithdrawal, user_id=user, asset=asset, amount=amount, destination=destination)

    @rule(
        data=st.data(), complete=st.booleans(), aim=MOSTLY,
        reason=st.sampled_from(("address on a sanctions list", "x" * 128, "", "é")),
    )  # fmt: skip
    def settle_withdrawal(self, data: st.DataObject, complete: bool, aim: bool, reason: str) -> None:
        """Complete or reject mostly a pending withdrawal; else a settled one or no such id."""
        pending = [w.id for w in self.view.withdrawals.values() if w.status is WithdrawalStatus.PENDING]
        others = [*self.view.withdrawals, 0, 10**9]
        wid = data.draw(st.sampled_from(pending if aim and pending else others), label="withdrawal")
        if complete:
            self.run(CompleteWithdrawal, user_id=OPERATOR, withdrawal_id=wid)
        else:
            self.run(RejectWithdrawal, user_id=OPERATOR, withdrawal_id=wid, reason=reason)

    @rule(
        user=USER, asset=st.sampled_from(("USDC", "SOL", "BTC")),
        flaw=st.sampled_from(sorted(DEPOSIT_FLAWS) + sorted(WITHDRAW_FLAWS)),
    )  # fmt: skip
    def invalid_funding(self, user: int, asset: str, flaw: str) -> None:
        """A deposit or a withdrawal request with exactly one thing wrong."""
        if flaw in DEPOSIT_FLAWS:
            fields: Fields = {"user_id": OPERATOR, "account": user, "asset": asset, "amount": UNIT[asset],
                              "reference": "tx-new"}  # fmt: skip
            self.run(Deposit, must_reject=True, **(fields | DEPOSIT_FLAWS[flaw]))
            return
        fields = {"user_id": user, "asset": asset, "amount": 1, "destination": "addr"}
        self.run(RequestWithdrawal, must_reject=True, **(fields | WITHDRAW_FLAWS[flaw]))

    def _target(self, data: st.DataObject) -> tuple[int, str, int | None, str | None, RestingOrder | None]:
        """Mostly an open order named by its owner; else other users, other markets, old ids."""
        resting = list(self.view.orders.values())
        aim = bool(resting) and data.draw(MOSTLY, label="aim")
        r = data.draw(st.sampled_from(resting), label="order") if aim else None
        own = r is not None and data.draw(MOSTLY, label="own")
        user = r.user if r is not None and own else data.draw(USER, label="user")
        here = r is not None and data.draw(MOSTLY, label="here")
        symbol = r.symbol if r is not None and here else data.draw(st.sampled_from((*SYMBOLS, "DOGE_USDC")))
        order_id = r.id if r is not None else data.draw(st.sampled_from((*self.seen_ids, 0, 10**9)))
        coid = r.coid if r is not None and r.coid else data.draw(st.sampled_from(COIDS), label="coid")
        how = data.draw(st.sampled_from(("named",) * 6 + ("both", "neither")), label="how")
        if how == "named":
            by_coid = (r is None or r.coid is not None) and data.draw(st.booleans(), label="by coid")
            return user, symbol, None if by_coid else order_id, coid if by_coid else None, r
        return user, symbol, order_id if how == "both" else None, coid if how == "both" else None, r

    @rule(data=st.data(), everything=st.sampled_from((False, False, False, False, True)))
    def cancel(self, data: st.DataObject, everything: bool) -> None:
        """Cancel one order, or now and then all of a user's orders (in one market or all)."""
        if everything:
            user = data.draw(st.sampled_from((*USERS, FEE_ACCOUNT)), label="user")
            symbol = data.draw(st.sampled_from((None, *SYMBOLS, "DOGE_USDC")), label="symbol")
            self.run(CancelAll, user_id=user, symbol=symbol)
            return
        user, symbol, order_id, coid, _ = self._target(data)
        self.run(CancelOrder, user_id=user, symbol=symbol, order_id=order_id, client_order_id=coid)

    @rule(
        data=st.data(),
        change=st.sampled_from((*sorted(AMENDS), "smaller", "smaller", "price", "price", "larger")),
    )
    def amend(self, data: st.DataObject, change: str) -> None:
        user, symbol, order_id, coid, r = self._target(data)
        s = SPECS[r.symbol if r is not None else SYMBOLS[0]]
        qty, executed = (r.qty, r.executed) if r is not None else (s.lot, 0)
        price, quantity = AMENDS[change](qty, executed, s, data.draw)
        self.run(
            AmendOrder, user_id=user, symbol=symbol, order_id=order_id, client_order_id=coid,
            price=price, quantity=quantity,
        )  # fmt: skip

    @rule(data=st.data())
    def resubmit(self, data: st.DataObject) -> None:
        """A command delivered again (Redis redelivery, a gateway's retry) changes nothing: the
        engine answers DUPLICATE_REQUEST, and its state differs only by the sequence number."""
        if not self.journal:
            return
        earlier, _ = data.draw(st.sampled_from(self.journal))
        seq = len(self.journal) + 1
        cmd = msgspec.structs.replace(earlier, seq=seq, ts=T0 + 1000 * seq)
        before = self.engine.snapshot()
        self.clean = False
        events = self.engine.handle(cmd)
        self.engine.check_integrity()
        (rejection,) = events
        assert isinstance(rejection, OrderRejected) and rejection.reason is Reason.DUPLICATE_REQUEST
        assert ENC.encode(self.engine.snapshot()) == ENC.encode(
            msgspec.structs.replace(before, last_seq=seq)
        ), "a duplicate request changed the engine's state"
        self.journal.append((cmd, ENC.encode(events)))
        self.view = View(self.engine.snapshot())
        self.clean = True

    # -- the end -------------------------------------------------------------------------------
    def teardown(self) -> None:
        if not self.clean or not self.journal:
            return  # a step already failed: let its error stand alone
        replay = new_engine()
        for cmd, encoded in self.journal:
            assert ENC.encode(replay.handle(cmd)) == encoded, f"replay diverged at seq {cmd.seq}: {cmd}"
        replay.check_integrity()
        final = ENC.encode(self.engine.snapshot())
        assert ENC.encode(replay.snapshot()) == final, "replay ended in another state"
        restored = new_engine()
        restored.restore(self.engine.snapshot())
        restored.check_integrity()
        assert ENC.encode(restored.snapshot()) == final, "snapshot -> restore -> snapshot differs"
        for cmd in self._probes():
            got, want = restored.handle(cmd), self.engine.handle(cmd)
            assert ENC.encode(got) == ENC.encode(want), f"restored engine answered {cmd} differently"
        assert ENC.encode(restored.snapshot()) == ENC.encode(self.engine.snapshot())

    def _probes(self) -> list[AnyCommand]:
        """Commands that sweep both books, then cancel everything, stamped after the journal."""
        seq = len(self.journal)
        out: list[AnyCommand] = []
        for symbol in SYMBOLS:
            s = SPECS[symbol]
            for side in Side:
                seq += 1
                out.append(PlaceOrder(
                    user_id=1, seq=seq, ts=T0 + 1000 * seq, symbol=symbol, side=side,
                    type=OrderType.MARKET, quantity=3 * s.lot, stp=Stp.NONE,
                ))  # fmt: skip
        for user in USERS:
            seq += 1
            out.append(CancelAll(user_id=user, seq=seq, ts=T0 + 1000 * seq))
        for i, w in enumerate(self.engine.funding.pending()):
            seq += 1
            settle = CompleteWithdrawal if i % 2 else RejectWithdrawal
            extra = {} if i % 2 else {"reason": "probe"}
            out.append(settle(user_id=OPERATOR, withdrawal_id=w.id, seq=seq, ts=T0 + 1000 * seq, **extra))
        seq += 1
        out.append(Deposit(user_id=OPERATOR, account=1, asset="USDC", amount=UNIT["USDC"], reference="probe",
                           seq=seq, ts=T0 + 1000 * seq))  # fmt: skip
        return out


EngineMachine.TestCase.settings = settings(stateful_step_count=50, deadline=None)
TestEngineMachine = EngineMachine.TestCase
