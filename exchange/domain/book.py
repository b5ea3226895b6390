"""One market's order book: price-time priority over integer prices and quantities.

Layout:
- ``bids`` and ``asks`` are SortedDicts from a key to a ``Level``; the key is ``-price`` for
  bids and ``price`` for asks, so the first item of either ladder is the best level.
- A ``Level`` holds its orders FIFO in a deque and the total *remaining* quantity of its live
  orders. Cancellation is lazy: the order is marked dead and leaves the index, the level's
  total and live count drop at once, and the dead entry is skipped when it reaches the front
  (or swept when dead entries outnumber live ones), so cancel is O(1) amortised.
- ``index`` maps order id -> resting order.

Invariants (``check_integrity``): not crossed (best bid < best ask); no level without live
orders; a level's total = sum of its live orders' remaining; every live order in a ladder is
in the index at its own side and price and vice versa; FIFO (queue numbers rise) in a level.

Complexity: add O(log L) for a new level else O(1); cancel O(1) amortised (+O(log L) if the
level empties); best level O(1); depth(n) O(n).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from itertools import islice

from sortedcontainers import SortedDict

from exchange.domain.commands import BUY, SELL, OrderType, SelfTradePrevention, Side, TimeInForce
from exchange.domain.events import NEW, OrderState


class Order:
    """A live order; mutable inside the engine, published only as an ``OrderState`` copy."""

    __slots__ = (
        "id", "user", "symbol", "side", "type", "tif", "price", "qty", "quote_qty",
        "remaining", "executed", "executed_quote", "status", "coid", "post_only", "stp",
        "created", "updated", "queue", "live", "level",
    )  # fmt: skip

    def __init__(
        self,
        id: int,
        user: int,
        symbol: str,
        side: Side,
        type: OrderType,
        tif: TimeInForce,
        price: int | None,
        qty: int | None,
        quote_qty: int | None,
        coid: str | None,
        post_only: bool,
        stp: SelfTradePrevention,
        ts: int,
    ) -> None:
        self.id = id
        self.user = user
        self.symbol = symbol
        self.side = side
        self.type = type
        self.tif = tif
        self.price = price
        self.qty = qty
        self.quote_qty = quote_qty
        self.remaining = qty or 0
        self.executed = 0
        self.executed_quote = 0
        self.status = NEW
        self.coid = coid
        self.post_only = post_only
        self.stp = stp
        self.created = ts
        self.updated = ts
        self.queue = 0
        self.live = False
        #: The Level this order rests in while live (saves a ladder look-up on every change).
        self.level: Level | None = None

    def clone(self) -> Order:
        """A fresh object for re-queueing: the dead one may still sit in an old level's deque."""
        copy = Order(
            self.id, self.user, self.symbol, self.side, self.type, self.tif, self.price, self.qty,
            self.quote_qty, self.coid, self.post_only, self.stp, self.created,
        )  # fmt: skip
        copy.remaining, copy.executed, copy.executed_quote = (
            self.remaining,
            self.executed,
            self.executed_quote,
        )
        copy.status, copy.updated, copy.queue = self.status, self.updated, self.queue
        return copy

    def state(self) -> OrderState:
        return OrderState(
            self.id, self.user, self.symbol, self.side, self.type, self.tif, self.price, self.qty,
            self.quote_qty, self.executed, self.executed_quote, self.status, self.coid, self.post_only,
            self.stp, self.created, self.updated,
        )  # fmt: skip


def _levels(touched: list[Level], reverse: bool) -> list[tuple[int, int]]:
    """(price, total now) of touched levels, best first; 0 for a level emptied meanwhile."""
    if len(touched) == 1:  # the common case: no sort
        lv = touched[0]
        return [(lv.price, lv.total if lv.live else 0)]
    # A level emptied and re-created at the same price in one command: the newest one counts.
    by_price = {lv.price: lv for lv in touched}
    return [(p, lv.total if lv.live else 0) for p, lv in sorted(by_price.items(), reverse=reverse)]


