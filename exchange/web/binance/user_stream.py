"""The user data stream of Binance's WebSocket API, rendered from the one feed's events.

A ``userDataStream.subscribe.signature`` (web/binance/ws_api.py) subscribes its connection to
the hub topic ``bnuser<subscriptionId>:<user>``; this renderer (a renderer of web/ws/feed.py,
as the market streams are) turns each command's events into Binance's events, each wrapped
``{"subscriptionId": N, "event": {...}}`` and encoded once per subscription id in use:

- ``executionReport`` per order event (accepted ``NEW``, each fill ``TRADE``, ``CANCELED``,
  ``EXPIRED``, an amend ``REPLACED``), with every field ccxt.pro reads;
- ``balanceUpdate`` per change of free funds by funding (Binance's deposit and withdrawal
  event: the delta): a deposit (+), a withdrawal requested (-) or rejected (+);
- ``outboundAccountPosition`` once per command that changed the user's balances, last, with
  the new totals of each asset it changed.
The topic names the user after its ``:``, as the native private topics do, so a gateway
subscribes to that user's events only while someone streams them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import orjson

from exchange.config import Venue, compact_symbol
from exchange.domain.events import (
    FUNDING_EVENTS,
    ORDER_EVENTS,
    BalanceChanged,
    DepositCredited,
    Event,
    FundingEvent,
    OrderAmended,
    OrderCanceled,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderStatus,
    Role,
    WithdrawalStatus,
    funding_user,
)
from exchange.domain.markets import Market
from exchange.domain.units import format_scaled
from exchange.web.binance.wire import order_type
from exchange.web.ws.hub import Hub

Json = dict[str, Any]
_LIVE = frozenset({OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED})
_EXECUTION = {
    OrderFilled: "TRADE", OrderCanceled: "CANCELED", OrderExpired: "EXPIRED", OrderAmended: "REPLACED",
}  # fmt: skip
#: How a withdrawal's new state moves the user's free funds, per unit of its amount.
_FREE_DELTA = {WithdrawalStatus.PENDING: -1, WithdrawalStatus.REJECTED: 1}


def user_topic(subscription_id: int, user_id: int) -> str:
    return f"bnuser{subscription_id}:{user_id}"


class UserStreams:
    def __init__(self, venue: Venue, hub: Hub) -> None:
        self.venue = venue
        self.hub = hub
        #: user -> {subscription id: subscribers}: which ids to encode an event for.
        self._ids: dict[int, dict[int, int]] = {}

    def watch(self, user_id: int, subscription_id: int, delta: int) -> None:
        ids = self._ids.setdefault(user_id, {})
        left = ids.get(subscription_id, 0) + delta
        if left > 0:
            ids[subscription_id] = left
        else:
            ids.pop(subscription_id, None)
            if not ids:
                self._ids.pop(user_id, None)

    def apply(self, events: Sequence[Event]) -> None:
        if not self._ids:
            return
        positions: dict[int, dict[str, BalanceChanged]] = {}
        for e in events:
            kind = type(e)
            if kind in ORDER_EVENTS:
                order = cast(OrderEvent, e)
                if order.order.user_id in self._ids:
                    self._publish(order.order.user_id, self.execution_report(order))
            elif kind is BalanceChanged:
                change = cast(BalanceChanged, e)
                if change.user_id in self._ids:
                    positions.setdefault(change.user_id, {})[change.asset] = change
            elif kind in FUNDING_EVENTS:
                self._funding(cast(FundingEvent, e))
        for user_id, changes in positions.items():
            self._publish(user_id, self.account_position(list(changes.values())))

    def flush(self) -> None:
        """Nothing waits for a timer here; the feed flushes the hub after ``apply``."""

    def _publish(self, user_id: int, event: Json) -> None:
        for subscription_id in self._ids.get(user_id, {}):
            frame = orjson.dumps({"subscriptionId": subscription_id, "event": event})
            self.hub.publish(user_topic(subscription_id, user_id), frame)

    def _funding(self, e: FundingEvent) -> None:
        user = funding_user(e)
        if user not in self._ids:
            return
        if isinstance(e, DepositCredited):
            asset, delta = e.deposit.asset, 0 if e.duplicate else e.deposit.amount
        else:
            w = e.withdrawal
            asset, delta = w.asset, _FREE_DELTA.get(w.status, 0) * w.amount
        if delta:
            amount = format_scaled(delta, self.venue.assets[asset].decimals)
            self._publish(user, {"e": "balanceUpdate", "E": e.ts, "a": asset, "d": amount, "T": e.ts})

    def account_position(self, changes: list[BalanceChanged]) -> Json:
        assets, ts = self.venue.assets, changes[-1].ts
        # Binance has one column for what is not free: orders' and withdrawals' holds together.
        balances = [{"a": c.asset, "f": assets[c.asset].format(c.available),
                     "l": assets[c.asset].format(c.locked + c.withdrawing)} for c in changes]  # fmt: skip
        return {"e": "outboundAccountPosition", "E": ts, "u": ts, "B": balances}

    def execution_report(self, e: OrderEvent) -> Json:
        state, m = e.order, self.venue.markets[e.order.symbol]
        price, qty, quote = m.price.format, m.qty.format, m.quote.format
        coid = state.client_order_id or ""
        return {
            "e": "executionReport", "E": e.ts, "s": compact_symbol(state.symbol), "c": coid,
            "S": state.side.upper(), "o": order_type(state), "f": state.time_in_force.value,
            "q": qty(state.quantity or 0), "p": price(state.price or 0), "P": price(0), "F": qty(0),
            "g": -1, "C": coid if isinstance(e, OrderCanceled) else "",
            "x": _EXECUTION.get(type(e), "NEW"), "X": state.status.value, "r": "NONE",
            "i": state.order_id, "z": qty(state.executed_qty), "T": e.ts, "I": e.seq,
            "w": state.status in _LIVE, "M": False, "O": state.created_at, "Z": quote(state.executed_quote),
            "Q": quote(state.quote_quantity or 0), "W": state.created_at, "V": state.stp.upper(),
            **self._last_fill(e if isinstance(e, OrderFilled) else None, m),
        }  # fmt: skip

    def _last_fill(self, fill: OrderFilled | None, m: Market) -> Json:
        """The fill this report is about (``x: TRADE``), or Binance's zeros for any other."""
        if fill is None:
            return {"l": m.qty.format(0), "L": m.price.format(0), "n": "0", "N": None, "t": -1, "m": False,
                    "Y": m.quote.format(0)}  # fmt: skip
        return {
            "l": m.qty.format(fill.quantity), "L": m.price.format(fill.price),
            "n": self.venue.assets[fill.fee_asset].format(fill.fee), "N": fill.fee_asset,
            "t": fill.trade_id, "m": fill.role is Role.MAKER, "Y": m.quote.format(fill.quote_quantity),
        }  # fmt: skip
