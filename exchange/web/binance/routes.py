"""The Binance-compatible REST routes under ``/api/v3`` (docs/BINANCE.md)."""

from __future__ import annotations

from aiohttp import web

from exchange.web.binance import account, public, trading

V3 = "/api/v3"


def setup_binance_routes(app: web.Application) -> None:
    r = app.router
    for path, handler in (
        ("ping", public.ping), ("time", public.server_time), ("exchangeInfo", public.exchange_info),
        ("depth", public.depth), ("trades", public.trades), ("historicalTrades", public.historical_trades),
        ("aggTrades", public.agg_trades), ("klines", public.klines), ("uiKlines", public.klines),
        ("avgPrice", public.avg_price), ("ticker/24hr", public.ticker_24hr), ("ticker", public.ticker_window),
        ("ticker/price", public.ticker_price), ("ticker/bookTicker", public.book_ticker),
        ("order", trading.get_order), ("openOrders", account.open_orders), ("allOrders", account.all_orders),
        ("myTrades", account.my_trades), ("account", account.account),
        ("account/commission", account.commission), ("rateLimit/order", account.order_rate),
    ):  # fmt: skip
        r.add_get(f"{V3}/{path}", handler)
    r.add_post(f"{V3}/order", trading.place)
    r.add_post(f"{V3}/order/test", trading.test_order)
    r.add_post(f"{V3}/order/cancelReplace", trading.cancel_replace)
    r.add_delete(f"{V3}/order", trading.cancel)
    r.add_delete(f"{V3}/openOrders", account.cancel_open_orders)
