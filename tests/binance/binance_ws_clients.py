"""Raw clients of the Binance WebSocket face for the tests: a WebSocket API session that signs
as Binance's clients do, and Binance's local order book recipe as its documentation writes it."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import time
from decimal import Decimal
from typing import Any

import aiohttp
import orjson

from exchange.client import Client

_ids = itertools.count(1)


class WsApi:
    """A raw WebSocket API session signing as Binance's clients do: params sorted by name."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, client: Client | None) -> None:
        self.ws, self.client = ws, client
        self.events: list[Any] = []

    def signed(
        self, params: dict[str, Any], *, skew_ms: int = 0, secret: str | None = None
    ) -> dict[str, Any]:
        assert self.client is not None and self.client.api_key and self.client.secret
        full = {**params, "apiKey": self.client.api_key, "timestamp": time.time_ns() // 1_000_000 + skew_ms}
        text = "&".join(f"{k}={v}" for k, v in sorted(full.items()))
        key = (secret or self.client.secret).encode()
        return {**full, "signature": hmac.new(key, text.encode(), hashlib.sha256).hexdigest()}

    async def call(self, method: str, params: dict[str, Any] | None = None, **kw: Any) -> Any:
        req_id = f"r{next(_ids)}"
        body: dict[str, Any] = {"id": req_id, "method": method}
        if params is not None:
            body["params"] = params
        await self.ws.send_str(orjson.dumps(body).decode())
        async with asyncio.timeout(5):
            while True:
                message = orjson.loads(await self.ws.receive_str())
                if message.get("id") == req_id:
                    return message
                self.events.append(message)

    async def event(self, match: Any) -> Any:
        for i, message in enumerate(self.events):
            if match(message):
                return self.events.pop(i)
        async with asyncio.timeout(5):
            while True:
                message = orjson.loads(await self.ws.receive_str())
                if match(message):
                    return message
                self.events.append(message)


class LocalBook:
    """Binance's "how to manage a local order book" recipe for spot, step by step as written."""

    def __init__(self) -> None:
        self.buffer: list[Any] = []
        self.last: int | None = None
        self.bids: dict[Decimal, Decimal] = {}
        self.asks: dict[Decimal, Decimal] = {}

    def load(self, snapshot: Any) -> None:
        self.bids = {Decimal(p): Decimal(q) for p, q in snapshot["bids"]}
        self.asks = {Decimal(p): Decimal(q) for p, q in snapshot["asks"]}
        self.last = snapshot["lastUpdateId"]
        pending, self.buffer = self.buffer, []
        for event in pending:
            self.on_event(event)

    def on_event(self, event: Any) -> None:
        if self.last is None:
            self.buffer.append(event)
            return
        if event["u"] <= self.last:
            return
        assert event["U"] <= self.last + 1, f"gap: {event['U']} after {self.last}"
        for side, levels in ((self.bids, event["b"]), (self.asks, event["a"])):
            for price, qty in levels:
                if Decimal(qty) == 0:
                    side.pop(Decimal(price), None)
                else:
                    side[Decimal(price)] = Decimal(qty)
        self.last = event["u"]
