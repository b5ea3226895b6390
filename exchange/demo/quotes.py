"""The liquidity bot's arithmetic, pure: no I/O, no clock; randomness only as an argument.

Everything here is in the market's integers: prices in ticks, quantities in steps, amounts in
atomic units. The one float is the mid's random walk, which ``MidWalk.ticks`` snaps back to the
tick grid with one rounding; every price and size sent is then integer arithmetic.

Rules:
- The ladder sits on a grid of ``spacing`` ticks anchored at zero, so a mid that moves inside
  one cell changes no price: requotes stay rare and the feed quiet.
- ``plan`` turns (wanted ladder, resting orders) into the fewest actions: keep an order at a
  wanted price while its size is within half to twice the level's, else shrink it in place
  (keeps its queue place) or refill it,
  move a spare order to a missing price (one amend instead of a cancel and a place), place only
  what is still missing and cancel what is left over.
- Inventory: an order "brings in" what a full fill would credit (fees only lessen it). A user's
  holdings plus what its open orders bring in never pass the cap; ``Budget`` enforces it for
  every action that adds to it, and ``top_up`` onramps only into the room that leaves.
"""

from __future__ import annotations

import math
import random
from typing import Any, NamedTuple

from exchange.domain.markets import Asset, Market
from exchange.domain.units import Grid, split_decimal

BUY, SELL = "buy", "sell"
#: The walk never strays further than this from its start (log scale): about -22% / +28%.
MAX_DEVIATION = 0.25


class Quote(NamedTuple):
    side: str
    price: int
    qty: int
    level: int


class Resting(NamedTuple):
    """One open order of ours, in the market's integers (``qty`` is its total)."""

    order_id: str
    side: str
    price: int
    qty: int
    executed: int

    @property
    def remaining(self) -> int:
        return self.qty - self.executed


class Action(NamedTuple):
    """``place``, ``amend`` (to ``price`` with ``remaining`` left) or ``cancel`` one order."""

    kind: str
    side: str
    price: int
    remaining: int
    level: int
    order_id: str = ""
    old_price: int = 0
    old_remaining: int = 0
    executed: int = 0


def atomic(text: str, decimals: int) -> int:
    """Decimal text of an amount (zero allowed, unlike a grid value) in atomic units; exact."""
    parts = split_decimal(text)
    if parts is None or parts[1] > decimals:
        raise ValueError(f"{text!r} is not an amount with at most {decimals} decimals")
    digits, exp = parts
    return int(digits * 10 ** (decimals - exp))


def steps(text: str, grid: Grid) -> int:
    """Decimal text on ``grid`` (zero allowed: an order's ``executedQty``) in grid steps."""
    units = atomic(text, grid.decimals)
    if units % grid.units:
        raise ValueError(f"{text!r} is not on the grid of {grid.step_text}")
    return units // grid.units


class MidWalk:
    """A mean-reverting random walk of the log mid (Ornstein-Uhlenbeck, Euler steps)."""

    __slots__ = ("reversion", "start", "volatility", "x")

    def __init__(self, start: int, volatility: float, reversion: float, x: float = 0.0) -> None:
        self.start, self.volatility, self.reversion = start, volatility, reversion
        self.x = max(-MAX_DEVIATION, min(MAX_DEVIATION, x))

    def step(self, dt: float, gauss: float) -> int:
        """Advance ``dt`` seconds with one standard normal draw; the new mid in ticks."""
        dt = max(0.0, dt)
        self.x += -self.reversion * self.x * dt + self.volatility * math.sqrt(dt) * gauss
        self.x = max(-MAX_DEVIATION, min(MAX_DEVIATION, self.x))
        return self.ticks()

    def ticks(self) -> int:
        return max(1, round(self.start * math.exp(self.x)))


def skew(held: int, target: int, max_ticks: int) -> int:
    """Ticks to move the ladder: down when long (sell more, buy less), up when short."""
    if target <= 0:
        return 0
    ratio = max(-1.0, min(1.0, (held - target) / target))
    return -round(ratio * max_ticks)


