"""``/ws-api/v3``: Binance's WebSocket API, as ccxt.pro and Binance's SDKs speak it.

In: ``{"id", "method", "params": {...}}``; out: ``{"id", "status": 200, "result"}`` or
``{"id", "status", "error": {"code", "msg"}}``, the error from the one catalogue
(``ApiError.binance_answer``). Signed methods carry ``apiKey``, ``timestamp`` (``recvWindow``
optional) and ``signature`` in ``params``: HMAC-SHA256 of every other param, sorted by name,
joined as ``k=v&...`` (signing.binance_ws_payload), checked in Binance's order (ws_api_call.py).
Params keep the exact text of JSON numbers (read as decimals), so amounts are never rounded.

The user data stream: ``userDataStream.subscribe.signature`` answers ``{"subscriptionId": N}``
and the account's events then arrive as ``{"subscriptionId": N, "event": {...}}``
(web/binance/user_stream.py) through the connection's bounded outbox on the shared hub, so a
slow reader is evicted as anywhere else. One subscription per account per connection.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

from aiohttp import web

from exchange.web.binance import ws_api_methods
from exchange.web.binance.user_stream import user_topic
from exchange.web.binance.ws_api_call import WsCall
from exchange.web.errors import ApiError, invalid, rate_limited
from exchange.web.keys import HUB, USER_STREAM_READY, USER_STREAMS
from exchange.web.ws.socket import OutboxSocket, prepared

Method = Callable[[WsCall], Awaitable[Any]]


class WsApiConnection(OutboxSocket):
    def __init__(self, app: web.Application, ws: web.WebSocketResponse, transport: Any) -> None:
        super().__init__(app, ws, transport)
        self.subscriptions: dict[int, int] = {}  # subscriptionId -> user
        self._next_id = 0

    def on_binary(self) -> None:
        self._error(None, invalid("send text frames"))

    async def on_text(self, text: str) -> None:
        try:
            req = json.loads(text, parse_float=Decimal)
        except (ValueError, RecursionError):  # RecursionError: nested past ~1000 levels
            self._error(None, invalid("Malformed request: not JSON."))
            return
        req_id = req.get("id") if isinstance(req, dict) else None
        if not isinstance(req_id, int | str) or isinstance(req_id, bool):
            req_id = None
        wait = await self.throttled()
        if wait:
            self._error(req_id, rate_limited(wait, "Too many requests; slow down."))
            return
        try:
            result = await self._dispatch(req)
        except ApiError as exc:
            self._error(req_id, exc)
            return
        self.send({"id": req_id, "status": 200, "result": result})

    def _error(self, req_id: int | str | None, err: ApiError) -> None:
        status, body = err.binance_answer()
        self.send({"id": req_id, "status": status, "error": body})

    async def _dispatch(self, req: Any) -> Any:
        if not isinstance(req, dict) or not isinstance(req.get("method"), str):
            raise invalid('Malformed request: expected {"id", "method", "params"}.')
        params = req.get("params", {})
        if not isinstance(params, dict):
            raise invalid("Malformed request: params must be an object.")
        method = req["method"]
        call = WsCall(self.app, params)
        if method in SESSION:
            return await SESSION[method](self, call)
        handler = ws_api_methods.METHODS.get(method)
        if handler is None:
            raise invalid(f"Unknown method {method[:60]!r}.")
        return await handler(call)

    # -- the user data stream --------------------------------------------------------------
    async def subscribe(self, call: WsCall) -> Any:
        user = await call.user()
        call.params.only(())
        if user in self.subscriptions.values():
            raise invalid("This account is already subscribed on this connection.")
        if len(self.subscriptions) >= self.limits.binance_subscriptions:  # Binance's: 1,000
            raise invalid(f"At most {self.limits.binance_subscriptions} subscriptions per connection.")
        subscription_id, self._next_id = self._next_id, self._next_id + 1
        ready = self.app.get(USER_STREAM_READY)
        self.subscriptions[subscription_id] = user
        self.app[USER_STREAMS].watch(user, subscription_id, 1)
        self.app[HUB].subscribe(user_topic(subscription_id, user), self.outbox)
        if ready is not None:  # a gateway: answer once the bus delivers this user's events here
            await ready(user)
        return {"subscriptionId": subscription_id}

    async def unsubscribe(self, call: WsCall) -> Any:
        wanted = call.params.integer("subscriptionId", None, 0, 2**31)
        for subscription_id in [s for s in self.subscriptions if wanted in (None, s)]:
            self._drop(subscription_id)
        return {}

    async def list_subscriptions(self, call: WsCall) -> Any:
        return [{"subscriptionId": s} for s in self.subscriptions]

    def _drop(self, subscription_id: int) -> None:
        user = self.subscriptions.pop(subscription_id)
        self.app[USER_STREAMS].watch(user, subscription_id, -1)
        self.app[HUB].unsubscribe(user_topic(subscription_id, user), self.outbox)

    async def serve(self) -> None:
        try:
            await super().serve()
        finally:
            for subscription_id in list(self.subscriptions):
                self._drop(subscription_id)


SESSION: dict[str, Callable[[WsApiConnection, WsCall], Awaitable[Any]]] = {
    "userDataStream.subscribe.signature": WsApiConnection.subscribe,
    "userDataStream.unsubscribe": WsApiConnection.unsubscribe,
    "session.subscriptions": WsApiConnection.list_subscriptions,
}


async def ws_api(request: web.Request) -> web.StreamResponse:
    ws, transport = await prepared(request)
    await WsApiConnection(request.app, ws, transport).serve()
    return ws
