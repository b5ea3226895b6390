"""Helpers every handler shares: JSON answers, the market a request names, the trip to the engine."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from exchange.bus.base import Closed, EngineTimeout, Overloaded, Unavailable
from exchange.domain.commands import AnyCommand
from exchange.domain.events import Event, OrderRejected
from exchange.domain.markets import Market
from exchange.domain.reasons import Reason
from exchange.service.marketdata import MarketData
from exchange.web.errors import ApiError, bus_error, engine_timeout, invalid, unavailable
from exchange.web.keys import BUS, MARKET_DATA_READY, MARKETDATA, VENUE
from exchange.web.queries import SymbolQuery, one_name


def json_response(data: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, content_type="application/json")


def market_data(app: web.Application) -> MarketData:
    """The market data to answer from; 503 on a gateway whose mirror is (re)syncing, rather
    than an empty or stale book."""
    ready = app.get(MARKET_DATA_READY)
    if ready is not None and not ready():
        raise unavailable("market data is resyncing with the engine; retry shortly")
    return app[MARKETDATA]


def market_of(app: web.Application, symbol: str | None, alias: str | None = None) -> Market:
    """The market named by ``symbol`` (or its seed alias ``market``); 404 if unknown."""
    name = one_name(symbol, alias)
    if name is None:
        raise invalid("symbol is required")
    m = app[VENUE].markets.get(name)
    if m is None:
        raise ApiError.of(Reason.UNKNOWN_SYMBOL, f"unknown symbol {name!r}")
    return m


def query_market(app: web.Application, query: SymbolQuery, *, required: bool = True) -> Market | None:
    """The market a query names (``symbol``, or the seed's ``market``); None when optional and absent."""
    if not required and query.symbol is None:
        return None
    return market_of(app, query.symbol)


async def execute(app: web.Application, command: AnyCommand) -> list[Event]:
    """Submit to the engine and wait for its events; a rejection becomes its API error."""
    try:
        future = app[BUS].submit(command)
    except Overloaded:
        raise ApiError("OVERLOADED", "the engine is busy; retry shortly", retry_after=1) from None
    except Closed:
        raise ApiError("OVERLOADED", "the exchange is shutting down", retry_after=5) from None
    except Unavailable as exc:
        raise bus_error(exc) from None
    # The in-process bus needs no timeout: the engine answers or, if it dies, the bus fails
    # every queued reply (app.py); the Redis bus times requests out itself (EngineTimeout).
    # A cancelled request leaves the command to run; its reply is dropped.
    try:
        events = await future
    except Unavailable as exc:
        raise bus_error(exc) from None
    except EngineTimeout as exc:
        raise engine_timeout(f"{exc}; it was most likely not applied: check open orders") from None
    first = events[0] if events else None
    if isinstance(first, OrderRejected):
        raise ApiError.of(first.reason, first.message)
    return events
