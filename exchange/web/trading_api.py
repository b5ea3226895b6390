"""Private REST for orders: place, cancel, amend, cancel-all, and the caller's own views."""

from __future__ import annotations

from aiohttp import web

from exchange.domain.reasons import Reason
from exchange.web import orders, queries, schemas
from exchange.web.auth import authenticate
from exchange.web.common import json_response, query_market
from exchange.web.errors import ApiError, invalid
from exchange.web.keys import READS, VENUE
from exchange.web.wire import fill_json, order_json


async def place_order(request: web.Request) -> web.Response:
    who = await authenticate(request)
    return json_response(await orders.place(request.app, who.user_id, await request.read()))


async def cancel_order(request: web.Request) -> web.Response:
    who = await authenticate(request)
    return json_response(await orders.cancel(request.app, who.user_id, await request.read()))


async def amend_order(request: web.Request) -> web.Response:
    who = await authenticate(request)
    return json_response(await orders.amend(request.app, who.user_id, await request.read()))


async def cancel_all(request: web.Request) -> web.Response:
    who = await authenticate(request)
    symbol = orders.cancel_all_symbol(request.app, await request.read())
    m = query_market(request.app, queries.read(request, queries.SymbolQuery), required=False)
    if m is not None:
        if symbol is not None and symbol != m.symbol:
            raise invalid("symbol in the query and the body disagree")
        symbol = m.symbol
    return json_response(await orders.cancel_all(request.app, who.user_id, symbol))


async def get_order(request: web.Request) -> web.Response:
    who = await authenticate(request)
    q = queries.read(request, queries.OrderQuery)
    m = query_market(request.app, q)
    assert m is not None
    raw_id, coid = q.order_id, q.client_order_id
    if (raw_id is None) == (coid is None):
        raise invalid("give exactly one of orderId and clientOrderId")
    oid = schemas.decimal_id(raw_id) if coid is None else None
    found = None
    if coid is not None or oid is not None:
        found = await request.app[READS].order(who.user_id, m.symbol, oid, coid)
    if found is None:
        raise ApiError.of(Reason.ORDER_NOT_FOUND, "no such order")
    state, fills = found
    venue = request.app[VENUE]
    return json_response(order_json(state, m, [fill_json(f, m, venue.assets) for f in fills]))


async def open_orders(request: web.Request) -> web.Response:
    who = await authenticate(request)
    m = query_market(request.app, queries.read(request, queries.SymbolQuery), required=False)
    markets = request.app[VENUE].markets
    found = await request.app[READS].open_orders(who.user_id, m.symbol if m else None)
    return json_response([order_json(s, markets[s.symbol]) for s in reversed(found)])


async def order_history(request: web.Request) -> web.Response:
    """Closed orders, newest first (service/reads.py: memory, then the SQLite history)."""
    who = await authenticate(request)
    q = queries.read(request, queries.HistoryQuery)
    m = query_market(request.app, q, required=False)
    symbol, limit, start, end = m.symbol if m else None, q.limit, q.start_time, q.end_time
    found = await request.app[READS].closed_orders(who.user_id, symbol, limit, start, end)
    markets = request.app[VENUE].markets
    return json_response([order_json(s, markets[s.symbol]) for s in found])


async def fills(request: web.Request) -> web.Response:
    """The caller's fills, newest first (as above)."""
    who = await authenticate(request)
    q = queries.read(request, queries.HistoryQuery)
    m = query_market(request.app, q, required=False)
    symbol, limit, start, end = m.symbol if m else None, q.limit, q.start_time, q.end_time
    found = await request.app[READS].fills(who.user_id, symbol, limit, start, end)
    venue = request.app[VENUE]
    return json_response([fill_json(f, venue.markets[f.order.symbol], venue.assets) for f in found])
