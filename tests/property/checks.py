"""The per-step checks of the engine's stateful property test (``test_engine_machine.py``).

It owns ``Step`` (one command, its events, and the views before and after) and the ``check_*``
functions that hold each step to the model in ``tests.property.model``: the event envelope, the
verdict, each command's outcome, matching, open orders, money, ledger moves, the book, balance
events and the engine's look-ups.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from typing import Any, NamedTuple

import msgspec

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
from exchange.domain.engine import Engine
from exchange.domain.events import (
    BalanceChanged,
    BookChanged,
    DepositCredited,
    DepositSource,
    Event,
    OrderAccepted,
    OrderAmended,
    OrderCanceled,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    OrderState,
    OrderStatus,
    Role,
    TradeExecuted,
    WithdrawalChanged,
    WithdrawalStatus,
    subject,
)
from exchange.domain.ledger import FEE_ACCOUNT
from exchange.domain.reasons import Reason
from exchange.domain.snapshots import RestingOrder
from tests.property.model import (
    EVENT_RANK,
    OPEN,
    ORDER_EVENTS,
    SPECS,
    SYMBOLS,
    USERS,
    Sim,
    View,
    amended,
    expected_end,
    find,
    simulate,
    taker_of,
)


class Step(NamedTuple):
    cmd: AnyCommand
    events: list[Event]
    before: View
    after: View


def order_of(e: Event) -> OrderState | None:
    return e.order if isinstance(e, ORDER_EVENTS) else None


def check_envelope(step: Step) -> None:
    cmd, events = step.cmd, step.events
    assert all(e.seq == cmd.seq and e.ts == cmd.ts for e in events), "events carry the command's seq and ts"
    ranks = [EVENT_RANK.get(type(e), 0) for e in events]
    assert ranks == sorted(ranks), f"events out of order: {[type(e).__name__ for e in events]}"
    if any(isinstance(e, OrderRejected) for e in events):
        assert len(events) == 1, f"a rejection comes alone: {events}"
    assert step.after.snap.last_seq == cmd.seq
    stamps = [o.updated_at for e in events if (o := order_of(e)) is not None]
    assert all(ts == cmd.ts for ts in stamps), "an order changed by a command carries its ts"


def check_rejection(step: Step, expected: Reason | None) -> bool:
    """The model's verdict holds, and a rejection is one event that changed nothing."""
    events = step.events
    rejected = bool(events) and isinstance(events[0], OrderRejected)
    if expected is None:
        assert not rejected, f"model says accept, engine said {events[0]}"
        return False
    assert rejected, f"model says {expected}, engine accepted: {events}"
    ev = events[0]
    assert isinstance(ev, OrderRejected)
    assert ev.reason == expected, f"model says {expected}, engine said {ev}"
    assert ev.user_id == step.cmd.user_id
    assert ev.client_order_id == getattr(step.cmd, "client_order_id", None)
    assert step.after.raw_seq0 == step.before.raw_seq0, "a rejected command changed the state"
    return True


#: The event that answers an accepted command of each kind first, about the command's order.
SUBJECT_EVENTS: dict[type, type] = {
    PlaceOrder: OrderAccepted,
    CancelOrder: OrderCanceled,
    AmendOrder: OrderAmended,
}


def check_subject(step: Step) -> None:
    """An accepted place, cancel or amend is answered first by its own order's event."""
    cmd = step.cmd
    if type(cmd) not in SUBJECT_EVENTS or isinstance(step.events[0], OrderRejected):
        return
    first = step.events[0]
    assert type(first) is SUBJECT_EVENTS[type(cmd)], f"{type(cmd).__name__} answered first by {first}"
    if isinstance(cmd, PlaceOrder):
        assert subject(step.events).order_id == step.before.snap.next_order_id
    else:
        target = find(cmd, step.before)
        assert isinstance(target, RestingOrder) and subject(step.events).order_id == target.id


