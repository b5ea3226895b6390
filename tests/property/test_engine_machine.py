"""Stateful property test of the engine: random commands on two markets, checked at every step.

Four users (who also trade with themselves) place, cancel, amend and onramp on SOL_USDC and
BTC_USDC, with prices in a narrow band around a mid so that orders cross often, plus a share of
invalid input. Before each command a small model predicts from the snapshot alone whether the
engine must accept it or reject it, and why; after it, the events are checked against the model
(the exact fills of price-time priority with self-trade prevention, fees, every balance's move,
book deltas) and against the engine's own ``check_integrity``. Each step also runs on an engine
restored from the snapshot taken before it, and the teardown replays the whole journal.
Command number n (the seq) runs at the fake time ``T0 + 1000 * n``.

Amounts in the model are worked out from the config text with exact fractions, not with the
``Market`` helpers, so the two are independent.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections import Counter
from collections.abc import Callable
from fractions import Fraction
from typing import Any, NamedTuple

import msgspec
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, rule

from exchange.config import demo_config_path, load_venue
from exchange.domain.commands import (
    AmendOrder,
    AnyCommand,
    CancelAll,
    CancelOrder,
    Onramp,
    OrderType,
    PlaceOrder,
    Side,
)
from exchange.domain.commands import SelfTradePrevention as Stp
from exchange.domain.commands import TimeInForce as Tif
from exchange.domain.engine import Engine
from exchange.domain.events import (
    BalanceChanged,
    BookChanged,
    Event,
    Onramped,
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
)
from exchange.domain.ledger import FEE_ACCOUNT
from exchange.domain.markets import MAX_AMOUNT
from exchange.domain.reasons import Reason
from exchange.domain.state import EngineSnapshot, RestingOrder

VENUE = load_venue()
SYMBOLS = ("SOL_USDC", "BTC_USDC")
USERS = (1, 2, 3, 4)
MID = {"SOL_USDC": 10_000, "BTC_USDC": 500_000}  # ticks: 100.00 and 50000.0 USDC
LOT = {"SOL_USDC": 2, "BTC_USDC": 20}  # steps: a lot anywhere in the band meets minNotional
BAND = 4  # ticks either side of the mid
COIDS = ("a", "b", "c")
COID_RULE = re.compile(r"[A-Za-z0-9_-]{1,36}")
T0 = 1_700_000_000_000
ENC = msgspec.msgpack.Encoder()
OPEN = frozenset({OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED})
ORDER_EVENTS = (OrderAccepted, OrderFilled, OrderCanceled, OrderExpired, OrderAmended)
EVENT_RANK = {BookChanged: 1, BalanceChanged: 2}  # order events and trades first, then these


def _whole(value: Fraction) -> int:
    assert value.denominator == 1, f"{value} is not a whole number of units"
    return int(value)


class Spec:
    """One market's numbers, from the config text with exact fractions."""

    def __init__(self, symbol: str, raw: dict[str, Any], decimals: dict[str, int]) -> None:
        tick, step = Fraction(raw["tickSize"]), Fraction(raw["stepSize"])
        self.base, self.quote = raw["base"], raw["quote"]
        quote_unit = 10 ** decimals[self.quote]
        self.quote_per_tick_step = _whole(tick * step * quote_unit)
        self.base_per_step = _whole(step * 10 ** decimals[self.base])
        self.max_price = _whole(Fraction(raw["maxPrice"]) / tick)
        self.max_qty = _whole(Fraction(raw["maxQty"]) / step)
        self.min_qty = _whole(Fraction(raw["minQty"]) / step)
        self.min_notional = _whole(Fraction(raw["minNotional"]) * quote_unit)
        self.maker_rate, self.taker_rate = Fraction(raw["makerFee"]), Fraction(raw["takerFee"])
        self.mid, self.lot = MID[symbol], LOT[symbol]

    def notional(self, price: int, qty: int) -> int:
        return price * qty * self.quote_per_tick_step

    def hold(self, side: Side, price: int, qty: int) -> tuple[str, int]:
        """(asset, amount) a limit order of ``qty`` steps at ``price`` keeps locked."""
        if side is Side.BUY:
            return self.quote, self.notional(price, qty)
        return self.base, qty * self.base_per_step


