"""The Binance face's WebSocket routes, under their own base paths (docs/BINANCE.md)."""

from __future__ import annotations

from aiohttp import web

from exchange.web.binance import stream_socket

#: Market streams: what ccxt.pro's ``urls.api.ws.spot`` points at is ``<host>/binance/ws``.
STREAMS_BASE = "/binance"


def setup_binance_ws(app: web.Application) -> None:
    r = app.router
    r.add_get(f"{STREAMS_BASE}/ws", stream_socket.raw_streams)
    r.add_get(f"{STREAMS_BASE}/ws/{{streams:.+}}", stream_socket.raw_streams)
    r.add_get(f"{STREAMS_BASE}/stream", stream_socket.combined_streams)
