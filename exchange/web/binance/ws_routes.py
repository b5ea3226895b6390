"""The Binance face's WebSocket routes, under their own base paths (docs/BINANCE.md)."""

from __future__ import annotations

from aiohttp import web

from exchange.web.binance import stream_socket, ws_api

#: Market streams: what ccxt.pro's ``urls.api.ws.spot`` points at is ``<host>/binance/ws``.
STREAMS_BASE = "/binance"
#: The WebSocket API: ccxt.pro's ``urls.api.ws["ws-api"].spot``.
WS_API = "/ws-api/v3"


def setup_binance_ws(app: web.Application) -> None:
    r = app.router
    r.add_get(f"{STREAMS_BASE}/ws", stream_socket.raw_streams)
    r.add_get(f"{STREAMS_BASE}/ws/{{streams:.+}}", stream_socket.raw_streams)
    r.add_get(f"{STREAMS_BASE}/stream", stream_socket.combined_streams)
    r.add_get(WS_API, ws_api.ws_api)