def ladder(center: int, levels: int, spacing: int, size: int, max_price: int) -> list[Quote]:
    """``levels`` bids below and asks above ``center`` on the ``spacing`` grid; deeper is bigger.

    The nearest bid is at most ``center - h`` and the nearest ask at least ``center + h`` with
    ``h = ceil(spacing / 2)``, so the two sides never touch."""
    half = (spacing + 1) // 2
    best_bid = (center - half) // spacing * spacing
    best_ask = -(-(center + half) // spacing) * spacing
    quotes = []
    for k in range(levels):
        qty = size * (k + 2) // 2
        bid, ask = best_bid - k * spacing, best_ask + k * spacing
        if bid > 0:
            quotes.append(Quote(BUY, bid, qty, k))
        if ask <= max_price:
            quotes.append(Quote(SELL, ask, qty, k))
    return quotes


def plan(wanted: list[Quote], resting: list[Resting]) -> list[Action]:
    """The fewest actions that turn ``resting`` into ``wanted``, in a safe order: cancels, then
    shrinks, then what adds, the side moving away from the other first (after a jump up the
    asks move up before the bids follow, so no bid lands on an ask of ours), nearest first."""
    by_side = {}
    for side in (BUY, SELL):
        mine = [r for r in resting if r.side == side]
        by_side[side] = _plan_side([q for q in wanted if q.side == side], mine, side)
    first = SELL if _moved_up(wanted, resting) else BUY
    adds_order = {first: 0, (BUY if first == SELL else SELL): 1}
    rank = {"cancel": 0, "shrink": 1}
    actions = by_side[BUY] + by_side[SELL]
    return sorted(actions, key=lambda a: (rank.get(_kind(a), 2), adds_order[a.side], a.level))


def _kind(a: Action) -> str:
    shrinks = a.kind == "amend" and a.price == a.old_price and a.remaining < a.old_remaining
    return "shrink" if shrinks else a.kind


def _moved_up(wanted: list[Quote], resting: list[Resting]) -> bool:
    bids = [q.price for q in wanted if q.side == BUY]
    resting_bids = [r.price for r in resting if r.side == BUY]
    return bool(bids and resting_bids) and max(bids) > max(resting_bids)


def _plan_side(wanted: list[Quote], resting: list[Resting], side: str) -> list[Action]:
    at_price: dict[int, Resting] = {}
    spare: list[Resting] = []
    for r in resting:
        if r.price in at_price:
            spare.append(r)  # a second order at one price: one is enough
        else:
            at_price[r.price] = r
    wanted_prices = {q.price for q in wanted}
    spare += [r for p, r in at_price.items() if p not in wanted_prices]
    # The farthest spare order is moved first: it is the least useful where it is.
    spare.sort(key=lambda r: r.price, reverse=side == SELL)
    out: list[Action] = []
    for q in wanted:
        there = at_price.get(q.price)
        if there is not None:
            # A band, not an exact size: a ladder shifting by a level must not resize them all.
            if there.remaining > 2 * q.qty or 2 * there.remaining < q.qty:
                out.append(_amend(there, q))
        elif spare:
            out.append(_amend(spare.pop(0), q))
        else:
            out.append(Action("place", q.side, q.price, q.qty, q.level))
    out += [Action("cancel", r.side, r.price, 0, -1, r.order_id, r.price, r.remaining) for r in spare]
    return out


def _amend(r: Resting, q: Quote) -> Action:
    return Action("amend", q.side, q.price, q.qty, q.level, r.order_id, r.price, r.remaining, r.executed)


def brings_in(m: Market, side: str, price: int, remaining: int) -> tuple[str, int]:
    """(asset, amount) a full fill of the rest of an order credits, before fees."""
    if side == BUY:
        return m.base.name, m.base_amount(remaining)
    return m.quote.name, m.notional(price, remaining)


def holds(m: Market, side: str, price: int, remaining: int) -> tuple[str, int]:
    """(asset, amount) a resting limit order locks."""
    if side == BUY:
        return m.quote.name, m.notional(price, remaining)
    return m.base.name, m.base_amount(remaining)


class Budget:
    """What one user may still add: ``room`` (cap - held - brought in by open orders) and
    ``free`` (available to lock), per asset. An action that would pass either is refused;
    what an action gives back is not credited until the next look at the balances, because a
    cancel may lose the race with a fill."""

    def __init__(self, room: dict[str, int], free: dict[str, int]) -> None:
        self.room, self.free = dict(room), dict(free)

    def take(self, m: Market, a: Action) -> bool:
        in_asset, more_in = brings_in(m, a.side, a.price, a.remaining)
        out_asset, more_out = holds(m, a.side, a.price, a.remaining)
        if a.kind == "amend":
            more_in -= brings_in(m, a.side, a.old_price, a.old_remaining)[1]
            more_out -= holds(m, a.side, a.old_price, a.old_remaining)[1]
        more_in, more_out = max(0, more_in), max(0, more_out)
        if more_in > self.room.get(in_asset, 0) or more_out > self.free.get(out_asset, 0):
            return False
        self.room[in_asset] -= more_in
        self.free[out_asset] -= more_out
        return True


def top_up(held: int, incoming: int, cap: int, target: int) -> int:
    """The onramp that brings ``held`` back to ``target`` once it fell below half of it, never
    past what the cap leaves after what open orders may bring in; 0 when none is due."""
    if held * 2 >= target:
        return 0
    return max(0, min(target - held, cap - held - incoming))


class TakerOrder(NamedTuple):
    side: str
    type: str
    qty: int
    price: int | None


class Wallet(NamedTuple):
    """One user's view for a decision: held (available + locked), free, cap and target."""

    held: dict[str, int]
    free: dict[str, int]
    cap: dict[str, int]
    target: dict[str, int]


def taker_order(
    m: Market, max_qty: int, spacing: int, best: tuple[int | None, int | None], w: Wallet,
    rng: random.Random,
) -> TakerOrder | None:  # fmt: skip
    """A random marketable order (market or IOC limit ``spacing`` ticks through the touch),
    leaning against the taker's base inventory; None when neither side fits its wallet."""
    base = m.base.name
    lean = skew(w.held.get(base, 0), w.target.get(base, 0), 40) / 100  # in [-0.4, 0.4]
    first = BUY if rng.random() < 0.5 + lean else SELL
    market = rng.random() < 0.5
    for side in (first, SELL if first == BUY else BUY):
        touch = best[1] if side == BUY else best[0]
        if touch is None:
            continue
        qty = rng.randint(*_qty_range(m, touch, max_qty))
        limit = touch + spacing if side == BUY else max(1, touch - spacing)
        if _fits(m, side, touch, limit, qty, w):
            return TakerOrder(side, "market" if market else "limit", qty, None if market else limit)
    return None


def _qty_range(m: Market, price: int, max_qty: int) -> tuple[int, int]:
    per_step = m.notional(price, 1)
    low = max(m.min_qty, -(-m.min_notional // per_step) if per_step else m.min_qty)
    return low, max(low, max_qty)


def _fits(m: Market, side: str, touch: int, limit: int, qty: int, w: Wallet) -> bool:
    base, quote = m.base.name, m.quote.name
    if side == BUY:
        # Gets exactly qty (less fees); pays at most the limit (a market buy: the engine checks).
        gets, asset, spends, pays = m.base_amount(qty), base, quote, m.notional(limit, qty)
    else:
        # Gets what the bids pay: the touch seen, with 5% against a bid that rose meanwhile.
        gets, asset, spends, pays = m.notional(touch, qty) * 21 // 20, quote, base, m.base_amount(qty)
    room = w.cap.get(asset, 0) - w.held.get(asset, 0)
    return gets <= room and pays <= w.free.get(spends, 0)


# -- from the wire ---------------------------------------------------------------------------
def market_from_json(j: dict[str, Any], decimals: dict[str, int]) -> Market:
    """A domain market rebuilt from ``GET /markets``: exact grids and notionals, as the server."""
    base, quote = j["baseAsset"], j["quoteAsset"]
    return Market.build(j["symbol"], Asset(base, decimals[base]), Asset(quote, decimals[quote]), j)


def resting_from_json(o: dict[str, Any], m: Market) -> Resting:
    """An open order as ``GET /orders/open`` answers it, in the market's integers."""
    executed = steps(o["executedQty"], m.qty)
    return Resting(o["orderId"], o["side"], m.price.parse(o["price"]), m.qty.parse(o["quantity"]), executed)


def touch(levels: list[list[str]], m: Market) -> int | None:
    """The best price of a ``/depth`` side, in ticks; None when the side is empty."""
    return m.price.parse(levels[0][0]) if levels else None
