"""What a taker meets in the book: one read-only walk that the matcher and the checks share.

Price-time priority: the other side's levels best price first, up to the taker's limit price
if it has one, and in each level its live orders oldest first. Self-trade prevention, when
the taker meets a resting order of its own user, is the taker's ``stp``: ``expire_taker``
stops the taker and leaves the maker, ``expire_maker`` expires the maker and walks on,
``expire_both`` expires the maker and stops the taker, ``none`` trades. A market buy by
``quoteQuantity`` fills only whole steps its budget still pays for, and a fill that leaves
less than one step's price of it ends the order.

``walk`` changes nothing, so the same answer serves a dry run and the real thing: a FOK order
asks whether the taker would be ``done``, a market buy by quantity holds what its fills would
``spend``, and the engine applies the steps in order. Applied in that order each step's maker
is at the front of the best level when its turn comes, because every step before it took its
own maker out of the book: only the last fill can leave a maker partly filled.
"""

from __future__ import annotations

from collections.abc import Iterator

from exchange.domain.book import Level, Order, OrderBook
from exchange.domain.commands import BUY, EXPIRE_MAKER, EXPIRE_TAKER, SELL, STP_NONE
from exchange.domain.markets import Market


class Walk:
    """The steps of one taker: ``makers[i]`` fills ``qtys[i]`` steps, or is expired by
    self-trade prevention where ``qtys[i]`` is 0."""

    def __init__(self, need: int, budget: int | None) -> None:
        self.makers: list[Order] = []
        self.qtys: list[int] = []
        self.need = need  # steps the taker still wants after these fills
        self.budget = budget  # quote a market buy by quoteQuantity can still spend; None: no budget
        self.spent = 0  # quote the fills cost
        self.done = False  # the fills end the taker: all its quantity, or all its budget buys
        self.stp = False  # self-trade prevention stopped the taker


def walk(m: Market, book: OrderBook, t: Order, budget: int | None) -> Walk:
    """The steps taker ``t`` would take against ``book`` now; ``budget`` for a market buy by
    quoteQuantity. See the module docstring for the rules."""
    w = Walk(t.remaining, budget)
    buy = t.side is BUY
    opposite = SELL if buy else BUY
    limit = t.price
    level = book.best_level(opposite)
    rest: Iterator[Level] | None = None  # the worse levels, built only if the best does not end it
    while level is not None:
        if limit is not None and (level.price > limit if buy else level.price < limit):
            break
        if _meet_level(m, level, t, w):
            break
        if rest is None:
            rest = book.levels(opposite)
            next(rest)  # the best level, met already
        level = next(rest, None)
    return w


def _meet_level(m: Market, level: Level, t: Order, w: Walk) -> bool:
    """Meet the live orders of ``level`` oldest first; True when the taker stops here."""
    step_cost = m.notional(level.price, 1)
    user, stp = t.user, t.stp
    for maker in level.orders:
        if not maker.live:
            continue  # cancelled; the level drops it lazily
        if maker.user == user and stp is not STP_NONE:
            if stp is not EXPIRE_TAKER:
                w.makers.append(maker)
                w.qtys.append(0)
            if stp is not EXPIRE_MAKER:
                w.stp = True
                return True
            continue
        if not _fill(w, maker.remaining, step_cost):
            return True  # the budget cannot pay for one more step
        w.makers.append(maker)
        if w.done:
            return True
    return False


def _fill(w: Walk, available: int, step_cost: int) -> bool:
    """Add a fill of up to ``available`` steps at ``step_cost`` each; False if none is affordable.
    A fill short of ``available`` always ends the taker (quantity or budget used up)."""
    qty = w.need if w.need < available else available
    budget = w.budget
    if budget is not None:
        qty = min(qty, budget // step_cost)
        if qty == 0:
            return False
        budget -= step_cost * qty
        w.budget = budget
    w.qtys.append(qty)
    w.spent += step_cost * qty
    w.need -= qty
    w.done = w.need == 0 or (budget is not None and budget < step_cost)
    return True
