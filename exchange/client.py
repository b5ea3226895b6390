"""Async Python client for the exchange's REST API, used by bots, benchmarks and tests.

Two ways to authenticate, as a browser or a bot would: an API key (every private request is
HMAC-signed) or a cookie session from ``signup``/``login`` (state changes send the CSRF token).
Every error answer raises ``ExchangeError`` carrying the API code, status and message.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlencode

import aiohttp
import orjson
from yarl import URL

from exchange import signing

Json = Any


class ExchangeError(Exception):
    def __init__(self, status: int, code: str, message: str, retry_after: str | None = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.retry_after = retry_after


def _drop_none(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


class Client:
    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        secret: str | None = None,
        *,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.secret = secret
        self.csrf_token: str | None = None
        self._own_session = session is None
        self._session = session or aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._own_session:
            await self._session.close()

    def use_key(self, api_key: str, secret: str) -> None:
        self.api_key, self.secret = api_key, secret

    # -- transport -------------------------------------------------------------------------
    async def request(
        self, method: str, path: str, *, params: dict[str, Any] | None = None, body: Json = None,
        auth: bool = False,
    ) -> Json:  # fmt: skip
        """Send one request; ``auth`` signs it (API key) or adds the CSRF token (cookie)."""
        query = urlencode(_drop_none(params or {}))
        path_qs = f"{path}?{query}" if query else path
        data = orjson.dumps(body) if body is not None else b""
        headers = {"Content-Type": "application/json"} if body is not None else {}
        if auth:
            headers.update(self._auth_headers(method, path_qs, data))
        url = URL(self.base_url + path_qs, encoded=True)
        async with self._session.request(method, url, data=data or None, headers=headers) as resp:
            raw = await resp.read()
            payload = orjson.loads(raw) if raw else None
            if resp.status >= 400:
                err = payload if isinstance(payload, dict) else {}
                message = err.get("message", raw.decode(errors="replace"))
                code = err.get("code", "HTTP_ERROR")
                raise ExchangeError(resp.status, code, message, resp.headers.get("Retry-After"))
            return payload

    def _auth_headers(self, method: str, path_qs: str, body: bytes) -> dict[str, str]:
        if self.api_key and self.secret:
            ts = str(time.time_ns() // 1_000_000)
            return {
                "X-API-KEY": self.api_key,
                "X-TIMESTAMP": ts,
                "X-SIGNATURE": signing.signature(self.secret, ts, method, path_qs, body),
            }
        return {"X-CSRF-Token": self.csrf_token} if self.csrf_token else {}

    # -- public ----------------------------------------------------------------------------
    async def health(self) -> Json:
        return await self.request("GET", "/healthz")

    async def server_time(self) -> Json:
        return await self.request("GET", "/api/v1/time")

    async def markets(self) -> Json:
        return await self.request("GET", "/api/v1/markets")

    async def assets(self) -> Json:
        return await self.request("GET", "/api/v1/assets")

    async def depth(self, symbol: str, limit: int | None = None) -> Json:
        return await self.request("GET", "/api/v1/depth", params={"symbol": symbol, "limit": limit})

    async def trades(
        self, symbol: str, limit: int | None = None, *, start: int | None = None, end: int | None = None
    ) -> Json:
        params = {"symbol": symbol, "limit": limit, "startTime": start, "endTime": end}
        return await self.request("GET", "/api/v1/trades", params=params)

    async def klines(
        self, symbol: str, interval: str = "1m", start: int | None = None, end: int | None = None,
        limit: int | None = None,
    ) -> Json:  # fmt: skip
        params = {"symbol": symbol, "interval": interval, "startTime": start, "endTime": end, "limit": limit}
        return await self.request("GET", "/api/v1/klines", params=params)

    async def tickers(self) -> Json:
        return await self.request("GET", "/api/v1/tickers")

    async def ticker(self, symbol: str) -> Json:
        return await self.request("GET", "/api/v1/ticker", params={"symbol": symbol})

    # -- accounts --------------------------------------------------------------------------
    async def signup(self, username: str, password: str) -> Json:
        answer = await self.request(
            "POST", "/api/v1/auth/signup", body={"username": username, "password": password}
        )
        self.csrf_token = answer["csrfToken"]
        return answer

    async def login(self, username: str, password: str) -> Json:
        answer = await self.request(
            "POST", "/api/v1/auth/login", body={"username": username, "password": password}
        )
        self.csrf_token = answer["csrfToken"]
        return answer

    async def logout(self) -> Json:
        return await self.request("POST", "/api/v1/auth/logout", auth=True)

    async def create_api_key(self) -> Json:
        return await self.request("POST", "/api/v1/apikeys", auth=True)

    async def api_keys(self) -> Json:
        return await self.request("GET", "/api/v1/apikeys", auth=True)

    async def revoke_api_key(self, api_key: str) -> Json:
        return await self.request("DELETE", f"/api/v1/apikeys/{api_key}", auth=True)

    async def balances(self) -> Json:
        return await self.request("GET", "/api/v1/balances", auth=True)

    async def onramp(self, asset: str, amount: str) -> Json:
        return await self.request(
            "POST", "/api/v1/onramp", body={"asset": asset, "amount": amount}, auth=True
        )

    # -- funding ---------------------------------------------------------------------------
    async def deposits(self) -> Any:
        return await self.request("GET", "/api/v1/deposits", auth=True)

    async def withdrawals(self) -> Any:
        return await self.request("GET", "/api/v1/withdrawals", auth=True)

    async def request_withdrawal(self, asset: str, amount: str, destination: str) -> Json:
        body = {"asset": asset, "amount": amount, "destination": destination}
        return await self.request("POST", "/api/v1/withdrawals", body=body, auth=True)

    # -- orders ----------------------------------------------------------------------------
    async def place_order(
        self, symbol: str, side: str, type: str = "limit", *, price: str | None = None,
        quantity: str | None = None, quote_quantity: str | None = None, time_in_force: str | None = None,
        post_only: bool | None = None, client_order_id: str | None = None, stp: str | None = None,
    ) -> Json:  # fmt: skip
        body = _drop_none({
            "symbol": symbol, "side": side, "type": type, "price": price, "quantity": quantity,
            "quoteQuantity": quote_quantity, "timeInForce": time_in_force, "postOnly": post_only,
            "clientOrderId": client_order_id, "selfTradePrevention": stp,
        })  # fmt: skip
        return await self.request("POST", "/api/v1/order", body=body, auth=True)

    async def cancel_order(
        self, symbol: str, order_id: str | None = None, client_order_id: str | None = None
    ) -> Json:
        body = _drop_none({"symbol": symbol, "orderId": order_id, "clientOrderId": client_order_id})
        return await self.request("DELETE", "/api/v1/order", body=body, auth=True)

    async def amend_order(
        self, symbol: str, order_id: str | None = None, *, client_order_id: str | None = None,
        quantity: str | None = None, price: str | None = None,
    ) -> Json:  # fmt: skip
        body = _drop_none({
            "symbol": symbol, "orderId": order_id, "clientOrderId": client_order_id,
            "quantity": quantity, "price": price,
        })  # fmt: skip
        return await self.request("PATCH", "/api/v1/order", body=body, auth=True)

    async def get_order(
        self, symbol: str, order_id: str | None = None, client_order_id: str | None = None
    ) -> Json:
        params = {"symbol": symbol, "orderId": order_id, "clientOrderId": client_order_id}
        return await self.request("GET", "/api/v1/order", params=params, auth=True)

    async def open_orders(self, symbol: str | None = None) -> Json:
        return await self.request("GET", "/api/v1/orders/open", params={"symbol": symbol}, auth=True)

    async def cancel_all(self, symbol: str | None = None) -> Json:
        return await self.request("DELETE", "/api/v1/orders", params={"symbol": symbol}, auth=True)

    async def order_history(self, symbol: str | None = None, limit: int | None = None) -> Json:
        params = {"symbol": symbol, "limit": limit}
        return await self.request("GET", "/api/v1/orders/history", params=params, auth=True)

    async def fills(self, symbol: str | None = None, limit: int | None = None) -> Json:
        return await self.request(
            "GET", "/api/v1/fills", params={"symbol": symbol, "limit": limit}, auth=True
        )
