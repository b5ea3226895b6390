"""The engine's snapshot as plain msgspec data (kept interpreted: msgspec reads the field
types of these Structs at run time, which a compiled module would not leave it)."""

from __future__ import annotations

import msgspec

from exchange.domain.commands import OrderType, SelfTradePrevention, Side, TimeInForce
from exchange.domain.events import OrderState, OrderStatus


class RestingOrder(msgspec.Struct, frozen=True, array_like=True):
    id: int
    user: int
    symbol: str
    side: Side
    type: OrderType
    tif: TimeInForce
    price: int
    qty: int
    remaining: int
    executed: int
    executed_quote: int
    status: OrderStatus
    coid: str | None
    post_only: bool
    stp: SelfTradePrevention
    created: int
    updated: int
    queue: int


class EngineSnapshot(msgspec.Struct, frozen=True):
    last_seq: int
    next_order_id: int
    next_trade_id: int
    balances: list[tuple[int, str, int, int]]
    onramped: list[tuple[int, str, int]]
    orders: list[RestingOrder]
    next_queue: dict[str, int]
    closed: list[OrderState]
    #: The request-id window, oldest first: (request id, seq that applied it).
    requests: list[tuple[str, int]] = []