def check_placed(cmd: PlaceOrder, step: Step) -> None:
    first = step.events[0]
    assert isinstance(first, OrderAccepted), f"a placed order starts with OrderAccepted: {first}"
    o = first.order
    tif = Tif.IOC if cmd.type is OrderType.MARKET else (cmd.time_in_force or Tif.GTC)
    assert o.order_id == step.before.snap.next_order_id
    assert (o.user_id, o.symbol, o.side, o.type, o.time_in_force) == (
        cmd.user_id, cmd.symbol, cmd.side, cmd.type, tif,
    )  # fmt: skip
    assert (o.price, o.quantity, o.quote_quantity) == (cmd.price, cmd.quantity, cmd.quote_quantity)
    assert (o.client_order_id, o.post_only, o.stp) == (cmd.client_order_id, cmd.post_only, cmd.stp)
    assert (o.status, o.executed_qty, o.executed_quote, o.created_at) == (OrderStatus.NEW, 0, 0, cmd.ts)


def check_canceled(cmd: CancelOrder, step: Step) -> None:
    target = find(cmd, step.before)
    assert isinstance(target, RestingOrder)
    canceled = [e.order for e in step.events if isinstance(e, OrderCanceled)]
    assert [o.order_id for o in canceled] == [target.id], f"cancel of {target.id}: {step.events}"
    assert canceled[0].status is OrderStatus.CANCELED and canceled[0].executed_qty == target.executed
    assert target.id not in step.after.orders


def check_canceled_all(cmd: CancelAll, step: Step) -> None:
    def mine(r: RestingOrder) -> bool:
        return r.user == cmd.user_id and cmd.symbol in (None, r.symbol)

    canceled = sorted(e.order.order_id for e in step.events if isinstance(e, OrderCanceled))
    assert canceled == sorted(r.id for r in step.before.orders.values() if mine(r))
    assert not any(mine(r) for r in step.after.orders.values())
    assert all(isinstance(e, (OrderCanceled, BookChanged, BalanceChanged)) for e in step.events)


def check_amended(cmd: AmendOrder, step: Step) -> None:
    target = find(cmd, step.before)
    assert isinstance(target, RestingOrder)
    price, qty = amended(cmd, target)
    first = step.events[0]
    assert isinstance(first, OrderAmended) and first.order.order_id == target.id, step.events
    o = first.order
    assert (o.price, o.quantity, o.executed_qty) == (price, qty, target.executed)
    keeps_place = price == target.price and qty <= target.qty
    assert first.requeued is not keeps_place
    if keeps_place:
        now = step.after.orders[target.id]
        assert (now.queue, now.remaining) == (target.queue, qty - target.executed), (
            "amend down keeps the queue"
        )
    elif target.id in step.after.orders:
        assert step.after.orders[target.id].queue >= step.before.snap.next_queue[target.symbol]


def check_deposited(cmd: Onramp | Deposit, step: Step) -> None:
    """A new deposit is recorded under the next id and credited; a reference seen before with the
    same details answers with that deposit, ``duplicate``, and nothing else."""
    first, rest = step.events[0], step.events[1:]
    assert isinstance(first, DepositCredited), f"a deposit starts with DepositCredited: {first}"
    earlier = step.before.deposits.get(cmd.reference) if isinstance(cmd, Deposit) else None
    if earlier is not None:
        assert first.duplicate and first.deposit == earlier and not rest, step.events
        return
    d, next_id = first.deposit, step.before.snap.next_deposit_id
    faucet = isinstance(cmd, Onramp)
    user = cmd.user_id if isinstance(cmd, Onramp) else cmd.account
    reference = f"faucet:{next_id}" if isinstance(cmd, Onramp) else cmd.reference
    assert not first.duplicate
    assert (d.id, d.user_id, d.asset, d.amount, d.reference, d.created_at, d.updated_at) == (
        next_id, user, cmd.asset, cmd.amount, reference, cmd.ts, cmd.ts,
    )  # fmt: skip
    assert d.source is (DepositSource.FAUCET if faucet else DepositSource.OPERATOR)
    assert step.after.deposits[reference] == d
    assert [(e.user_id, e.asset) for e in rest if isinstance(e, BalanceChanged)] == [(user, cmd.asset)]
    assert len(rest) == 1


