"""The independent model behind the engine's stateful property test (``test_engine_machine.py``).

It owns the test's constants and market specs, ``View`` (one snapshot, indexed), the matching
model (``Taker``, ``Sim``, ``simulate``, ``expected_end``) and the accept-or-reject model
(``check_values``, ``predict`` and the ``predict_*`` helpers), funding included: deposits by
reference, withdrawals held, completed or rejected.

Amounts in the model are worked out from the config text with exact fractions, not with the
``Market`` helpers, so the two are independent.
"""

from __future__ import annotations

import re
import tomllib
from fractions import Fraction
from typing import Any, NamedTuple

import msgspec

from exchange.config import demo_config_path, load_venue
from exchange.domain.commands import (
    AmendOrder,
    AnyCommand,
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
    OrderAccepted,
    OrderAmended,
    OrderCanceled,
    OrderExpired,
    OrderFilled,
    OrderState,
    OrderStatus,
    WithdrawalStatus,
)
from exchange.domain.ledger import FEE_ACCOUNT
from exchange.domain.markets import MAX_AMOUNT
from exchange.domain.reasons import Reason
from exchange.domain.snapshots import EngineSnapshot, RestingOrder

VENUE = load_venue()
SYMBOLS = ("SOL_USDC", "BTC_USDC")
USERS = (1, 2, 3, 4)
MID = {"SOL_USDC": 10_000, "BTC_USDC": 500_000}  # ticks: 100.00 and 50000.0 USDC
LOT = {"SOL_USDC": 2, "BTC_USDC": 20}  # steps: a lot anywhere in the band meets minNotional
BAND = 4  # ticks either side of the mid
COIDS = ("a", "b", "c")
COID_RULE = re.compile(r"[A-Za-z0-9_-]{1,36}")
REFERENCE_RULE = re.compile(r"[\x20-\x7e]{1,64}")  # printable ASCII; "faucet:..." is the faucet's
TEXT_RULE = re.compile(r"[\x20-\x7e]{1,128}")
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
        # Trading state only: a rejected command still records its request id (a retry of it
        # must not be judged again), which the resubmit rule checks on its own.
        self.raw_seq0 = ENC.encode(msgspec.structs.replace(snap, last_seq=0, requests=[]))
        self.deposits = {d.reference: d for d in snap.deposits}
        self.withdrawals = {w.id: w for w in snap.withdrawals}
        held: dict[tuple[int, str], int] = {}
        for w in snap.withdrawals:
            if w.status is WithdrawalStatus.PENDING:
                held[(w.user_id, w.asset)] = held.get((w.user_id, w.asset), 0) + w.amount
        #: (user, asset) -> (available, locked, withdrawing: what its pending withdrawals hold)
        self.balances = {(u, a): (av, lk, held.get((u, a), 0)) for u, a, av, lk in snap.balances}
        self.orders = {r.id: r for r in snap.orders}
        self.onramped = {(u, a): n for u, a, n in snap.onramped}
        self.coids = {(r.user, r.coid): r for r in snap.orders if r.coid is not None}

    def available(self, user: int, asset: str) -> int:
        return self.balances.get((user, asset), (0, 0, 0))[0]

    def total(self, user: int, asset: str) -> int:
        return sum(self.balances.get((user, asset), (0, 0, 0)))

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
    if cmd.quote_quantity is not None or (cmd.post_only and cmd.time_in_force not in (None, Tif.GTC)):
        return Reason.INVALID_REQUEST
    return check_values(s, cmd.price, cmd.quantity)


def _market_shape(cmd: PlaceOrder, s: Spec) -> Reason | None:
    if cmd.price is not None or cmd.post_only or cmd.time_in_force is not None:
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


def predict_deposit(cmd: Deposit, v: View) -> Reason | None:
    if cmd.account <= FEE_ACCOUNT:
        return Reason.INVALID_REQUEST
    if not REFERENCE_RULE.fullmatch(cmd.reference) or cmd.reference.startswith("faucet:"):
        return Reason.INVALID_REQUEST
    if cmd.asset not in DECIMALS:
        return Reason.UNKNOWN_ASSET
    if not 0 < cmd.amount < MAX_AMOUNT:
        return Reason.INVALID_QUANTITY
    done = v.deposits.get(cmd.reference)
    if done is not None:
        same = (done.user_id, done.asset, done.amount) == (cmd.account, cmd.asset, cmd.amount)
        return None if same else Reason.DUPLICATE_REFERENCE
    if v.total(cmd.account, cmd.asset) + cmd.amount >= MAX_AMOUNT:
        return Reason.INVALID_QUANTITY
    return None


def predict_withdrawal(cmd: RequestWithdrawal, v: View) -> Reason | None:
    if cmd.asset not in DECIMALS:
        return Reason.UNKNOWN_ASSET
    if not 0 < cmd.amount < MAX_AMOUNT:
        return Reason.INVALID_QUANTITY
    if not TEXT_RULE.fullmatch(cmd.destination):
        return Reason.INVALID_REQUEST
    return Reason.INSUFFICIENT_FUNDS if cmd.amount > v.available(cmd.user_id, cmd.asset) else None


def predict_settle(cmd: CompleteWithdrawal | RejectWithdrawal, v: View) -> Reason | None:
    if isinstance(cmd, RejectWithdrawal) and not TEXT_RULE.fullmatch(cmd.reason):
        return Reason.INVALID_REQUEST
    w = v.withdrawals.get(cmd.withdrawal_id)
    if w is None:
        return Reason.WITHDRAWAL_NOT_FOUND
    return None if w.status is WithdrawalStatus.PENDING else Reason.WITHDRAWAL_NOT_PENDING


def predict(cmd: AnyCommand, v: View) -> Reason | None:
    """None if the engine must accept ``cmd`` in state ``v``, else the reason it must give."""
    if cmd.user_id <= FEE_ACCOUNT:
        return Reason.INVALID_REQUEST
    if isinstance(cmd, Onramp):
        return predict_onramp(cmd, v)
    if isinstance(cmd, Deposit):
        return predict_deposit(cmd, v)
    if isinstance(cmd, RequestWithdrawal):
        return predict_withdrawal(cmd, v)
    if isinstance(cmd, (CompleteWithdrawal, RejectWithdrawal)):
        return predict_settle(cmd, v)
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
