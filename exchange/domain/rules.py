"""Pre-trade checks and the hold an order needs; pure functions that change nothing.

A check returns ``None`` when the command may go on, else a ``Rejection`` whose reason maps to
an API.md error code. The engine runs every check before it changes any state, which is what
makes "a rejected command changes nothing" hold.

Holds: a limit buy locks ``price x quantity`` of quote; a sell locks its base quantity; a
market buy by ``quoteQuantity`` locks that amount; a market buy by ``quantity`` locks what
filling it against the book as it stands would cost (``matching.walk``).
"""

from __future__ import annotations

import re
from typing import NamedTuple

from exchange.domain.book import Order
from exchange.domain.commands import (
    BUY,
    GTC,
    LIMIT,
    MARKET,
    Side,
)
from exchange.domain.markets import MAX_AMOUNT, Market
from exchange.domain.reasons import Reason

CLIENT_ORDER_ID = re.compile(r"[A-Za-z0-9_-]{1,36}\Z")


class Rejection(NamedTuple):
    reason: Reason
    message: str


def check_client_order_id(coid: str | None) -> Rejection | None:
    if coid is not None and not CLIENT_ORDER_ID.match(coid):
        return Rejection(Reason.INVALID_REQUEST, "clientOrderId must be 1-36 of [A-Za-z0-9_-]")
    return None


def check_price(m: Market, price: int | None) -> Rejection | None:
    if price is None:
        return Rejection(Reason.INVALID_PRICE, "a limit order needs a price")
    if not 0 < price <= m.price.max_steps:
        return Rejection(
            Reason.INVALID_PRICE, f"price must be above 0 and at most {m.price.format(m.price.max_steps)}"
        )
    return None


def check_quantity(m: Market, qty: int | None) -> Rejection | None:
    if qty is None:
        return Rejection(Reason.INVALID_QUANTITY, "quantity is required")
    if not m.min_qty <= qty <= m.qty.max_steps:
        return Rejection(
            Reason.INVALID_QUANTITY,
            f"quantity must be between {m.qty.format(m.min_qty)} and {m.qty.format(m.qty.max_steps)}",
        )
    return None


def check_notional(m: Market, notional: int) -> Rejection | None:
    if notional < m.min_notional:
        return Rejection(
            Reason.MIN_NOTIONAL,
            f"order value must be at least {m.quote.format(m.min_notional)} {m.quote.name}",
        )
    return None


def check_place(o: Order, m: Market) -> Rejection | None:
    """Every rule of a new order (built from its command) that needs only it and its market."""
    price, qty = o.price, o.qty
    # Fast path: a plain, valid limit order passes one compound test (most orders are these).
    if (
        o.type is LIMIT and price is not None and qty is not None and o.quote_qty is None
        and o.coid is None and not o.post_only and m.status == "TRADING"
        and 0 < price <= m.price.max_steps and m.min_qty <= qty <= m.qty.max_steps
        and price * qty * m.quote_per_tick_step >= m.min_notional
    ):  # fmt: skip
        return None
    if m.status != "TRADING":
        return Rejection(Reason.MARKET_CLOSED, f"{m.symbol} is not trading ({m.status})")
    bad = check_client_order_id(o.coid)
    if bad:
        return bad
    if o.type is LIMIT:
        return _check_limit(o, m)
    if o.type is MARKET:
        return _check_market(o, m)
    return Rejection(Reason.INVALID_REQUEST, "type must be limit or market")


def _check_limit(o: Order, m: Market) -> Rejection | None:
    if o.quote_qty is not None:
        return Rejection(Reason.INVALID_REQUEST, "quoteQuantity is only for market buys")
    if o.post_only and o.tif is not GTC:
        return Rejection(Reason.INVALID_REQUEST, "postOnly orders must be GTC")
    bad = check_price(m, o.price) or check_quantity(m, o.qty)
    if bad:
        return bad
    assert o.price is not None and o.qty is not None
    return check_notional(m, m.notional(o.price, o.qty))


def _check_market(o: Order, m: Market) -> Rejection | None:
    if o.price is not None:
        return Rejection(Reason.INVALID_REQUEST, "market orders take no price")
    if o.post_only:
        return Rejection(Reason.INVALID_REQUEST, "market orders cannot be postOnly")
    if o.quote_qty is None:
        return check_quantity(m, o.qty)
    if o.qty is not None:
        return Rejection(Reason.INVALID_REQUEST, "give quantity or quoteQuantity, not both")
    if o.side is not BUY:
        return Rejection(Reason.INVALID_REQUEST, "quoteQuantity is only for market buys")
    if not 0 < o.quote_qty < MAX_AMOUNT:
        return Rejection(Reason.INVALID_QUANTITY, "quoteQuantity is out of range")
    return check_notional(m, o.quote_qty)


def limit_hold(m: Market, side: Side, price: int, remaining: int) -> tuple[str, int]:
    """(asset, amount) a limit order resting with ``remaining`` steps at ``price`` keeps locked:
    quote for a buy, base for a sell. The one definition the engine and its checks use."""
    if side is BUY:
        return m.quote.name, m.notional(price, remaining)
    return m.base.name, m.base_amount(remaining)
