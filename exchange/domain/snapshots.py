"""The engine's snapshot as plain msgspec data (kept interpreted: msgspec reads the field
types of these Structs at run time, which a compiled module would not leave it)."""

from __future__ import annotations

import msgspec

from exchange.domain.commands import OrderType, SelfTradePrevention, Side, TimeInForce
from exchange.domain.events import DepositState, OrderState, OrderStatus, WithdrawalState

#: The snapshot's layout. 1: before funding (a snapshot without ``format`` reads as 1), with no
#: deposit records: restoring it carries each balance over as an opening deposit.
SNAPSHOT_FORMAT = 2
#: The fields a format-1 snapshot has, in order: what its writer hashed.
FORMAT_1_FIELDS = (
    "last_seq", "next_order_id", "next_trade_id", "balances", "onramped", "orders", "next_queue", "closed",
    "requests",
)  # fmt: skip


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
    # Funding (format 2): every deposit and withdrawal, by id. The totals deposited and
    # withdrawn and the withdrawal holds are derived from them on restore.
    deposits: list[DepositState] = []
    withdrawals: list[WithdrawalState] = []
    next_deposit_id: int = 1
    next_withdrawal_id: int = 1
    format: int = 1
