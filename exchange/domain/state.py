"""The engine's state: indexes, queries, snapshot/restore and the cross-cutting invariants.

``EngineSnapshot`` is plain msgspec data in a canonical order (balances and orders sorted),
so two engines in the same state encode to the same bytes, which is how replay is checked.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping

from exchange.domain.book import Order, OrderBook
from exchange.domain.events import DepositState, OrderState, WithdrawalState
from exchange.domain.funding import Funding
from exchange.domain.ledger import Balance, Ledger
from exchange.domain.markets import Asset, Market
from exchange.domain.rules import limit_hold
from exchange.domain.snapshots import SNAPSHOT_FORMAT, EngineSnapshot, RestingOrder

#: Request ids remembered for idempotency. Duplicates come from redelivery (the Redis bus hands
#: the engine again what it read but had not acknowledged: at most a few read batches) and from
#: a gateway resubmitting within its 5 s reply timeout; at the ~20k commands/s the Redis path
#: carries here, 5 s is 100k commands. Memory: ~100 bytes each, ~10 MB when full.
REQUEST_WINDOW = 100_000


class EngineState:
    def __init__(
        self,
        assets: Mapping[str, Asset],
        markets: Mapping[str, Market],
        closed_cache: int = 100_000,
        request_window: int = REQUEST_WINDOW,
    ):
        self.assets = dict(assets)
        self.markets = dict(markets)
        #: Books changed by the current command (each book registers itself; see OrderBook).
        self.dirty: list[OrderBook] = []
        self.books = {symbol: OrderBook(symbol, self.dirty) for symbol in self.markets}
        self.ledger = Ledger()
        self.orders: dict[int, Order] = {}
        self.user_orders: dict[int, dict[int, Order]] = {}
        self.coids: dict[tuple[int, str], int] = {}
        #: Recently closed orders for ``order()`` look-ups: a fixed ring indexed by
        #: ``order_id % cap``, so it holds the closed orders among the last ``cap`` ids and never
        #: resizes (a dict of 100k entries paused the engine ~10 ms at each rebuild).
        self.closed: list[OrderState | None] = []  # grows to closed_cache slots, then stays
        self.closed_cap = closed_cache
        self.next_order_id = 1
        self.next_trade_id = 1
        self.last_seq = 0
        self._seq = 0
        self._ts = 0
        #: request id -> the seq that applied it, and the ids oldest first (the window's order).
        self.requests: dict[str, int] = {}
        self.request_order: deque[str] = deque()
        self.request_window = request_window
        self.funding = Funding()

    # -- index upkeep ----------------------------------------------------------------------
    def _open(self, o: Order) -> None:
        self.next_order_id = max(self.next_order_id, o.id + 1)
        self.orders[o.id] = o
        mine = self.user_orders.get(o.user)
        if mine is None:
            mine = self.user_orders[o.user] = {}
        mine[o.id] = o
        if o.coid is not None:
            self.coids[(o.user, o.coid)] = o.id

    def _forget(self, o: Order, state: OrderState) -> None:
        del self.orders[o.id]
        del self.user_orders[o.user][o.id]
        if o.coid is not None:
            del self.coids[(o.user, o.coid)]
        self._remember(state)

    def _remember(self, state: OrderState) -> None:
        ring, slot = self.closed, state.order_id % self.closed_cap
        if slot >= len(ring):
            ring.extend([None] * (slot + 1 - len(ring)))
        ring[slot] = state

    def _seen(self, request_id: str, seq: int) -> int | None:
        """The seq that already applied ``request_id``, else None after remembering it at ``seq``."""
        requests = self.requests
        earlier = requests.get(request_id)
        if earlier is not None:
            return earlier
        requests[request_id] = seq
        order = self.request_order
        order.append(request_id)
        if len(order) > self.request_window:
            del requests[order.popleft()]
        return None

    # -- queries ---------------------------------------------------------------------------
    def balances(self, user: int) -> dict[str, tuple[int, int, int]]:
        """``{asset: (available, locked, withdrawing)}`` for every asset the user has touched."""
        account = self.ledger.accounts.get(user, {})
        return {asset: (b.available, b.locked, b.withdrawing) for asset, b in account.items()}

    def open_orders(self, user: int, symbol: str | None = None) -> list[OrderState]:
        mine = self.user_orders.get(user, {})
        return [o.state() for o in mine.values() if symbol in (None, o.symbol)]

    def order(self, order_id: int) -> OrderState | None:
        """An open or recently closed order; the caller checks that it is the user's own."""
        live = self.orders.get(order_id)
        if live is not None:
            return live.state()
        slot = order_id % self.closed_cap
        state = self.closed[slot] if order_id >= 0 and slot < len(self.closed) else None
        return state if state is not None and state.order_id == order_id else None

    def depth(self, symbol: str, limit: int) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        return self.books[symbol].depth(limit)

    # -- snapshot --------------------------------------------------------------------------
    def snapshot(self) -> EngineSnapshot:
        balances = sorted(
            (user, asset, b.available, b.locked)
            for user, account in self.ledger.accounts.items()
            for asset, b in account.items()
        )
        orders = [_resting(o) for o in sorted(self.orders.values(), key=lambda o: o.id)]
        funding = self.funding
        return EngineSnapshot(
            last_seq=self.last_seq,
            next_order_id=self.next_order_id,
            next_trade_id=self.next_trade_id,
            balances=balances,
            onramped=sorted((u, a, n) for (u, a), n in self.ledger.user_onramped.items()),
            orders=orders,
            next_queue={s: b.next_queue for s, b in sorted(self.books.items())},
            closed=[s for s in self.closed if s is not None],
            requests=[(rid, self.requests[rid]) for rid in self.request_order],
            deposits=sorted(funding.deposits.values(), key=_id_of_deposit),
            withdrawals=sorted(funding.withdrawals.values(), key=_id_of_withdrawal),
            next_deposit_id=funding.next_deposit_id,
            next_withdrawal_id=funding.next_withdrawal_id,
            format=SNAPSHOT_FORMAT,
        )

    def restore(self, snap: EngineSnapshot) -> None:
        """Load ``snap`` into this freshly built engine (same assets and markets)."""
        if self.orders or self.ledger.accounts:
            raise ValueError("restore needs an empty engine")
        if snap.format > SNAPSHOT_FORMAT:
            raise ValueError(f"snapshot format {snap.format} is newer than this engine's ({SNAPSHOT_FORMAT})")
        ledger = self.ledger
        for user, asset, available, locked in snap.balances:
            ledger.accounts.setdefault(user, {})[asset] = Balance(user, asset, available, locked)
        for user, asset, amount in snap.onramped:
            ledger.user_onramped[(user, asset)] = amount
        self.funding.load(snap.deposits, snap.withdrawals, ledger, carry_over=snap.format == 1)
        for r in snap.orders:
            o = Order(
                r.id,
                r.user,
                r.symbol,
                r.side,
                r.type,
                r.tif,
                r.price,
                r.qty,
                None,
                r.coid,
                r.post_only,
                r.stp,
                r.created,
            )
            o.remaining, o.executed, o.executed_quote = r.remaining, r.executed, r.executed_quote
            o.status, o.updated = r.status, r.updated
            self._open(o)
        for r in sorted(snap.orders, key=lambda r: r.queue):
            book = self.books[r.symbol]
            book.add(self.orders[r.id])
            self.orders[r.id].queue = r.queue
        for symbol, book in self.books.items():
            book.next_queue = snap.next_queue.get(symbol, 1)
            book.drain_changes()  # restoring is not a change anyone should hear about
        self.dirty.clear()
        for state in snap.closed:
            self._remember(state)
        for rid, seq in snap.requests[-self.request_window :]:
            self.requests[rid] = seq
            self.request_order.append(rid)
        self.next_order_id, self.next_trade_id = snap.next_order_id, snap.next_trade_id
        self.funding.next_deposit_id = max(self.funding.next_deposit_id, snap.next_deposit_id)
        self.funding.next_withdrawal_id = snap.next_withdrawal_id
        self.last_seq = snap.last_seq

    # -- integrity -------------------------------------------------------------------------
    def check_integrity(self) -> None:
        """Raise AssertionError unless books, ledger and indexes agree with each other."""
        for book in self.books.values():
            book.check_integrity()
        self.ledger.check_integrity()
        in_books = {oid: o for book in self.books.values() for oid, o in book.index.items()}
        if in_books.keys() != self.orders.keys() or any(self.orders[i] is not o for i, o in in_books.items()):
            raise AssertionError("engine index and book indexes disagree")
        by_user = {oid: o for mine in self.user_orders.values() for oid, o in mine.items()}
        if by_user.keys() != self.orders.keys():
            raise AssertionError("per-user index disagrees with the open orders")
        coids = {(o.user, o.coid): o.id for o in self.orders.values() if o.coid is not None}
        if coids != self.coids:
            raise AssertionError("clientOrderId index disagrees with the open orders")
        self._check_locked()
        self._check_closed()
        self.funding.check(self.ledger)
        order = self.request_order
        if len(order) > self.request_window or set(order) != self.requests.keys():
            raise AssertionError("request-id window and its order disagree")

    def _check_closed(self) -> None:
        """The ring's used slots hold closed orders at their own slot (only ids issued so far)."""
        cap, ring = self.closed_cap, self.closed
        if len(ring) > cap:
            raise AssertionError("closed-order ring outgrew its bound")
        for slot, state in enumerate(ring):
            if state is not None and (state.order_id % cap != slot or state.order_id in self.orders):
                raise AssertionError(f"closed-order ring slot {slot} is wrong")

    def _check_locked(self) -> None:
        need: dict[tuple[int, str], int] = {}
        for o in self.orders.values():
            assert o.price is not None
            asset, amount = limit_hold(self.markets[o.symbol], o.side, o.price, o.remaining)
            need[(o.user, asset)] = need.get((o.user, asset), 0) + amount
        for user, account in self.ledger.accounts.items():
            for asset, b in account.items():
                needed = need.get((user, asset), 0)
                if b.locked != needed:
                    raise AssertionError(f"user {user} {asset}: locked {b.locked}, orders need {needed}")
        for (user, asset), amount in need.items():
            if self.ledger.accounts.get(user, {}).get(asset) is None and amount:
                raise AssertionError(f"user {user} {asset}: open orders need {amount}, no balance")


def _id_of_deposit(d: DepositState) -> int:
    return d.id


def _id_of_withdrawal(w: WithdrawalState) -> int:
    return w.id


def _resting(o: Order) -> RestingOrder:
    assert o.price is not None and o.qty is not None  # only limit orders rest
    return RestingOrder(
        o.id,
        o.user,
        o.symbol,
        o.side,
        o.type,
        o.tif,
        o.price,
        o.qty,
        o.remaining,
        o.executed,
        o.executed_quote,
        o.status,
        o.coid,
        o.post_only,
        o.stp,
        o.created,
        o.updated,
        o.queue,
    )