def _load_specs() -> tuple[dict[str, Spec], dict[str, int]]:
    raw = tomllib.loads(demo_config_path().read_text(encoding="utf-8"))
    decimals = {name: a["decimals"] for name, a in raw["assets"].items()}
    return {s: Spec(s, raw["markets"][s], decimals) for s in SYMBOLS}, decimals


SPECS, DECIMALS = _load_specs()
#: Onramp units: 1 USDC, one lot of each base asset.
UNIT = {"USDC": 10**6, **{s.base: s.lot * s.base_per_step for s in SPECS.values()}}


def new_engine() -> Engine:
    return Engine(VENUE.assets, VENUE.markets)


class View:
    """One snapshot, indexed for the model and the checks."""

    def __init__(self, snap: EngineSnapshot) -> None:
        self.snap = snap
        self.raw = ENC.encode(snap)
        self.raw_seq0 = ENC.encode(msgspec.structs.replace(snap, last_seq=0))
        self.balances = {(u, a): (av, lk) for u, a, av, lk in snap.balances}
        self.orders = {r.id: r for r in snap.orders}
        self.onramped = {(u, a): n for u, a, n in snap.onramped}
        self.coids = {(r.user, r.coid): r for r in snap.orders if r.coid is not None}

    def available(self, user: int, asset: str) -> int:
        return self.balances.get((user, asset), (0, 0))[0]

    def total(self, user: int, asset: str) -> int:
        return sum(self.balances.get((user, asset), (0, 0)))

    def ladder(self, symbol: str, side: Side) -> list[RestingOrder]:
        """Resting orders of one side, best price first, oldest first within a price."""
        rows = [r for r in self.orders.values() if r.symbol == symbol and r.side is side]
        sign = -1 if side is Side.BUY else 1
        return sorted(rows, key=lambda r: (sign * r.price, r.queue))

    def best(self, symbol: str, side: Side) -> int | None:
        rows = self.ladder(symbol, side)
        return rows[0].price if rows else None

    def depth(self, symbol: str) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        sides = []
        for side in (Side.BUY, Side.SELL):
            totals: dict[int, int] = {}
            for r in self.ladder(symbol, side):
                totals[r.price] = totals.get(r.price, 0) + r.remaining
            sides.append(list(totals.items()))
        return sides[0], sides[1]


# -- the model: matching -----------------------------------------------------------------------
class Taker(NamedTuple):
    order_id: int
    user: int
    symbol: str
    side: Side
    price: int | None
    need: int
    budget: int | None
    stp: Stp


class Sim(NamedTuple):
    fills: list[tuple[int, int, int]]  # (maker order id, price, quantity)
    expired: list[int]  # own resting orders expired by self-trade prevention
    end: str  # "filled", "stp" (stopped at an own order) or "open"


def taker_of(o: OrderState) -> Taker:
    need = SPECS[o.symbol].max_qty if o.quantity is None else o.quantity - o.executed_qty
    return Taker(o.order_id, o.user_id, o.symbol, o.side, o.price, need, o.quote_quantity, o.stp)


def _beyond(t: Taker, price: int) -> bool:
    if t.price is None:
        return False
    return price > t.price if t.side is Side.BUY else price < t.price


