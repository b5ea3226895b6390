"""Private REST for orders: place, cancel, amend, cancel-all, and the caller's own views."""

from __future__ import annotations

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
from exchange.domain.reasons import Reason
from exchange.web import schemas
from exchange.web.auth import Principal, authenticate
from exchange.web.common import execute, json_response, market_of, query_limit, query_market
from exchange.web.errors import ApiError, invalid
from exchange.web.keys import ENGINE, USERDATA, VENUE
from exchange.web.wire import fill_json, order_json, reply_order


async def _body(request: web.Request) -> bytes:
    return await request.read()


def build_place(user: int, body: schemas.PlaceOrderBody, request: web.Request) -> PlaceOrder:
    """The wire body -> an engine command, with amounts placed exactly on the market's grid."""
    m = market_of(request, body.symbol, body.market)
    order_type = OrderType(body.type.lower())
    if order_type is OrderType.MARKET and body.time_in_force is not None:
        raise invalid("market orders take no timeInForce (they are IOC by nature)")
    return PlaceOrder(
        user_id=user,
        symbol=m.symbol,
        side=Side(body.side.lower()),
        type=order_type,
        price=schemas.on_grid(body.price, m.price, "price"),
        quantity=schemas.on_grid(body.quantity, m.qty, "quantity"),
        quote_quantity=schemas.on_grid(body.quote_quantity, m.quote.grid("quoteQuantity"), "quoteQuantity"),
        time_in_force=TimeInForce(body.time_in_force or "GTC"),
        post_only=body.post_only,
        client_order_id=body.client_order_id,
        stp=SelfTradePrevention(body.self_trade_prevention or "expire_taker"),
    )


async def place_order(request: web.Request) -> web.Response:
    who = await authenticate(request)
    body = schemas.decode(schemas.PlaceOrderBody, await _body(request))
    cmd = build_place(who.user_id, body, request)
    return await _order_reply(request, cmd)


async def _order_reply(request: web.Request, cmd: PlaceOrder | CancelOrder | AmendOrder) -> web.Response:
    events = await execute(request, cmd)
    venue = request.app[VENUE]
    m = venue.markets[cmd.symbol]
    order = next(e.order for e in events if hasattr(e, "order"))  # the command's own order comes first
    return json_response(reply_order(events, order.order_id, m, venue.assets))


def _ref(
    who: Principal, body: schemas.OrderRefBody, request: web.Request
) -> tuple[str, int | None, str | None]:
    m = market_of(request, body.symbol, body.market)
    oid = schemas.order_id(body.order_id)
    if (oid is None) == (body.client_order_id is None):
        raise invalid("give exactly one of orderId and clientOrderId")
    return m.symbol, oid, body.client_order_id


async def cancel_order(request: web.Request) -> web.Response:
    who = await authenticate(request)
    body = schemas.decode(schemas.OrderRefBody, await _body(request))
    symbol, oid, coid = _ref(who, body, request)
    return await _order_reply(
        request, CancelOrder(user_id=who.user_id, symbol=symbol, order_id=oid, client_order_id=coid)
    )


async def amend_order(request: web.Request) -> web.Response:
    who = await authenticate(request)
    body = schemas.decode(schemas.AmendOrderBody, await _body(request))
    symbol, oid, coid = _ref(who, body, request)
    m = request.app[VENUE].markets[symbol]
    price = schemas.on_grid(body.price, m.price, "price")
    qty = schemas.on_grid(body.quantity, m.qty, "quantity")
    if price is None and qty is None:
        raise invalid("give a new quantity, a new price or both")
    cmd = AmendOrder(
        user_id=who.user_id, symbol=symbol, order_id=oid, client_order_id=coid, quantity=qty, price=price
    )
    return await _order_reply(request, cmd)


async def cancel_all(request: web.Request) -> web.Response:
    who = await authenticate(request)
    symbol = None
    if request.body_exists:
        body = schemas.decode(schemas.CancelAllBody, await _body(request))
        if body.symbol is not None or body.market is not None:
            symbol = market_of(request, body.symbol, body.market).symbol
    m = query_market(request, required=False)
    if m is not None:
        if symbol is not None and symbol != m.symbol:
            raise invalid("symbol in the query and the body disagree")
        symbol = m.symbol
    events = await execute(request, CancelAll(user_id=who.user_id, symbol=symbol))
    markets = request.app[VENUE].markets
    return json_response(
        [order_json(e.order, markets[e.order.symbol]) for e in events if isinstance(e, OrderCanceled)]
    )


async def get_order(request: web.Request) -> web.Response:
    who = await authenticate(request)
    m = query_market(request)
    assert m is not None
    engine, q = request.app[ENGINE], request.query
    raw_id, coid = q.get("orderId"), q.get("clientOrderId")
    if (raw_id is None) == (coid is None):
        raise invalid("give exactly one of orderId and clientOrderId")
    oid = engine.coids.get((who.user_id, coid)) if coid is not None else _int_id(raw_id)
    state = engine.order(oid) if oid is not None else None
    if state is None or state.user_id != who.user_id or state.symbol != m.symbol:
        raise ApiError.of(Reason.ORDER_NOT_FOUND, "no such order")
    venue = request.app[VENUE]
    fills = [fill_json(f, m, venue.assets) for f in request.app[USERDATA].order_fills(state.order_id)]
    return json_response(order_json(state, m, fills))


def _int_id(raw: str | None) -> int | None:
    return int(raw) if raw and raw.isascii() and raw.isdigit() and len(raw) <= 19 else None


async def open_orders(request: web.Request) -> web.Response:
    who = await authenticate(request)
    m = query_market(request, required=False)
    markets = request.app[VENUE].markets
    found = request.app[ENGINE].open_orders(who.user_id, m.symbol if m else None)
    return json_response([order_json(s, markets[s.symbol]) for s in reversed(found)])


async def order_history(request: web.Request) -> web.Response:
    who = await authenticate(request)
    m = query_market(request, required=False)
    markets = request.app[VENUE].markets
    closed = request.app[USERDATA].closed_orders(who.user_id, m.symbol if m else None, query_limit(request))
    return json_response([order_json(s, markets[s.symbol]) for s in closed])


async def fills(request: web.Request) -> web.Response:
    who = await authenticate(request)
    m = query_market(request, required=False)
    venue = request.app[VENUE]
    found = request.app[USERDATA].fills(who.user_id, m.symbol if m else None, query_limit(request))
    return json_response([fill_json(f, venue.markets[f.order.symbol], venue.assets) for f in found])
