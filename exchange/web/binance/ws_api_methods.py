"""The WebSocket API's market, trading and account methods: the REST face's handlers themselves.

Each ``/api/v3`` handler (trading.py, account.py) is an ``endpoint`` around a function of one
``Call``; the WebSocket API calls that function with a ``WsCall`` (ws_api_call.py), so both
faces take the same parameters and answer the same JSON and the same error codes.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from exchange.web.binance import account, public, trading
from exchange.web.binance.ws_api_call import WsCall

#: WebSocket API method -> the REST route whose handler answers it.
_ROUTES = {
    "ping": public.ping, "time": public.server_time, "exchangeInfo": public.exchange_info,
    "depth": public.depth, "trades.recent": public.trades, "trades.historical": public.historical_trades,
    "trades.aggregate": public.agg_trades, "klines": public.klines, "uiKlines": public.klines,
    "avgPrice": public.avg_price, "ticker.24hr": public.ticker_24hr, "ticker": public.ticker_window,
    "ticker.price": public.ticker_price, "ticker.book": public.book_ticker,
    "order.place": trading.place, "order.test": trading.test_order, "order.status": trading.get_order,
    "order.cancel": trading.cancel, "order.cancelReplace": trading.cancel_replace,
    "openOrders.status": account.open_orders, "openOrders.cancelAll": account.cancel_open_orders,
    "allOrders": account.all_orders, "myTrades": account.my_trades, "account.status": account.account,
    "account.commission": account.commission, "account.rateLimits.orders": account.order_rate,
}  # fmt: skip
METHODS: dict[str, Callable[[WsCall], Awaitable[Any]]] = {m: inspect.unwrap(r) for m, r in _ROUTES.items()}