def check_withdrawal(cmd: RequestWithdrawal | CompleteWithdrawal | RejectWithdrawal, step: Step) -> None:
    """One WithdrawalChanged with the withdrawal as it now stands, then its user's balance."""
    first, rest = step.events[0], step.events[1:]
    assert isinstance(first, WithdrawalChanged), (
        f"a withdrawal command starts with WithdrawalChanged: {first}"
    )
    w = first.withdrawal
    if isinstance(cmd, RequestWithdrawal):
        assert (w.id, w.user_id, w.asset, w.amount, w.destination, w.status, w.reason, w.created_at) == (
            step.before.snap.next_withdrawal_id, cmd.user_id, cmd.asset, cmd.amount, cmd.destination,
            WithdrawalStatus.PENDING, None, cmd.ts,
        )  # fmt: skip
    else:
        old = step.before.withdrawals[cmd.withdrawal_id]
        rejected = isinstance(cmd, RejectWithdrawal)
        status = WithdrawalStatus.REJECTED if rejected else WithdrawalStatus.COMPLETED
        assert w == msgspec.structs.replace(
            old, status=status, updated_at=cmd.ts, reason=cmd.reason if rejected else None
        ), f"{old} -> {w}"
    assert step.after.withdrawals[w.id] == w
    assert [(e.user_id, e.asset) for e in rest if isinstance(e, BalanceChanged)] == [(w.user_id, w.asset)]
    assert len(rest) == 1


OUTCOME_CHECKS: dict[type, Callable[[Any, Step], None]] = {
    PlaceOrder: check_placed,
    CancelOrder: check_canceled,
    CancelAll: check_canceled_all,
    AmendOrder: check_amended,
    Onramp: check_deposited,
    Deposit: check_deposited,
    RequestWithdrawal: check_withdrawal,
    CompleteWithdrawal: check_withdrawal,
    RejectWithdrawal: check_withdrawal,
}


def taker_state(events: list[Event]) -> OrderState | None:
    """The order that took liquidity in this command, as it stood before matching."""
    for e in events:
        if isinstance(e, OrderAccepted) or (isinstance(e, OrderAmended) and e.requeued):
            return e.order
    return None


def check_matching(step: Step) -> None:
    """Fills are exactly price-time priority with STP, each at the maker's price."""
    events = step.events
    trades = [e for e in events if isinstance(e, TradeExecuted)]
    t = taker_state(events)
    if t is None:
        assert not any(isinstance(e, (TradeExecuted, OrderFilled, OrderExpired)) for e in events)
        return
    sim = simulate(step.before, taker_of(t))
    if t.time_in_force is Tif.FOK and sim.end != "filled":
        sim = Sim([], [], "open")  # fill or kill: nothing at all happens
    got = [(e.maker_order_id, e.price, e.quantity) for e in trades]
    assert got == sim.fills, f"fills {got}, price-time priority says {sim.fills}"
    first_id = step.before.snap.next_trade_id
    assert [e.trade_id for e in trades] == list(range(first_id, first_id + len(trades)))
    stp = [e for e in events if isinstance(e, OrderExpired) and e.order.order_id != t.order_id]
    assert [e.order.order_id for e in stp] == sim.expired, f"STP expired {stp}, expected {sim.expired}"
    assert all(e.why == "STP" and e.order.user_id == t.user_id for e in stp)
    check_taker_end(t, sim, events)
    for i, e in enumerate(events):
        if isinstance(e, TradeExecuted):
            check_trade(e, t, step.before.orders[e.maker_order_id], events[i + 1 : i + 3])


