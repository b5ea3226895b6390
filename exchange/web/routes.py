"""The route table: the operator routes, the sockets, the native REST API (declared once in
web/spec/operations.py, registered from there), the Binance face and the browser pages."""

from __future__ import annotations

from aiohttp import web

from exchange.web import docs_page, ops, pages
from exchange.web.binance.routes import setup_binance_routes
from exchange.web.binance.ws_routes import setup_binance_ws
from exchange.web.keys import OPERATIONS as OPERATION_TABLE
from exchange.web.spec.openapi import V1
from exchange.web.spec.operations import OPERATIONS
from exchange.web.ws import handler as ws


def setup_routes(app: web.Application, *, public: bool = True) -> None:
    """Every route; with ``public=False`` (the engine process) only the operator routes."""
    r = app.router
    r.add_get("/healthz", ops.healthz)
    r.add_get("/metrics", ops.metrics)
    r.add_get("/statez", ops.statez)
    if not public:
        return
    r.add_get("/ws", ws.ws_handler)
    setup_binance_ws(app)  # /binance/ws, /binance/stream, /ws-api/v3
    for op in OPERATIONS:  # every native /api/v1 route, from its one declaration
        if op.method == "GET":
            r.add_get(V1 + op.path, op.handler)  # and HEAD, as aiohttp does for a GET
        else:
            r.add_route(op.method, V1 + op.path, op.handler)
    app[OPERATION_TABLE] = OPERATIONS

    setup_binance_routes(app)  # /api/v3: the Binance-compatible face (docs/BINANCE.md)
    pages.setup_pages(app)  # /, /trade/S, /login, /signup, /account, /static, /favicon.ico
    docs_page.setup_docs_page(app)  # /docs: the OpenAPI document in Swagger UI
