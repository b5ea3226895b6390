"""``/binance/ws[/<stream>]`` and ``/binance/stream?streams=a/b``: Binance's market-stream sockets.

They speak only Binance (ccxt.pro connects to the base URL it is given and sends Binance's
``SUBSCRIBE`` there): raw sockets get each event alone, combined ones ``{"stream", "data"}``;
live ``SUBSCRIBE``, ``UNSUBSCRIBE``, ``LIST_SUBSCRIPTIONS``, ``SET_PROPERTY``/``GET_PROPERTY``
(``combined``) answer ``{"result", "id"}`` or ``{"error": {"code", "msg"}, "id"}`` with
Binance's codes (0 unknown property, 1 invalid value type, 2 invalid request, 3 invalid JSON).
Frames go through the connection's bounded outbox (web/ws/outbox.py) and the shared hub, so a
slow reader is evicted as on ``/ws`` and nothing waits on a socket. A path segment after
``/ws/`` that names no stream is ignored, as Binance does: ccxt.pro connects to ``/ws/0``.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from aiohttp import web

from exchange.web.binance.stream_names import Stream, by_compact, parse, topic
from exchange.web.binance.streams import encode
from exchange.web.keys import BINANCE_STREAMS, HUB, VENUE
from exchange.web.ws.hub import Hub
from exchange.web.ws.outbox import ws_frame
from exchange.web.ws.socket import OutboxSocket, prepared


class StreamError(Exception):
    def __init__(self, code: int, msg: str) -> None:
        super().__init__(msg)
        self.code, self.msg = code, msg


class StreamConnection(OutboxSocket):
    def __init__(
        self, app: web.Application, ws: web.WebSocketResponse, transport: asyncio.Transport, combined: bool
    ) -> None:
        super().__init__(app, ws, transport)
        self.combined = combined
        self.hub: Hub = app[HUB]
        self.renderer = app[BINANCE_STREAMS]
        self.symbols = by_compact(app[VENUE])
        self.streams: dict[str, Stream] = {}

    # -- subscriptions ---------------------------------------------------------------------
    def subscribe(self, names: list[str], *, lenient: bool = False) -> list[Stream]:
        """All or nothing; ``lenient`` (the connection's path) skips names that are no stream."""
        wanted = []
        for name in names:
            stream = parse(name, self.symbols)
            if stream is None:
                if lenient:
                    continue
                raise StreamError(2, f"Invalid request: unknown stream {name!r}")
            wanted.append(stream)
        # Binance allows 1024 streams (``Limits.binance_streams``); its 5 messages/s are kept
        # loose here, as on /ws (``Limits.ws_messages_per_s``, web/ws/socket.py).
        most = self.limits.binance_streams
        if len(self.streams.keys() | {s.name for s in wanted}) > most:
            raise StreamError(2, f"Invalid request: at most {most} streams per connection")
        for stream in wanted:
            self.streams[stream.name] = stream
            self.hub.subscribe(topic(stream, self.combined), self.outbox)
        return wanted

    def unsubscribe(self, names: list[str]) -> None:
        for name in names:
            stream = parse(name, self.symbols)
            if stream is not None and self.streams.pop(stream.name, None) is not None:
                self.hub.unsubscribe(topic(stream, self.combined), self.outbox)

    def set_combined(self, combined: bool) -> None:
        for stream in self.streams.values():
            self.hub.unsubscribe(topic(stream, self.combined), self.outbox)
            self.hub.subscribe(topic(stream, combined), self.outbox)
        self.combined = combined

    def send_current(self, streams: list[Stream]) -> None:
        """Right after the answer, in the same step: the state a partial-depth or bookTicker
        stream starts from, so a quiet market still shows its book."""
        for stream in streams:
            data = self.renderer.current(stream)
            if data is not None:
                self.outbox.offer(ws_frame(encode(stream.name, data, self.combined)))
        self.outbox.flush()

    # -- requests --------------------------------------------------------------------------
    async def on_text(self, text: str) -> None:
        try:
            req = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            self.send({"error": {"code": 3, "msg": f"Invalid JSON: {exc}"}, "id": None})
            return
        req_id = req.get("id") if isinstance(req, dict) else None
        if await self.throttled():
            self.send({"error": {"code": 2, "msg": "Invalid request: too many messages"}, "id": req_id})
            return
        try:
            result, started = self.dispatch(req)
        except StreamError as exc:
            self.send({"error": {"code": exc.code, "msg": exc.msg}, "id": req_id})
            return
        self.send({"result": result, "id": req_id})
        self.send_current(started)

    def on_binary(self) -> None:
        self.send({"error": {"code": 3, "msg": "Invalid JSON: send text frames"}, "id": None})

    def dispatch(self, req: Any) -> tuple[Any, list[Stream]]:
        if not isinstance(req, dict) or not isinstance(req.get("method"), str):
            raise StreamError(2, 'Invalid request: expected {"method", "params", "id"}')
        req_id, method, params = req.get("id"), req["method"], req.get("params")
        if req_id is not None and not isinstance(req_id, int | str):
            raise StreamError(2, "Invalid request: request ID must be an unsigned integer")
        if method in ("SUBSCRIBE", "UNSUBSCRIBE"):
            names = _names(params)
            if method == "SUBSCRIBE":
                return None, self.subscribe(names)
            self.unsubscribe(names)
            return None, []
        if method == "LIST_SUBSCRIPTIONS":
            return list(self.streams), []
        if method in ("SET_PROPERTY", "GET_PROPERTY"):
            return self._property(method, params), []
        raise StreamError(2, f"Invalid request: unknown variant {method!r}, expected one of SUBSCRIBE, "
                             "UNSUBSCRIBE, LIST_SUBSCRIPTIONS, SET_PROPERTY, GET_PROPERTY")  # fmt: skip

    def _property(self, method: str, params: Any) -> Any:
        if not isinstance(params, list) or not params or not isinstance(params[0], str):
            raise StreamError(2, "Invalid request: property name must be a string")
        if params[0] != "combined":
            raise StreamError(0, "Unknown property")
        if method == "GET_PROPERTY":
            return self.combined
        if len(params) != 2 or not isinstance(params[1], bool):
            raise StreamError(1, "Invalid value type: expected Boolean")
        self.set_combined(params[1])
        return None


def _names(params: Any) -> list[str]:
    if not isinstance(params, list) or not all(isinstance(p, str) for p in params):
        raise StreamError(2, "Invalid request: params must be a list of stream names")
    return params


async def raw_streams(request: web.Request) -> web.StreamResponse:
    """``/binance/ws`` and ``/binance/ws/<stream>[/<stream>...]``."""
    names = [n for n in request.match_info.get("streams", "").split("/") if n]
    return await _serve(request, names, combined=False)


async def combined_streams(request: web.Request) -> web.StreamResponse:
    """``/binance/stream?streams=<a>/<b>``."""
    names = [n for n in request.query.get("streams", "").split("/") if n]
    return await _serve(request, names, combined=True)


async def _serve(request: web.Request, names: list[str], *, combined: bool) -> web.StreamResponse:
    ws, transport = await prepared(request)
    conn = StreamConnection(request.app, ws, transport, combined)
    conn.send_current(conn.subscribe(names, lenient=True))
    await conn.serve()
    return ws
