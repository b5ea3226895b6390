"""A seeded, mixed order-flow workload, rendered as engine commands or as reference calls.

The generator yields abstract operations (``Fund``, ``Place``, ``Cancel``, ``Amend``) and never
looks at the engine: it predicts order ids instead. That works because every placement it
makes is valid and funded many times over, so the engine accepts each one and hands out ids
1, 2, 3, ... in placement order, exactly as the reference does. To know which of its orders
are still open (as a client reading its fills would), it feeds each operation to a shadow
reference book while generating. Two adapters then turn the same operations into
``PlaceOrder``/``CancelOrder``/... structs or into bound reference calls, so both sides of the
comparison do the same work and generation is never timed.

Every order uses ``stp=none``: the reference has no self-trade prevention, and with it off the
two books must end with the same trades and the same resting orders, which the bench checks.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from bench.reference import ReferenceExchange
from exchange.domain.commands import (
    AmendOrder,
    AnyCommand,
    CancelOrder,
    Onramp,
    OrderType,
    PlaceOrder,
    SelfTradePrevention,
    Side,
    TimeInForce,
)
from exchange.domain.markets import Asset, Market

SYMBOLS = ("SOL_USDC", "ETH_USDC")
#: Starting mid in ticks and the (min, max) size of a passive order in steps, per market:
#: SOL around 150.00 USDC for 0.1-5 SOL, ETH around 3000.00 USDC for 0.002-0.2 ETH.
START = {"SOL_USDC": (15_000, 10, 500), "ETH_USDC": (300_000, 20, 2_000)}
#: Balances big enough that no order in any run can run a user short (well below 2**62).
FUNDING = {"USDC": 10**15, "SOL": 10**15, "ETH": 10**14, "BTC": 10**12}
MAX_DRIFT = 300  # ticks either side of the start the mid may wander
DRIFT = 0.02  # chance per command that its market's mid moves one tick
LATE_CANCEL = 0.1  # share of cancels that arrive after their order filled
T0 = 1_700_000_000_000  # ms; ts = T0 + seq


class Fund(NamedTuple):
    user: int
    asset: str
    amount: int


class Place(NamedTuple):
    symbol: str
    user: int
    buy: bool
    price: int | None  # None: a market order by quantity
    qty: int
    ioc: bool


class Cancel(NamedTuple):
    symbol: str
    user: int
    order_id: int


class Amend(NamedTuple):
    symbol: str
    user: int
    order_id: int
    qty: int | None
    price: int | None


Op = Fund | Place | Cancel | Amend


class Workload(NamedTuple):
    setup: list[Op]  # onramps and the pre-filled book: applied before the clock starts
    timed: list[Op]
    mix: dict[str, int]


class _Mine(NamedTuple):
    """Who owns an order the generator placed, to address a cancel or amend to it."""

    order_id: int
    symbol: str
    user: int


class Generator:
    """Draws the operations; ``shadow`` tells it which orders are open and what they executed."""

    def __init__(self, markets: dict[str, Market], seed: int, users: int) -> None:
        self.rng = random.Random(seed)
        self.markets = markets
        self.users = users
        self.mid = {s: START[s][0] for s in SYMBOLS}
        self.shadow = ReferenceExchange(list(SYMBOLS))
        self.mine: list[_Mine] = []  # GTC orders placed and not cancelled; some have filled
        self.filled: list[_Mine] = []  # a sample of orders found filled, for late cancels
        self.mix = {"limit": 0, "cancel": 0, "cross_ioc": 0, "cross_market": 0, "amend": 0}

    # -- top level -------------------------------------------------------------------------
    def setup(self, assets: Sequence[str], prefill: int) -> list[Op]:
        ops: list[Op] = [Fund(u, a, FUNDING[a]) for u in range(1, self.users + 1) for a in assets]
        for i in range(prefill):
            ops.append(self._apply(self._passive(SYMBOLS[i % 2], max_offset=60)))
        return ops

    def timed(self, n: int) -> list[Op]:
        return [self._apply(self._next()) for _ in range(n)]

    def _next(self) -> Op:
        symbol = self.rng.choice(SYMBOLS)
        self._drift(symbol)
        r = self.rng.random()
        op: Op | None = None
        if r >= 0.95:
            op = self._amend()
        elif r >= 0.85:
            return self._crossing(symbol)
        elif r >= 0.60:
            op = self._cancel()
        if op is None:  # a limit, or nothing open to cancel or amend
            self.mix["limit"] += 1
            return self._passive(symbol, max_offset=40)
        self.mix["cancel" if isinstance(op, Cancel) else "amend"] += 1
        return op

    def _apply(self, op: Op) -> Op:
        shadow = self.shadow
        if isinstance(op, Place):
            if op.price is not None and not op.ioc:
                self.mine.append(_Mine(shadow.next_id, op.symbol, op.user))
            shadow.place(op.symbol, op.buy, op.price, op.qty, op.ioc)
        elif isinstance(op, Cancel):
            shadow.cancel(op.symbol, op.order_id)
        elif isinstance(op, Amend):
            shadow.amend(op.symbol, op.order_id, op.qty, op.price)
        return op

    # -- operations ------------------------------------------------------------------------
    def _passive(self, symbol: str, max_offset: int) -> Place:
        """A GTC limit a few ticks off the mid (it crosses only if the mid moved past it)."""
        rng = self.rng
        buy = rng.random() < 0.5
        offset = 1 + min(int(rng.expovariate(1 / 6)), max_offset)
        price = self.mid[symbol] - offset if buy else self.mid[symbol] + offset
        _, lo, hi = START[symbol]
        return Place(symbol, self._user(), buy, price, rng.randint(lo, hi), False)

    def _crossing(self, symbol: str) -> Place:
        """An IOC limit through the touch or a market order, sized to eat a few makers."""
        rng = self.rng
        buy = rng.random() < 0.5
        _, lo, hi = START[symbol]
        qty = rng.randint(lo, 3 * hi)
        if rng.random() < 0.5:
            self.mix["cross_market"] += 1
            return Place(symbol, self._user(), buy, None, qty, True)
        self.mix["cross_ioc"] += 1
        through = rng.randint(2, 8)
        price = self.mid[symbol] + through if buy else self.mid[symbol] - through
        return Place(symbol, self._user(), buy, price, qty, True)

    def _cancel(self) -> Cancel | None:
        """An open order; 1 in LATE_CANCEL races a fill it has not seen (ORDER_NOT_FOUND)."""
        if self.filled and self.rng.random() < LATE_CANCEL:
            o = self.filled[self.rng.randrange(len(self.filled))]
        else:
            found = self._open(remove=True)
            if found is None:
                return None
            o = found
        return Cancel(o.symbol, o.user, o.order_id)

    def _amend(self) -> Amend | None:
        """Half halve what is left (keeps queue place), half move to a new passive price."""
        o = self._open(remove=False)
        if o is None:
            return None
        _, left, price, buy, qty = self.shadow.orders[o.order_id]
        m = self.markets[o.symbol]
        floor = max(m.min_qty, -(-m.min_notional // m.notional(price, 1)))
        if self.rng.random() < 0.5 and left > 1 and qty - left // 2 >= floor:
            return Amend(o.symbol, o.user, o.order_id, qty - left // 2, None)
        offset = 1 + min(int(self.rng.expovariate(1 / 6)), 40)
        new_price = self.mid[o.symbol] - offset if buy else self.mid[o.symbol] + offset
        if m.notional(new_price, qty) < m.min_notional:
            new_price = price  # a no-op amend rather than an invalid one
        return Amend(o.symbol, o.user, o.order_id, None, new_price)

    def _open(self, remove: bool) -> _Mine | None:
        """A random order of ``mine`` still open; filled ones met on the way move to ``filled``."""
        mine, live, rng = self.mine, self.shadow.orders, self.rng
        while mine:
            i = rng.randrange(len(mine))
            o = mine[i]
            is_open = o.order_id in live
            if not is_open or remove:
                mine[i] = mine[-1]
                mine.pop()
            if is_open:
                return o
            self._remember_filled(o)
        return None

    def _remember_filled(self, o: _Mine) -> None:
        if len(self.filled) < 1_000:
            self.filled.append(o)
        else:
            self.filled[self.rng.randrange(1_000)] = o

    # -- helpers ---------------------------------------------------------------------------
    def _user(self) -> int:
        return self.rng.randint(1, self.users)

    def _drift(self, symbol: str) -> None:
        if self.rng.random() < DRIFT:
            start = START[symbol][0]
            mid = self.mid[symbol] + self.rng.choice((-1, 1))
            self.mid[symbol] = min(max(mid, start - MAX_DRIFT), start + MAX_DRIFT)


def build(
    assets: dict[str, Asset], markets: dict[str, Market], commands: int, seed: int, users: int = 300,
    prefill: int = 5_000,
) -> Workload:  # fmt: skip
    gen = Generator(markets, seed, users)
    setup = gen.setup(sorted(assets), prefill)
    timed = gen.timed(commands)
    return Workload(setup, timed, gen.mix)


# -- adapters ------------------------------------------------------------------------------
def to_command(op: Op, seq: int) -> AnyCommand:
    ts = T0 + seq
    if isinstance(op, Place):
        side = Side.BUY if op.buy else Side.SELL
        return PlaceOrder(
            user_id=op.user, seq=seq, ts=ts, symbol=op.symbol, side=side,
            type=OrderType.MARKET if op.price is None else OrderType.LIMIT, price=op.price,
            quantity=op.qty, time_in_force=TimeInForce.IOC if op.ioc and op.price is not None else None,
            stp=SelfTradePrevention.NONE,
        )  # fmt: skip
    if isinstance(op, Cancel):
        return CancelOrder(user_id=op.user, seq=seq, ts=ts, symbol=op.symbol, order_id=op.order_id)
    if isinstance(op, Amend):
        return AmendOrder(
            user_id=op.user, seq=seq, ts=ts, symbol=op.symbol, order_id=op.order_id, quantity=op.qty,
            price=op.price,
        )  # fmt: skip
    return Onramp(user_id=op.user, seq=seq, ts=ts, asset=op.asset, amount=op.amount)


def to_commands(ops: Sequence[Op], first_seq: int) -> list[AnyCommand]:
    return [to_command(op, first_seq + i) for i, op in enumerate(ops)]


Call = tuple[Callable[..., Any], tuple[Any, ...]]


def to_calls(ops: Sequence[Op], ref: ReferenceExchange) -> list[Call]:
    """Bound reference calls; ``Fund`` has no counterpart since the reference keeps no ledger."""
    calls: list[Call] = []
    for op in ops:
        if isinstance(op, Place):
            calls.append((ref.place, (op.symbol, op.buy, op.price, op.qty, op.ioc)))
        elif isinstance(op, Cancel):
            calls.append((ref.cancel, (op.symbol, op.order_id)))
        elif isinstance(op, Amend):
            calls.append((ref.amend, (op.symbol, op.order_id, op.qty, op.price)))
    return calls