def check_taker_end(t: OrderState, sim: Sim, events: list[Event]) -> None:
    status, why = expected_end(t, sim)
    states = [o for e in events if (o := order_of(e)) is not None and o.order_id == t.order_id]
    last = states[-1]
    assert last.status is status, f"taker {t.order_id} ended {last.status}, model says {status}"
    assert last.executed_qty == t.executed_qty + sum(q for _, _, q in sim.fills)
    spent = sum(SPECS[t.symbol].notional(p, q) for _, p, q in sim.fills)
    assert last.executed_quote == t.executed_quote + spent
    whys = [e.why for e in events if isinstance(e, OrderExpired) and e.order.order_id == t.order_id]
    assert whys == ([why] if why else []), f"taker expired {whys}, model says {why}"


def check_trade(e: TradeExecuted, t: OrderState, maker: RestingOrder, fills: list[Event]) -> None:
    s = SPECS[e.symbol]
    buy = t.side is Side.BUY
    assert e.symbol == t.symbol == maker.symbol and e.taker_side is t.side and maker.side is not t.side
    assert e.price == maker.price, "a trade is at the maker's price"
    assert t.price is None or (e.price <= t.price if buy else e.price >= t.price), "taker limit"
    assert e.quote_quantity == s.notional(e.price, e.quantity)
    assert (e.maker_order_id, e.maker_user_id) == (maker.id, maker.user)
    assert (e.taker_order_id, e.taker_user_id) == (t.order_id, t.user_id)
    assert e.maker_user_id != e.taker_user_id or t.stp is Stp.NONE, "self-trade without stp=none"
    assert not t.post_only, "a postOnly order took liquidity"
    base = e.quantity * s.base_per_step
    taker_gets, maker_gets = (base, e.quote_quantity) if buy else (e.quote_quantity, base)
    assert e.taker_fee == math.ceil(taker_gets * s.taker_rate)
    assert e.maker_fee == math.ceil(maker_gets * s.maker_rate)
    taker_asset, maker_asset = (s.base, s.quote) if buy else (s.quote, s.base)
    expected = [
        (maker.id, Role.MAKER, e.maker_fee, maker_asset),
        (t.order_id, Role.TAKER, e.taker_fee, taker_asset),
    ]
    got = []
    for f in fills:
        assert isinstance(f, OrderFilled)
        assert (f.trade_id, f.price, f.quantity, f.quote_quantity) == (
            e.trade_id, e.price, e.quantity, e.quote_quantity,
        )  # fmt: skip
        got.append((f.order.order_id, f.role, f.fee, f.fee_asset))
    assert got == expected, f"OrderFilled pair {got}, expected {expected}"


def check_resting(r: RestingOrder, state: OrderState | None, old: RestingOrder | None, filled: int) -> None:
    assert r.type is OrderType.LIMIT and r.tif is Tif.GTC, f"order {r.id} rests but is not a GTC limit"
    assert 0 < r.remaining == r.qty - r.executed, f"order {r.id}: remaining {r.remaining}"
    assert r.status is (OrderStatus.PARTIALLY_FILLED if r.executed else OrderStatus.NEW)
    if state is None:
        assert old == r, f"order {r.id} changed without an event: {old} -> {r}"
        return
    assert (state.status, state.executed_qty, state.price, state.quantity) == (
        r.status, r.executed, r.price, r.qty,
    )  # fmt: skip
    if old is not None and filled:
        assert (r.executed, r.queue, r.price) == (old.executed + filled, old.queue, old.price)


def check_orders(step: Step) -> None:
    """Open orders change only with an event, and events agree with what rests afterwards."""
    before, after = step.before, step.after
    last: dict[int, OrderState] = {}
    filled: Counter[int] = Counter()
    for e in step.events:
        o = order_of(e)
        if o is not None:
            last[o.order_id] = o
        if isinstance(e, TradeExecuted):
            filled[e.maker_order_id] += e.quantity
    for r in after.orders.values():
        assert r.id in before.orders or r.id in last, f"order {r.id} appeared without an event"
        check_resting(r, last.get(r.id), before.orders.get(r.id), filled[r.id])
    for oid in before.orders.keys() - after.orders.keys():
        assert oid in last and last[oid].status not in OPEN, f"order {oid} vanished without an event"
    for o in last.values():
        assert (o.status in OPEN) == (o.order_id in after.orders), f"order {o.order_id} is {o.status}"
        assert o.status is not OrderStatus.FILLED or o.quantity in (None, o.executed_qty)


