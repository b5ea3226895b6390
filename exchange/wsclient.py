"""Async WebSocket client: subscriptions, a local order book kept exactly, auth, order entry.

``LocalBook`` follows docs/API.md: the first message after subscribing to ``depth@S`` is a
``depthSnapshot`` (id ``u``); each diff must start at the previous ``u + 1``; diffs at or below
the book's id are stale and dropped; a gap raises ``GapError`` and the client resubscribes,
which brings a fresh snapshot. Every other stream's data is queued per stream name.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from decimal import Decimal
from typing import Any

import aiohttp
import orjson

from exchange import signing
from exchange.client import ExchangeError

Json = Any


class GapError(Exception):
    """A depth diff did not follow the last one: the local book can no longer be trusted."""


class LocalBook:
    def __init__(self) -> None:
        self.bids: dict[str, str] = {}
        self.asks: dict[str, str] = {}
        self.last_u: int | None = None
        self.diffs = 0

    def load(self, data: Json) -> None:
        self.bids = {p: q for p, q in data["b"]}
        self.asks = {p: q for p, q in data["a"]}
        self.last_u = data["u"]

    def apply(self, data: Json) -> None:
        if self.last_u is None or data["u"] <= self.last_u:
            return  # before the snapshot, or already in it
        if data["U"] > self.last_u + 1:
            raise GapError(f"expected U <= {self.last_u + 1}, got {data['U']}")
        for side, levels in ((self.bids, data["b"]), (self.asks, data["a"])):
            for price, qty in levels:
                if Decimal(qty) == 0:
                    side.pop(price, None)
                else:
                    side[price] = qty
        self.last_u = data["u"]
        self.diffs += 1

    def levels(self, limit: int | None = None) -> tuple[list[list[str]], list[list[str]]]:
        """Best first, as REST ``/depth`` shows them."""
        bids = sorted(self.bids.items(), key=lambda kv: Decimal(kv[0]), reverse=True)
        asks = sorted(self.asks.items(), key=lambda kv: Decimal(kv[0]))
        return [list(x) for x in bids[:limit]], [list(x) for x in asks[:limit]]


class WsClient:
    def __init__(self, base_url: str, session: aiohttp.ClientSession | None = None) -> None:
        self.url = base_url.rstrip("/").replace("http", "ws", 1) + "/ws"
        self._own = session is None
        self._session = session or aiohttp.ClientSession()
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[Json]] = {}
        self._reader: asyncio.Task[None] | None = None
        self.streams: dict[str, asyncio.Queue[Json]] = {}
        self.books: dict[str, LocalBook] = {}
        self.gaps = 0
        self.closed_with: tuple[int | None, str] | None = None

    async def __aenter__(self) -> WsClient:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def connect(self, **kwargs: Any) -> None:
        self._ws = await self._session.ws_connect(self.url, autoping=True, **kwargs)
        self._reader = asyncio.create_task(self._read())

    async def close(self) -> None:
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(BaseException):
                await self._reader
        if self._own:
            await self._session.close()

    # -- requests --------------------------------------------------------------------------
    async def request(self, method: str, params: Json = None, timeout: float = 10.0) -> Json:
        assert self._ws is not None, "connect first"
        req_id = next(self._ids)
        future: asyncio.Future[Json] = asyncio.get_running_loop().create_future()
        self._waiting[req_id] = future
        message: dict[str, Any] = {"method": method, "id": req_id}
        if params is not None:
            message["params"] = params
        await self._ws.send_str(orjson.dumps(message).decode())
        return await asyncio.wait_for(future, timeout)

    async def subscribe(self, *streams: str) -> None:
        for name in streams:
            self.streams.setdefault(name, asyncio.Queue())
            if name.startswith("depth@"):
                self.books[name] = LocalBook()
        await self.request("SUBSCRIBE", list(streams))

    async def unsubscribe(self, *streams: str) -> None:
        await self.request("UNSUBSCRIBE", list(streams))

    async def auth(self, api_key: str, secret: str) -> None:
        ts = time.time_ns() // 1_000_000
        sig = signing.ws_auth_signature(secret, ts)
        await self.request("AUTH", {"apiKey": api_key, "timestamp": ts, "signature": sig})

    async def place_order(self, **body: Any) -> Json:
        return await self.request("ORDER.PLACE", body)

    async def cancel_order(self, **body: Any) -> Json:
        return await self.request("ORDER.CANCEL", body)

    async def amend_order(self, **body: Any) -> Json:
        return await self.request("ORDER.AMEND", body)

    async def cancel_all(self, symbol: str | None = None) -> Json:
        return await self.request("ORDER.CANCEL_ALL", {"symbol": symbol} if symbol else {})

    async def next(self, stream: str, timeout: float = 5.0) -> Json:
        return await asyncio.wait_for(self.streams[stream].get(), timeout)

    def drain(self, stream: str) -> list[Json]:
        queue, out = self.streams[stream], []
        while not queue.empty():
            out.append(queue.get_nowait())
        return out

    # -- reading ---------------------------------------------------------------------------
    async def _read(self) -> None:
        ws = self._ws
        assert ws is not None
        while True:
            msg = await ws.receive()
            if msg.type is aiohttp.WSMsgType.TEXT:
                self._dispatch(orjson.loads(msg.data))
            elif msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.CLOSED):
                if msg.type is aiohttp.WSMsgType.CLOSE:
                    self.closed_with = (msg.data, msg.extra or "")
                break
        if self.closed_with is None:
            self.closed_with = (ws.close_code, "")
        for future in self._waiting.values():
            if not future.done():
                future.set_exception(ConnectionError("websocket closed"))

    def _dispatch(self, message: Json) -> None:
        if "stream" not in message:
            future = self._waiting.pop(message.get("id"), None) if message.get("id") is not None else None
            if future is not None and not future.done():
                if "error" in message:
                    err = message["error"]
                    future.set_exception(ExchangeError(0, err["code"], err["message"]))
                else:
                    future.set_result(message.get("result"))
            return
        stream, data = message["stream"], message["data"]
        book = self.books.get(stream)
        if book is not None:
            self._on_depth(stream, book, data)
        queue = self.streams.get(stream)
        if queue is not None:
            queue.put_nowait(data)

    def _on_depth(self, stream: str, book: LocalBook, data: Json) -> None:
        if data["e"] == "depthSnapshot":
            book.load(data)
            return
        try:
            book.apply(data)
        except GapError:
            self.gaps += 1
            book.last_u = None
            asyncio.get_running_loop().create_task(self._resync(stream))

    async def _resync(self, stream: str) -> None:
        await self.unsubscribe(stream)
        await self.request("SUBSCRIBE", [stream])
