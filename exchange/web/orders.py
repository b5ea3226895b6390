"""Order entry shared by REST and the WebSocket: raw JSON body in, the API's order JSON out.

The caller has authenticated the user; these functions decode the body strictly, place every
amount exactly on the market's grid, submit the command and shape the engine's answer.
"""

from __future__ import annotations

import enum
from typing import Any

from aiohttp import web

from exchange.domain.commands import (
    AmendOrder,
    CancelAll,
    CancelOrder,
    OrderType,
    PlaceOrder,
    SelfTradePrevention,
    Side,
    TimeInForce,
)
from exchange.domain.events import OrderCanceled
from exchange.web import schemas
from exchange.web.common import execute, market_of
from exchange.web.keys import VENUE
from exchange.web.wire import Json, order_json, reply_order


def _by_text(*kinds: type[enum.StrEnum]) -> dict[str | None, Any]:
    """Wire text (either case) -> member; the body's Literal types admit nothing else. A dict
    lookup instead of ``Enum(text)``: ~0.3 us less each, four times per order."""
    return {
        text: member for kind in kinds for member in kind for text in (member.value, member.value.upper())
    }


_SIDES, _TYPES = _by_text(Side), _by_text(OrderType)
_TIFS = _by_text(TimeInForce) | {None: None}  # as the body says: the engine judges it
_STPS = _by_text(SelfTradePrevention) | {None: SelfTradePrevention.EXPIRE_TAKER}


def build_place(app: web.Application, user: int, body: schemas.PlaceOrderBody) -> PlaceOrder:
    """The wire body -> an engine command, with amounts placed exactly on the market's grid."""
    m = market_of(app, body.symbol, body.market)
    return PlaceOrder(
        user_id=user,
        symbol=m.symbol,
        side=_SIDES[body.side],
        type=_TYPES[body.type],
        price=schemas.on_grid(body.price, m.price, "price"),
        quantity=schemas.on_grid(body.quantity, m.qty, "quantity"),
        quote_quantity=schemas.on_grid(body.quote_quantity, m.quote.grid("quoteQuantity"), "quoteQuantity"),
        time_in_force=_TIFS[body.time_in_force],
        post_only=body.post_only,
        client_order_id=body.client_order_id,
        stp=_STPS[body.self_trade_prevention],
    )


async def _order_reply(app: web.Application, cmd: PlaceOrder | CancelOrder | AmendOrder) -> Json:
    events = await execute(app, cmd)
    venue = app[VENUE]
    return reply_order(events, venue.markets[cmd.symbol], venue.assets)


def _ref(app: web.Application, body: schemas.OrderRefBody) -> tuple[str, int | None, str | None]:
    m = market_of(app, body.symbol, body.market)
    return m.symbol, schemas.order_id(body.order_id), body.client_order_id


async def place(app: web.Application, user: int, raw: bytes) -> Json:
    body = schemas.decode(schemas.PlaceOrderBody, raw)
    return await _order_reply(app, build_place(app, user, body))


async def cancel(app: web.Application, user: int, raw: bytes) -> Json:
    symbol, oid, coid = _ref(app, schemas.decode(schemas.OrderRefBody, raw))
    return await _order_reply(
        app, CancelOrder(user_id=user, symbol=symbol, order_id=oid, client_order_id=coid)
    )


async def amend(app: web.Application, user: int, raw: bytes) -> Json:
    body = schemas.decode(schemas.AmendOrderBody, raw)
    symbol, oid, coid = _ref(app, body)
    m = app[VENUE].markets[symbol]
    price = schemas.on_grid(body.price, m.price, "price")
    qty = schemas.on_grid(body.quantity, m.qty, "quantity")
    cmd = AmendOrder(
        user_id=user, symbol=symbol, order_id=oid, client_order_id=coid, quantity=qty, price=price
    )
    return await _order_reply(app, cmd)


def cancel_all_symbol(app: web.Application, raw: bytes) -> str | None:
    """The market a cancel-all body names, if any (an empty body means every market)."""
    if not raw.strip():
        return None
    body = schemas.decode(schemas.CancelAllBody, raw)
    if body.symbol is None and body.market is None:
        return None
    return market_of(app, body.symbol, body.market).symbol


async def cancel_all(app: web.Application, user: int, symbol: str | None) -> list[Json]:
    events = await execute(app, CancelAll(user_id=user, symbol=symbol))
    markets = app[VENUE].markets
    return [order_json(e.order, markets[e.order.symbol]) for e in events if isinstance(e, OrderCanceled)]