class Level:
    __slots__ = ("price", "orders", "total", "live", "mark")

    def __init__(self, price: int) -> None:
        self.price = price
        self.orders: deque[Order] = deque()
        self.total = 0
        self.live = 0
        self.mark = -1  # the book's drain epoch in which this level was last listed as touched

    def front(self) -> Order:
        """The oldest live order; the level must have one."""
        orders = self.orders
        while not orders[0].live:
            orders.popleft()
        return orders[0]

    def sweep(self) -> None:
        if len(self.orders) > 2 * self.live + 16:
            self.orders = deque(o for o in self.orders if o.live)


class OrderBook:
    __slots__ = (
        "symbol", "bids", "asks", "index", "next_queue", "touched_bids", "touched_asks", "_best_bid",
        "_best_ask", "_epoch", "_dirty",
    )  # fmt: skip

    def __init__(self, symbol: str, dirty: list[OrderBook] | None = None) -> None:
        self.symbol = symbol
        #: Books with undrained changes: a book adds itself on its first change of a command,
        #: so the engine learns which books to drain without tracking every mutation site.
        self._dirty: list[OrderBook] = dirty if dirty is not None else []
        self.bids: SortedDict = SortedDict()
        self.asks: SortedDict = SortedDict()
        self.index: dict[int, Order] = {}
        self.next_queue = 1
        #: Levels changed since the last drain, each once (a mark on the level dedupes); a level
        #: emptied meanwhile reads as 0.
        self.touched_bids: list[Level] = []
        self.touched_asks: list[Level] = []
        self._epoch = 0
        self._best_bid: int | None = None
        self._best_ask: int | None = None

    # -- queries ---------------------------------------------------------------------------
    def best_bid(self) -> int | None:
        return self._best_bid

    def best_ask(self) -> int | None:
        return self._best_ask

    def crosses(self, side: Side, price: int) -> bool:
        """Would a limit order on ``side`` at ``price`` meet the other side right now?"""
        if side is BUY:
            ask = self._best_ask
            return ask is not None and ask <= price
        bid = self._best_bid
        return bid is not None and bid >= price

    def best_level(self, side: Side) -> Level | None:
        """Best level of ``side``'s ladder (bids for BUY, asks for SELL)."""
        if side is BUY:
            bid = self._best_bid
            return self.bids[-bid] if bid is not None else None
        ask = self._best_ask
        return self.asks[ask] if ask is not None else None

    def levels(self, side: Side) -> Iterator[Level]:
        """Levels of ``side``'s ladder, best first, lazily. Keys, each looked up: they iterate
        natively, where the ladder's values view steps a Python generator per level (the
        matcher walks this on every taker that goes past the best level)."""
        ladder = self.bids if side is BUY else self.asks
        return map(ladder.__getitem__, ladder)

    def depth(self, limit: int) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """Top ``limit`` aggregated levels per side, best first, as (price, total)."""
        bids = [(lv.price, lv.total) for lv in islice(self.bids.values(), limit)]
        asks = [(lv.price, lv.total) for lv in islice(self.asks.values(), limit)]
        return bids, asks

    # -- changes ---------------------------------------------------------------------------
    def add(self, order: Order) -> None:
        """Queue ``order`` at the back of its price level."""
        assert order.price is not None and order.remaining > 0 and not order.live
        price = order.price
        if order.side is BUY:
            ladder, key = self.bids, -price
        else:
            ladder, key = self.asks, price
        level = ladder.get(key)
        if level is None:
            level = ladder[key] = Level(price)
            self._improve(order.side, price)
        order.queue = self.next_queue
        self.next_queue += 1
        order.live = True
        order.level = level
        level.orders.append(order)
        level.total += order.remaining
        level.live += 1
        self.index[order.id] = order
        self._touch(order.side, level)

    def remove(self, order: Order) -> None:
        """Take a resting order out of the book (cancel, expiry, or before a re-queue)."""
        level = self._level_of(order)
        order.live = False
        del self.index[order.id]
        level.total -= order.remaining
        level.live -= 1
        if level.live == 0:
            self._drop(order.side, level)
        else:
            level.sweep()

    def reduce(self, order: Order, by: int) -> None:
        """Lower a resting order's remaining by ``by`` > 0, keeping its queue place."""
        assert 0 < by < order.remaining
        self._level_of(order).total -= by
        order.remaining -= by

    def fill_front(self, level: Level, maker: Order, qty: int) -> None:
        """Account a fill of ``qty`` against ``maker``, the front order of ``level``."""
        maker.remaining -= qty
        level.total -= qty
        self._touch(maker.side, level)
        if maker.remaining == 0:
            maker.live = False
            level.orders.popleft()
            level.live -= 1
            del self.index[maker.id]
            if level.live == 0:
                self._drop(maker.side, level)

    def drain_changes(self) -> tuple[list[tuple[int, int]], list[tuple[int, int]]] | None:
        """Levels touched since the last drain with their totals now (0 = gone), or None."""
        touched_bids, touched_asks = self.touched_bids, self.touched_asks
        if not touched_bids and not touched_asks:
            return None
        bids = _levels(touched_bids, True) if touched_bids else []
        asks = _levels(touched_asks, False) if touched_asks else []
        self.touched_bids, self.touched_asks = [], []
        self._epoch += 1
        return bids, asks

    # -- internals -------------------------------------------------------------------------
    def _level_of(self, order: Order) -> Level:
        level = order.level
        assert level is not None and order.live
        self._touch(order.side, level)
        return level

    def _touch(self, side: Side, level: Level) -> None:
        if level.mark != self._epoch:
            level.mark = self._epoch
            if not self.touched_bids and not self.touched_asks:
                self._dirty.append(self)
            (self.touched_bids if side is BUY else self.touched_asks).append(level)

    def _drop(self, side: Side, level: Level) -> None:
        if side is BUY:
            bids = self.bids
            del bids[-level.price]
            if level.price == self._best_bid:
                self._best_bid = -bids.peekitem(0)[0] if bids else None
        else:
            asks = self.asks
            del asks[level.price]
            if level.price == self._best_ask:
                self._best_ask = asks.peekitem(0)[0] if asks else None

    def _improve(self, side: Side, price: int) -> None:
        """A new level at ``price``: is it the new best? (The best prices are cached: the
        matcher and every crossing check read them, and a SortedDict peek costs a few calls.)"""
        if side is BUY:
            if self._best_bid is None or price > self._best_bid:
                self._best_bid = price
        elif self._best_ask is None or price < self._best_ask:
            self._best_ask = price

    # -- integrity -------------------------------------------------------------------------
    def check_integrity(self) -> None:
        """Raise AssertionError if any invariant of the module docstring is broken."""
        bid, ask = self.best_bid(), self.best_ask()
        real_bid = -self.bids.peekitem(0)[0] if self.bids else None
        real_ask = self.asks.peekitem(0)[0] if self.asks else None
        if (bid, ask) != (real_bid, real_ask):
            raise AssertionError(f"{self.symbol}: cached best {(bid, ask)} != ladders {(real_bid, real_ask)}")
        if bid is not None and ask is not None and bid >= ask:
            raise AssertionError(f"{self.symbol}: book crossed, bid {bid} >= ask {ask}")
        seen: set[int] = set()
        for side, ladder, sign in ((BUY, self.bids, -1), (SELL, self.asks, 1)):
            for key, level in ladder.items():
                self._check_level(side, sign * key, level, seen)
        if seen != set(self.index):
            raise AssertionError(f"{self.symbol}: index and ladders disagree")

    def _check_level(self, side: Side, price: int, level: Level, seen: set[int]) -> None:
        live = [o for o in level.orders if o.live]
        where = f"{self.symbol} {side} {price}"
        if level.price != price or not live or len(live) != level.live:
            raise AssertionError(f"{where}: level key, emptiness or live count wrong")
        if level.total != sum(o.remaining for o in live):
            raise AssertionError(f"{where}: level total is not the sum of remaining")
        queues = [o.queue for o in live]
        if queues != sorted(queues):
            raise AssertionError(f"{where}: FIFO order broken")
        for o in live:
            if o.side is not side or o.price != price or o.remaining <= 0:
                raise AssertionError(f"{where}: order {o.id} misplaced or empty")
            if self.index.get(o.id) is not o:
                raise AssertionError(f"{where}: order {o.id} missing from the index")
            seen.add(o.id)