def _budget_fill(qty: int, price: int, budget: int | None, s: Spec) -> tuple[int, int | None, bool]:
    """Up to ``qty`` steps at ``price`` within ``budget``: (qty, budget left, budget spent)."""
    if budget is None:
        return qty, None, False
    step_cost = s.notional(price, 1)
    qty = min(qty, budget // step_cost)
    budget -= qty * step_cost
    return qty, budget, budget < step_cost


def simulate(v: View, t: Taker) -> Sim:
    """What taker ``t`` must fill against the book of ``v``: price-time priority plus STP."""
    s = SPECS[t.symbol]
    fills: list[tuple[int, int, int]] = []
    expired: list[int] = []
    need, budget = t.need, t.budget
    for r in v.ladder(t.symbol, Side.SELL if t.side is Side.BUY else Side.BUY):
        if r.id == t.order_id:  # an amended order leaves the book before it matches again
            continue
        if _beyond(t, r.price):
            break
        if r.user == t.user and t.stp is not Stp.NONE:
            if t.stp is not Stp.EXPIRE_TAKER:
                expired.append(r.id)
            if t.stp is Stp.EXPIRE_MAKER:
                continue
            return Sim(fills, expired, "stp")
        qty, budget, spent = _budget_fill(min(need, r.remaining), r.price, budget, s)
        if qty == 0:
            break
        fills.append((r.id, r.price, qty))
        need -= qty
        if need == 0 or spent:
            return Sim(fills, expired, "filled")
    return Sim(fills, expired, "open")


def expected_end(t: OrderState, sim: Sim) -> tuple[OrderStatus, str | None]:
    """The taker's status after the command and, if it expired, why."""
    if sim.end == "filled":
        return OrderStatus.FILLED, None
    if sim.end == "stp":
        return OrderStatus.EXPIRED, "STP"
    if t.price is None:
        return OrderStatus.EXPIRED, "MARKET"
    if t.time_in_force is not Tif.GTC:
        return OrderStatus.EXPIRED, t.time_in_force.value
    executed = t.executed_qty + sum(q for _, _, q in sim.fills)
    return (OrderStatus.PARTIALLY_FILLED if executed else OrderStatus.NEW), None


# -- the model: accept or reject ---------------------------------------------------------------
def check_values(s: Spec, price: int | None, qty: int | None) -> Reason | None:
    if price is None or not 0 < price <= s.max_price:
        return Reason.INVALID_PRICE
    if qty is None or not s.min_qty <= qty <= s.max_qty:
        return Reason.INVALID_QUANTITY
    if s.notional(price, qty) < s.min_notional:
        return Reason.MIN_NOTIONAL
    return None


def _limit_shape(cmd: PlaceOrder, s: Spec) -> Reason | None:
    if cmd.quote_quantity is not None or (cmd.post_only and cmd.time_in_force is not Tif.GTC):
        return Reason.INVALID_REQUEST
    return check_values(s, cmd.price, cmd.quantity)


def _market_shape(cmd: PlaceOrder, s: Spec) -> Reason | None:
    if cmd.price is not None or cmd.post_only:
        return Reason.INVALID_REQUEST
    if cmd.quote_quantity is None:
        ok = cmd.quantity is not None and s.min_qty <= cmd.quantity <= s.max_qty
        return None if ok else Reason.INVALID_QUANTITY
    if cmd.quantity is not None or cmd.side is not Side.BUY:
        return Reason.INVALID_REQUEST
    if not 0 < cmd.quote_quantity < MAX_AMOUNT:
        return Reason.INVALID_QUANTITY
    return Reason.MIN_NOTIONAL if cmd.quote_quantity < s.min_notional else None


def _crosses(v: View, symbol: str, side: Side, price: int) -> bool:
    if side is Side.BUY:
        ask = v.best(symbol, Side.SELL)
        return ask is not None and ask <= price
    bid = v.best(symbol, Side.BUY)
    return bid is not None and bid >= price


def _place_hold(cmd: PlaceOrder, s: Spec, v: View) -> tuple[str, int]:
    assert cmd.quantity is not None or cmd.quote_quantity is not None
    if cmd.side is Side.SELL:
        return s.base, (cmd.quantity or 0) * s.base_per_step
    if cmd.price is not None:
        return s.quote, s.notional(cmd.price, cmd.quantity or 0)
    if cmd.quote_quantity is not None:
        return s.quote, cmd.quote_quantity
    walk = simulate(v, Taker(0, cmd.user_id, cmd.symbol, Side.BUY, None, cmd.quantity or 0, None, cmd.stp))
    return s.quote, sum(s.notional(p, q) for _, p, q in walk.fills)


def predict_place(cmd: PlaceOrder, v: View) -> Reason | None:
    s = SPECS[cmd.symbol]
    if cmd.client_order_id is not None and not COID_RULE.fullmatch(cmd.client_order_id):
        return Reason.INVALID_REQUEST
    bad = _limit_shape(cmd, s) if cmd.type is OrderType.LIMIT else _market_shape(cmd, s)
    if bad is not None:
        return bad
    if cmd.client_order_id is not None and (cmd.user_id, cmd.client_order_id) in v.coids:
        return Reason.DUPLICATE_CLIENT_ORDER_ID
    asset, hold = _place_hold(cmd, s, v)
    if hold > v.available(cmd.user_id, asset):
        return Reason.INSUFFICIENT_FUNDS
    if cmd.post_only and cmd.price is not None and _crosses(v, cmd.symbol, cmd.side, cmd.price):
        return Reason.POST_ONLY_WOULD_TAKE
    return None


def find(cmd: CancelOrder | AmendOrder, v: View) -> RestingOrder | Reason:
    """The open order a cancel or amend names, or why there is none."""
    if (cmd.order_id is None) == (cmd.client_order_id is None):
        return Reason.INVALID_REQUEST
    if cmd.order_id is not None:
        r = v.orders.get(cmd.order_id)
    else:
        r = v.coids.get((cmd.user_id, cmd.client_order_id or ""))
    if r is None or r.user != cmd.user_id or r.symbol != cmd.symbol:
        return Reason.ORDER_NOT_FOUND
    return r


def amended(cmd: AmendOrder, r: RestingOrder) -> tuple[int, int]:
    return (r.price if cmd.price is None else cmd.price), (r.qty if cmd.quantity is None else cmd.quantity)


def predict_amend(cmd: AmendOrder, v: View) -> Reason | None:
    r = find(cmd, v)
    if isinstance(r, Reason):
        return r
    if cmd.quantity is None and cmd.price is None:
        return Reason.INVALID_REQUEST
    s = SPECS[cmd.symbol]
    price, qty = amended(cmd, r)
    bad = check_values(s, price, qty)
    if bad is not None:
        return bad
    if qty <= r.executed:
        return Reason.INVALID_QUANTITY
    if price == r.price and qty <= r.qty:
        return None
    asset, old = s.hold(r.side, r.price, r.remaining)
    new = s.hold(r.side, price, qty - r.executed)[1]
    if new - old > v.available(r.user, asset):
        return Reason.INSUFFICIENT_FUNDS
    if r.post_only and _crosses(v, r.symbol, r.side, price):
        return Reason.POST_ONLY_WOULD_TAKE
    return None


def predict_onramp(cmd: Onramp, v: View) -> Reason | None:
    if cmd.asset not in DECIMALS:
        return Reason.UNKNOWN_ASSET
    if not 0 < cmd.amount < MAX_AMOUNT:
        return Reason.INVALID_QUANTITY
    done = v.onramped.get((cmd.user_id, cmd.asset), 0)
    if cmd.limit is not None and done + cmd.amount > cmd.limit:
        return Reason.ONRAMP_LIMIT
    if v.total(cmd.user_id, cmd.asset) + cmd.amount >= MAX_AMOUNT:
        return Reason.INVALID_QUANTITY
    return None


def predict(cmd: AnyCommand, v: View) -> Reason | None:
    """None if the engine must accept ``cmd`` in state ``v``, else the reason it must give."""
    if cmd.user_id <= FEE_ACCOUNT:
        return Reason.INVALID_REQUEST
    if isinstance(cmd, Onramp):
        return predict_onramp(cmd, v)
    if cmd.symbol is not None and cmd.symbol not in VENUE.markets:
        return Reason.UNKNOWN_SYMBOL
    if isinstance(cmd, PlaceOrder):
        return predict_place(cmd, v)
    if isinstance(cmd, CancelOrder):
        found = find(cmd, v)
        return found if isinstance(found, Reason) else None
    if isinstance(cmd, AmendOrder):
        return predict_amend(cmd, v)
    return None  # CancelAll of a known market or of all


# -- checks after each step --------------------------------------------------------------------
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


def check_placed(cmd: PlaceOrder, step: Step) -> None:
    first = step.events[0]
    assert isinstance(first, OrderAccepted), f"a placed order starts with OrderAccepted: {first}"
    o = first.order
    tif = Tif.IOC if cmd.type is OrderType.MARKET else cmd.time_in_force
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


def check_onramped(cmd: Onramp, step: Step) -> None:
    assert step.events[0] == Onramped(
        seq=cmd.seq, ts=cmd.ts, user_id=cmd.user_id, asset=cmd.asset, amount=cmd.amount
    )
    assert all(isinstance(e, BalanceChanged) for e in step.events[1:])


OUTCOME_CHECKS: dict[type, Callable[[Any, Step], None]] = {
    PlaceOrder: check_placed,
    CancelOrder: check_canceled,
    CancelAll: check_canceled_all,
    AmendOrder: check_amended,
    Onramp: check_onramped,
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


def check_money(step: Step, engine: Engine, onramped: Counter[str]) -> None:
    """Conservation per asset, nothing negative, locked = what orders need."""
    totals: Counter[str] = Counter()
    for user, account in engine.ledger.accounts.items():
        for asset, b in account.items():
            assert b.available >= 0 and b.locked >= 0, f"negative balance: user {user} {asset}"
            totals[asset] += b.available + b.locked
    assert +totals == +onramped, f"accounts hold {dict(totals)}, onramped {dict(onramped)}"
    recorded: Counter[str] = Counter()
    for (_, asset), n in step.after.onramped.items():
        recorded[asset] += n
    assert +recorded == +onramped, f"the engine records onramps {dict(recorded)}, not {dict(onramped)}"
    need: Counter[tuple[int, str]] = Counter()
    for r in step.after.orders.values():
        asset, amount = SPECS[r.symbol].hold(r.side, r.price, r.remaining)
        need[(r.user, asset)] += amount
    for key, (_, locked) in step.after.balances.items():
        assert locked == need[key], f"{key}: locked {locked}, open orders need {need[key]}"
    assert need.keys() <= step.after.balances.keys()


def check_ledger_moves(step: Step, rejected: bool) -> None:
    """Each account's total moves only by its onramps and its trades' legs and fees."""
    delta: Counter[tuple[int, str]] = Counter()
    if isinstance(step.cmd, Onramp) and not rejected:
        delta[(step.cmd.user_id, step.cmd.asset)] += step.cmd.amount
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
            assert step.after.balances.get(key) == (e.available, e.locked), f"{e} vs the ledger"
    before, after = step.before.balances, step.after.balances
    changed = {k for k, v in after.items() if k[0] != FEE_ACCOUNT and before.get(k, (0, 0)) != v}
    assert changed <= seen, f"balances {changed - seen} changed without a BalanceChanged"


def check_queries(step: Step, engine: Engine) -> None:
    """The engine's look-ups agree with the events: ``order()`` and ``open_orders()``."""
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
        self.onramped: Counter[str] = Counter()
        self.seen_ids: list[int] = []
        self.clean = True

    def run(self, make: type[AnyCommand], *, must_reject: bool = False, **fields: Any) -> None:
        seq = len(self.journal) + 1
        cmd = make(seq=seq, ts=T0 + 1000 * seq, **fields)
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
        if not rejected:
            OUTCOME_CHECKS[type(step.cmd)](step.cmd, step)
            if isinstance(step.cmd, Onramp):
                self.onramped[step.cmd.asset] += step.cmd.amount
        self.seen_ids += [e.order.order_id for e in step.events if isinstance(e, OrderAccepted)]
        check_matching(step)
        check_orders(step)
        check_money(step, self.engine, self.onramped)
        check_ledger_moves(step, rejected)
        check_book(step, self.engine)
        check_balance_events(step)
        check_queries(step, self.engine)

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
        tif=st.sampled_from((Tif.GTC, Tif.GTC, Tif.GTC, Tif.IOC, Tif.FOK)),
        post_only=st.sampled_from((False, False, False, True)),
    )  # fmt: skip
    def place_limit(
        self, user: int, symbol: str, side: Side, stp: Stp, coid: str | None, offset: int,
        lots: int, extra: int, tif: Tif, post_only: bool,
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
        tif=st.sampled_from(Tif), budget=st.sampled_from((None, None, 1, 3, 10, 40)),
        odd=st.sampled_from((0, 1, 12_345)),
    )  # fmt: skip
    def place_market(
        self, user: int, symbol: str, side: Side, stp: Stp, coid: str | None, lots: int, tif: Tif,
        budget: int | None, odd: int,
    ) -> None:  # fmt: skip
        s = SPECS[symbol]
        by_quote = budget is not None and side is Side.BUY  # a sell by quote is among the flaws
        self.run(
            PlaceOrder, user_id=user, symbol=symbol, side=side, type=OrderType.MARKET,
            quantity=None if by_quote else lots * s.lot,
            quote_quantity=(budget or 0) * s.min_notional + odd if by_quote else None,
            time_in_force=tif, client_order_id=coid, stp=stp,
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
        return out


EngineMachine.TestCase.settings = settings(stateful_step_count=50, deadline=None)
TestEngineMachine = EngineMachine.TestCase
