"""``/ws``: market and private streams, and order entry, over one WebSocket per client.

Reads happen only in the handler task; every write (answers, snapshots, stream frames) goes
through the connection's bounded outbox (web/ws/outbox.py), written at once when the socket
keeps up or else by the connection's writer task, so frames keep their order and the engine
never waits on a socket. Limits per connection (exchange/limits.py): ``ws_streams`` streams,
``ws_messages_per_s`` messages per second (burst ``ws_burst``, web/ws/socket.py); past them a
request gets an error answer, and a client that keeps pushing (``ws_refusals``) is closed with 1008.
The server pings every 20 s and drops peers that stop answering; shutdown closes every socket with 1001.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlsplit

import msgspec
import orjson
from aiohttp import WSCloseCode, web

from exchange import signing
from exchange.clock import monotonic, now_ms
from exchange.web import orders
from exchange.web.auth import session_from_cookie
from exchange.web.errors import ApiError, invalid, rate_limited
from exchange.web.keys import (
    ACCOUNTS,
    FEED,
    HUB,
    USER_LIMITER,
    USER_STREAM_READY,
    VENUE,
    WS_CONNS,
)
from exchange.web.ws.outbox import ws_frame
from exchange.web.ws.socket import OutboxSocket, prepared
from exchange.web.ws.streams import PRIVATE, parse_stream


class WsRequest(msgspec.Struct):
    method: str
    params: msgspec.Raw = msgspec.Raw(b"")
    id: int | str | None = None


_decode_request = msgspec.json.Decoder(WsRequest).decode


class Connection(OutboxSocket):
    def __init__(
        self,
        app: web.Application,
        ws: web.WebSocketResponse,
        transport: asyncio.Transport,
        user_id: int | None,
    ) -> None:
        super().__init__(app, ws, transport)
        self.user_id = user_id
        self.streams: dict[str, str] = {}  # stream name -> hub topic

    # -- reading ---------------------------------------------------------------------------
    async def on_text(self, text: str) -> None:
        try:
            req = _decode_request(text)
        except msgspec.DecodeError as exc:
            self._error(None, invalid(f"bad message: {exc}"))
            return
        except RecursionError:  # msgspec stops past the recursion limit (~1000 deep, 2 KB of '[')
            self._error(None, invalid("bad message: nested too deeply"))
            return
        wait = await self.throttled()
        if wait:
            self._error(req.id, rate_limited(wait, "too many messages; slow down"))
            return
        try:
            result = await self._dispatch(req)
        except ApiError as exc:
            self._error(req.id, exc)
            return
        self.send({"id": req.id, "result": result})
        if req.method == "SUBSCRIBE":
            self._snapshots(req)

    def on_binary(self) -> None:
        self.send({"id": None, "error": {"code": "INVALID_REQUEST", "message": "send text frames"}})

    def _error(self, req_id: int | str | None, err: ApiError) -> None:
        self.send({"id": req_id, "error": err.ws_body()})

    async def _dispatch(self, req: WsRequest) -> Any:
        method = req.method
        if method in ("SUBSCRIBE", "UNSUBSCRIBE"):
            names = _stream_list(req.params)
            if method == "SUBSCRIBE":
                self._subscribe(names)
                await self._private_ready(names)
            else:
                self._unsubscribe(names)
            return None
        if method == "LIST_SUBSCRIPTIONS":
            return list(self.streams)
        if method == "AUTH":
            return self._auth(req.params)
        if method in ORDER_METHODS:
            return await self._order(method, bytes(req.params))
        raise invalid(f"unknown method {method!r}")

    def _subscribe(self, names: list[str]) -> None:
        topics = {}
        for name in names:
            topics[name] = parse_stream(name, self.app[VENUE], self.user_id)
        most = self.limits.ws_streams
        if len(self.streams.keys() | topics.keys()) > most:
            raise invalid(f"at most {most} streams per connection")
        hub = self.app[HUB]
        for name, topic in topics.items():
            self.streams[name] = topic
            hub.subscribe(topic, self.outbox)

    async def _private_ready(self, names: list[str]) -> None:
        """On a gateway, answer a SUBSCRIBE to ``orders``/``balances`` only once the bus
        delivers the user's events here, so an order sent right after the answer is seen."""
        ready = self.app.get(USER_STREAM_READY)
        if ready is not None and self.user_id is not None and PRIVATE & set(names):
            await ready(self.user_id)

    def _snapshots(self, req: WsRequest) -> None:
        """Right after the SUBSCRIBE answer, in the same step: no diff can come between."""
        feed, venue = self.app[FEED], self.app[VENUE]
        for name in _stream_list(req.params):
            kind, _, rest = name.partition("@")
            if kind == "depth":
                self.outbox.offer(ws_frame(feed.snapshot(rest.split("@")[0], name)))
            elif kind == "bookTicker":
                symbol = rest
                uid = feed.md.last_update_id(symbol)
                data = feed.book_ticker(symbol, venue.markets[symbol], uid, now_ms())
                self.outbox.offer(ws_frame(orjson.dumps({"stream": name, "data": data})))
        self.outbox.flush()

    def _unsubscribe(self, names: list[str]) -> None:
        hub = self.app[HUB]
        for name in names:
            topic = self.streams.pop(name, None)
            if topic is not None:
                hub.unsubscribe(topic, self.outbox)

    def _auth(self, raw: msgspec.Raw) -> None:
        try:
            params = msgspec.json.decode(bytes(raw), type=AuthParams)
        except msgspec.DecodeError:
            raise invalid("AUTH takes {apiKey, timestamp, signature}") from None
        found = self.app[ACCOUNTS].api_key(params.apiKey)
        window = self.limits.signing_window_ms
        problem = "unknown or revoked API key" if found is None else signing.verify_ws_auth(
            found[1], params.timestamp, params.signature, now_ms(), window)  # fmt: skip
        if problem is not None or found is None:
            raise ApiError("UNAUTHORIZED", problem or "unauthorized")
        self.user_id = found[0]

    async def _order(self, method: str, raw: bytes) -> Any:
        if self.user_id is None:
            raise ApiError("UNAUTHORIZED", "authenticate first (session cookie or AUTH)")
        wait = self.app[USER_LIMITER].check(self.user_id, monotonic())
        if wait:
            raise rate_limited(wait)
        app, user = self.app, self.user_id
        if method == "ORDER.PLACE":
            return await orders.place(app, user, raw)
        if method == "ORDER.CANCEL":
            return await orders.cancel(app, user, raw)
        if method == "ORDER.AMEND":
            return await orders.amend(app, user, raw)
        return await orders.cancel_all(app, user, orders.cancel_all_symbol(app, raw))


