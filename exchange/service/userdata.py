"""Per-user recent history (closed orders, fills), fed by engine events.

A bounded in-memory projection: each user keeps the newest ``kept`` closed orders and fills
(deques), so memory is O(users x kept). The durable, unbounded history is a SQLite projection
built by the durability work; this answers the recent past without touching the disk.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import cast

import msgspec

from exchange.domain.events import (
    CLOSED_STATUSES,
    Event,
    OrderCanceled,
    OrderExpired,
    OrderFilled,
    OrderState,
)

_CLOSING = frozenset((OrderCanceled, OrderExpired, OrderFilled))  # final classes: type() suffices


class UserDataSnapshot(msgspec.Struct, frozen=True):
    """Oldest first in every list, so restoring appends in the original order."""

    closed: list[OrderState]
    fills: list[OrderFilled]
    order_fills: list[OrderFilled]


class UserData:
    def __init__(self, kept: int = 1000) -> None:
        self.kept = kept
        self._closed: dict[int, deque[OrderState]] = {}
        self._fills: dict[int, deque[OrderFilled]] = {}
        #: Fills of recent orders by order id, for an order's ``fills`` field; bounded too.
        self._order_fills: dict[int, list[OrderFilled]] = {}

    def apply(self, events: Sequence[Event]) -> None:
        for event in events:
            if type(event) not in _CLOSING:
                continue
            state = cast("OrderCanceled | OrderExpired | OrderFilled", event).order
            if isinstance(event, OrderFilled):
                self._user_deque(self._fills, state.user_id).appendleft(event)
                self._order_fills.setdefault(state.order_id, []).append(event)
                if len(self._order_fills) > self.kept * 10:
                    del self._order_fills[next(iter(self._order_fills))]
            if state.status in CLOSED_STATUSES:
                self._user_deque(self._closed, state.user_id).appendleft(state)

    def _user_deque(self, table: dict[int, deque], user: int) -> deque:  # type: ignore[type-arg]
        found = table.get(user)
        if found is None:
            found = table[user] = deque(maxlen=self.kept)
        return found

    def closed_orders(self, user: int, symbol: str | None, limit: int) -> list[OrderState]:
        found = self._closed.get(user, ())
        return [s for s in found if symbol in (None, s.symbol)][:limit]

    def fills(self, user: int, symbol: str | None, limit: int) -> list[OrderFilled]:
        found = self._fills.get(user, ())
        return [f for f in found if symbol in (None, f.order.symbol)][:limit]

    def order_fills(self, order_id: int) -> list[OrderFilled]:
        return self._order_fills.get(order_id, [])

    def snapshot(self) -> UserDataSnapshot:
        return UserDataSnapshot(
            closed=[s for user in self._closed.values() for s in reversed(user)],
            fills=[f for user in self._fills.values() for f in reversed(user)],
            order_fills=[f for fills in self._order_fills.values() for f in fills],
        )

    def restore(self, snap: UserDataSnapshot) -> None:
        for state in snap.closed:
            self._user_deque(self._closed, state.user_id).appendleft(state)
        for fill in snap.fills:
            self._user_deque(self._fills, fill.order.user_id).appendleft(fill)
        for fill in snap.order_fills:
            self._order_fills.setdefault(fill.order.order_id, []).append(fill)