def check_money(step: Step, engine: Engine, deposited: Counter[str], withdrawn: Counter[str]) -> None:
    """Conservation per asset (all accounts, the fee account and the withdrawal holds = deposits -
    completed withdrawals, as the test counted them), nothing negative, locked = what orders
    need, withdrawing = what pending withdrawals hold."""
    totals: Counter[str] = Counter()
    for user, account in engine.ledger.accounts.items():
        for asset, b in account.items():
            assert min(b.available, b.locked, b.withdrawing) >= 0, f"negative balance: user {user} {asset}"
            assert (b.available, b.locked, b.withdrawing) == step.after.balances[(user, asset)]
            totals[asset] += b.available + b.locked + b.withdrawing
    expected = deposited.copy()
    expected.subtract(withdrawn)
    assert +totals == +expected, f"accounts hold {dict(totals)}, deposits - withdrawals {dict(expected)}"
    recorded: Counter[str] = Counter()
    for d in step.after.snap.deposits:
        recorded[d.asset] += d.amount
    assert +recorded == +deposited, f"the engine records deposits {dict(recorded)}, not {dict(deposited)}"
    sent: Counter[str] = Counter()
    for w in step.after.snap.withdrawals:
        sent[w.asset] += w.amount if w.status is WithdrawalStatus.COMPLETED else 0
    assert +sent == +withdrawn, f"the engine records withdrawals {dict(sent)}, not {dict(withdrawn)}"
    faucet: Counter[str] = Counter()
    for (_, asset), n in step.after.onramped.items():
        faucet[asset] += n
    by_faucet: Counter[str] = Counter()
    for d in step.after.snap.deposits:
        by_faucet[d.asset] += d.amount if d.source is DepositSource.FAUCET else 0
    assert +faucet == +by_faucet, "the faucet's per-user totals disagree with its deposits"
    need: Counter[tuple[int, str]] = Counter()
    for r in step.after.orders.values():
        asset, amount = SPECS[r.symbol].hold(r.side, r.price, r.remaining)
        need[(r.user, asset)] += amount
    for key, (_, locked, _) in step.after.balances.items():
        assert locked == need[key], f"{key}: locked {locked}, open orders need {need[key]}"
    assert need.keys() <= step.after.balances.keys()


def check_ledger_moves(step: Step, rejected: bool) -> None:
    """Each account's total (withdrawal holds included) moves only by its deposits, its completed
    withdrawals and its trades' legs and fees."""
    delta: Counter[tuple[int, str]] = Counter()
    cmd = step.cmd
    if isinstance(cmd, Onramp) and not rejected:
        delta[(cmd.user_id, cmd.asset)] += cmd.amount
    if isinstance(cmd, Deposit) and not rejected and cmd.reference not in step.before.deposits:
        delta[(cmd.account, cmd.asset)] += cmd.amount
    if isinstance(cmd, CompleteWithdrawal) and not rejected:
        w = step.before.withdrawals[cmd.withdrawal_id]
        delta[(w.user_id, w.asset)] -= w.amount
    for e in step.events:
        if not isinstance(e, TradeExecuted):
            continue
        s = SPECS[e.symbol]
        base, quote = e.quantity * s.base_per_step, e.quote_quantity
        buy = e.taker_side is Side.BUY
        buyer, seller = (e.taker_user_id, e.maker_user_id) if buy else (e.maker_user_id, e.taker_user_id)
        buyer_fee, seller_fee = (e.taker_fee, e.maker_fee) if buy else (e.maker_fee, e.taker_fee)
        delta[(buyer, s.base)] += base - buyer_fee
        delta[(seller, s.base)] -= base
        delta[(FEE_ACCOUNT, s.base)] += buyer_fee
        delta[(seller, s.quote)] += quote - seller_fee
        delta[(buyer, s.quote)] -= quote
        delta[(FEE_ACCOUNT, s.quote)] += seller_fee
    before, after = step.before, step.after
    for key in before.balances.keys() | after.balances.keys() | delta.keys():
        moved = after.total(*key) - before.total(*key)
        assert moved == delta[key], f"{key} moved by {moved}, trades and onramps say {delta[key]}"
    assert all(after.balances[k][1] == 0 for k in after.balances if k[0] == FEE_ACCOUNT)