ORDER_METHODS = frozenset({"ORDER.PLACE", "ORDER.CANCEL", "ORDER.CANCEL_ALL", "ORDER.AMEND"})


class AuthParams(msgspec.Struct):
    apiKey: str
    timestamp: int
    signature: str


def _stream_list(raw: msgspec.Raw) -> list[str]:
    try:
        names = msgspec.json.decode(bytes(raw) or b"null", type=list[str])
    except msgspec.DecodeError:
        raise invalid("params must be a list of stream names") from None
    return names


def _same_origin(request: web.Request) -> bool:
    origin = request.headers.get("Origin")
    return origin is None or urlsplit(origin).netloc == request.host


async def ws_handler(request: web.Request) -> web.StreamResponse:
    if not _same_origin(request):
        raise ApiError("FORBIDDEN", "cross-origin WebSocket connections are refused")
    session = session_from_cookie(request)
    ws, transport = await prepared(request)
    await Connection(request.app, ws, transport, session.user_id if session else None).serve()
    return ws


async def close_all(app: web.Application) -> None:
    """on_shutdown: every socket gets 1001 GOING_AWAY."""
    open_now: set[Connection] = app[WS_CONNS]
    conns = list(open_now)
    await asyncio.gather(*(c.close(WSCloseCode.GOING_AWAY, "server shutdown") for c in conns))
