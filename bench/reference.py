"""A minimal price-time matcher: the yardstick the engine is measured against.

Same data structures as the engine's book (SortedDict ladders keyed ``-price`` for bids and
``price`` for asks, a FIFO deque per level, an id index, lazy deletion), so the gap between
the two is the cost of everything the engine adds on top: validation, the ledger, fees,
order state and events. It does the real matching work: a crossing order consumes the
opposite levels by price then time. No users, balances, events or validation.

An order is a list ``[order_id, remaining, price, is_buy, quantity]``; ``remaining == 0`` in a
deque means canceled (lazy deletion: skipped when it reaches the front).
"""

from __future__ import annotations

from collections import deque

from sortedcontainers import SortedDict

Entry = list[int]


class _Level:
    __slots__ = ("orders", "live")

    def __init__(self) -> None:
        self.orders: deque[Entry] = deque()
        self.live = 0


class _Book:
    __slots__ = ("bids", "asks")

    def __init__(self) -> None:
        self.bids: SortedDict = SortedDict()
        self.asks: SortedDict = SortedDict()


class ReferenceExchange:
    def __init__(self, symbols: list[str]) -> None:
        self.books = {s: _Book() for s in symbols}
        self.orders: dict[int, Entry] = {}
        self.next_id = 1
        self.trades = 0
        self.not_found = 0

    def place(self, symbol: str, buy: bool, price: int | None, qty: int, ioc: bool) -> None:
        """A limit (``price``) or market order; a GTC remainder rests, anything else expires."""
        oid = self.next_id
        self.next_id += 1
        self._enter(self.books[symbol], [oid, qty, price or 0, buy, qty], price is not None and not ioc)

    def cancel(self, symbol: str, order_id: int) -> None:
        e = self.orders.pop(order_id, None)
        if e is None:
            self.not_found += 1
            return
        self._unlink(self.books[symbol], e)

    def amend(self, symbol: str, order_id: int, qty: int | None, price: int | None) -> None:
        """New total ``qty`` and/or ``price``: shrink in place, else take out and re-enter."""
        e = self.orders.get(order_id)
        if e is None:
            self.not_found += 1
            return
        new_qty = e[4] if qty is None else qty
        new_price = e[2] if price is None else price
        executed = e[4] - e[1]
        if new_qty <= executed:
            return
        if new_price == e[2] and new_qty <= e[4]:
            e[1], e[4] = new_qty - executed, new_qty
            return
        book = self.books[symbol]
        del self.orders[order_id]
        self._unlink(book, e)
        self._enter(book, [order_id, new_qty - executed, new_price, e[3], new_qty], True)

    # -- internals -------------------------------------------------------------------------
    def _enter(self, book: _Book, e: Entry, rest: bool) -> None:
        if e[3]:
            self._match(book.asks, e, 1)
            if e[1] and rest:
                self._rest(book.bids, -e[2], e)
        else:
            self._match(book.bids, e, -1)
            if e[1] and rest:
                self._rest(book.asks, e[2], e)

    def _match(self, ladder: SortedDict, taker: Entry, sign: int) -> None:
        """Fill ``taker`` against ``ladder`` (keys ``sign * price``) up to its limit price."""
        limit = sign * taker[2] if taker[2] else None
        orders = self.orders
        while taker[1] and ladder:
            key, level = ladder.peekitem(0)
            if limit is not None and key > limit:
                return
            q = level.orders
            while taker[1]:
                maker = q[0]
                if not maker[1]:
                    q.popleft()
                    continue
                fill = taker[1] if taker[1] < maker[1] else maker[1]
                taker[1] -= fill
                maker[1] -= fill
                self.trades += 1
                if not maker[1]:
                    q.popleft()
                    del orders[maker[0]]
                    level.live -= 1
                    if not level.live:
                        del ladder[key]
                        break

    def _rest(self, ladder: SortedDict, key: int, e: Entry) -> None:
        level = ladder.get(key)
        if level is None:
            level = ladder[key] = _Level()
        level.orders.append(e)
        level.live += 1
        self.orders[e[0]] = e

    @staticmethod
    def _unlink(book: _Book, e: Entry) -> None:
        ladder, key = (book.bids, -e[2]) if e[3] else (book.asks, e[2])
        level = ladder[key]
        e[1] = 0
        level.live -= 1
        if not level.live:
            del ladder[key]
