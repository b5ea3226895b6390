"""The route table: every path of docs/API.md, the seed's aliases, and the browser pages."""

from __future__ import annotations

from aiohttp import web

from exchange.web import account_api, ops, pages, public_api, trading_api
from exchange.web.binance.routes import setup_binance_routes
from exchange.web.binance.ws_routes import setup_binance_ws
from exchange.web.ws import handler as ws

V1 = "/api/v1"


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
    r.add_get(f"{V1}/time", public_api.server_time)
    r.add_get(f"{V1}/markets", public_api.markets)
    r.add_get(f"{V1}/assets", public_api.assets)
    r.add_get(f"{V1}/limits", public_api.limits)
    r.add_get(f"{V1}/depth", public_api.depth)
    r.add_get(f"{V1}/trades", public_api.trades)
    r.add_get(f"{V1}/klines", public_api.klines)
    r.add_get(f"{V1}/tickers", public_api.tickers)
    r.add_get(f"{V1}/ticker", public_api.ticker)

    r.add_post(f"{V1}/auth/signup", account_api.signup)
    r.add_post(f"{V1}/auth/login", account_api.login)
    r.add_post(f"{V1}/auth/logout", account_api.logout)
    r.add_get(f"{V1}/auth/me", account_api.me)
    r.add_post(f"{V1}/apikeys", account_api.create_api_key)
    r.add_get(f"{V1}/apikeys", account_api.list_api_keys)
    r.add_delete(f"{V1}/apikeys/{{api_key}}", account_api.revoke_api_key)
    r.add_get(f"{V1}/balances", account_api.balances)
    r.add_post(f"{V1}/onramp", account_api.onramp)

    r.add_post(f"{V1}/order", trading_api.place_order)
    r.add_delete(f"{V1}/order", trading_api.cancel_order)
    r.add_patch(f"{V1}/order", trading_api.amend_order)
    r.add_get(f"{V1}/order", trading_api.get_order)
    r.add_get(f"{V1}/orders/open", trading_api.open_orders)
    r.add_get(f"{V1}/order/open", trading_api.open_orders)  # the seed's path
    r.add_delete(f"{V1}/orders", trading_api.cancel_all)
    r.add_get(f"{V1}/orders/history", trading_api.order_history)
    r.add_get(f"{V1}/fills", trading_api.fills)

    setup_binance_routes(app)  # /api/v3: the Binance-compatible face (docs/BINANCE.md)
    pages.setup_pages(app)  # /, /trade/S, /login, /signup, /account, /static, /favicon.ico