def check_book(step: Step, engine: Engine) -> None:
    """Not crossed; depth = resting orders; BookChanged names every changed level."""
    named: dict[str, tuple[set[int], set[int]]] = {}
    for e in step.events:
        if not isinstance(e, BookChanged):
            continue
        assert e.symbol not in named and all(e.symbol > s for s in named), "one BookChanged per market"
        bids, asks = (dict(side) for side in engine.depth(e.symbol, 10**6))
        assert all(bids.get(p, 0) == n for p, n in e.bids), f"{e.bids} vs depth {bids}"
        assert all(asks.get(p, 0) == n for p, n in e.asks), f"{e.asks} vs depth {asks}"
        named[e.symbol] = ({p for p, _ in e.bids}, {p for p, _ in e.asks})
    for symbol in SYMBOLS:
        book = engine.books[symbol]
        bid, ask = book.best_bid(), book.best_ask()
        assert bid is None or ask is None or bid < ask, f"{symbol} crossed: {bid} >= {ask}"
        depth = engine.depth(symbol, 10**6)
        assert depth == step.after.depth(symbol), f"{symbol} depth disagrees with the resting orders"
        old = step.before.depth(symbol)
        for side, prices in enumerate(named.get(symbol, (set(), set()))):
            was, now = dict(old[side]), dict(depth[side])
            changed = {p for p in was.keys() | now.keys() if was.get(p) != now.get(p)}
            assert changed <= prices, f"{symbol}: levels {changed - prices} changed, not in BookChanged"


def check_balance_events(step: Step) -> None:
    seen: set[tuple[int, str]] = set()
    for e in step.events:
        if isinstance(e, BalanceChanged):
            key = (e.user_id, e.asset)
            assert key not in seen and e.user_id != FEE_ACCOUNT, f"BalanceChanged {key} twice or for fees"
            seen.add(key)
            assert step.after.balances.get(key) == (e.available, e.locked, e.withdrawing), (
                f"{e} vs the ledger"
            )
    before, after = step.before.balances, step.after.balances
    changed = {k for k, v in after.items() if k[0] != FEE_ACCOUNT and before.get(k, (0, 0, 0)) != v}
    assert changed <= seen, f"balances {changed - seen} changed without a BalanceChanged"


def check_queries(step: Step, engine: Engine) -> None:
    """The engine's look-ups agree with the events and the snapshot: ``order()``,
    ``open_orders()``, each user's deposits and withdrawals (newest first), the pending ones."""
    for e in step.events:
        o = order_of(e)
        if o is not None and o.status not in OPEN:
            assert engine.order(o.order_id) == o, f"order({o.order_id}) is not its final state"
    for r in step.after.orders.values():
        live = engine.order(r.id)
        assert live is not None and (live.status, live.executed_qty) == (r.status, r.executed)
    for user in USERS:
        mine = sorted(o.order_id for o in engine.open_orders(user))
        assert mine == sorted(r.id for r in step.after.orders.values() if r.user == user)
    funding = engine.funding
    for user in USERS:
        assert funding.deposits_of(user) == sorted(
            (d for d in step.after.snap.deposits if d.user_id == user), key=lambda d: -d.id
        )
        assert funding.withdrawals_of(user) == sorted(
            (w for w in step.after.withdrawals.values() if w.user_id == user), key=lambda w: -w.id
        )
    pending = [w for w in step.after.snap.withdrawals if w.status is WithdrawalStatus.PENDING]
    assert funding.pending() == pending
