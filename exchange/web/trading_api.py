"""Private REST for orders: place, cancel, amend, cancel-all, and the caller's own views."""

from __future__ import annotations

import asyncio

from aiohttp import web

from exchange.domain.reasons import Reason
from exchange.web import orders
from exchange.web.auth import authenticate
from exchange.web.common import json_response, query_limit, query_market, query_window
from exchange.web.errors import ApiError, invalid
from exchange.web.keys import ENGINE, HISTORY, USERDATA, VENUE
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
    m = query_market(request, required=False)
    if m is not None:
        if symbol is not None and symbol != m.symbol:
            raise invalid("symbol in the query and the body disagree")
        symbol = m.symbol
    return json_response(await orders.cancel_all(request.app, who.user_id, symbol))


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
    """Closed orders, newest first: the recent ones from memory (exact to the last command),
    older ones and ``endTime`` pages from the SQLite history (read off the event loop)."""
    who = await authenticate(request)
    m = query_market(request, required=False)
    symbol, limit, (start, end) = m.symbol if m else None, query_limit(request), query_window(request)
    found = [] if end is not None else request.app[USERDATA].closed_orders(who.user_id, symbol, limit)
    if len(found) < limit:
        before = found[-1].updated_at if found else end
        older = await asyncio.to_thread(
            request.app[HISTORY].closed_orders, who.user_id, symbol, limit, before
        )
        seen = {s.order_id for s in found}
        found += [s for s in older if s.order_id not in seen][: limit - len(found)]
    markets = request.app[VENUE].markets
    return json_response(
        [order_json(s, markets[s.symbol]) for s in found if start is None or s.updated_at >= start]
    )


async def fills(request: web.Request) -> web.Response:
    """The caller's fills, newest first; memory first, then the SQLite history (as above)."""
    who = await authenticate(request)
    m = query_market(request, required=False)
    symbol, limit, (start, end) = m.symbol if m else None, query_limit(request), query_window(request)
    found = [] if end is not None else request.app[USERDATA].fills(who.user_id, symbol, limit)
    if len(found) < limit:
        before = found[-1].ts if found else end
        older = await asyncio.to_thread(request.app[HISTORY].fills, who.user_id, symbol, limit, before)
        seen = {(f.trade_id, f.role) for f in found}
        found += [f for f in older if (f.trade_id, f.role) not in seen][: limit - len(found)]
    venue = request.app[VENUE]
    found = [f for f in found if start is None or f.ts >= start]
    return json_response([fill_json(f, venue.markets[f.order.symbol], venue.assets) for f in found])
