"""What every server WebSocket of the app shares, whichever protocol it speaks (``/ws``,
Binance's market streams, Binance's WebSocket API): every write goes through the connection's
bounded outbox (written at once when the socket keeps up, else by its writer task), a reader
that lets the outbox fill is closed as a slow consumer, and the read loop ends by taking the
connection off every hub topic. Subclasses say what a text or binary frame means.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from typing import Any

import orjson
from aiohttp import WSCloseCode, WSMsgType, web

from exchange.clock import monotonic
from exchange.service.ratelimit import TokenBucketLimiter
from exchange.web.keys import HUB, SETTINGS, WS_CONNS
from exchange.web.ws.outbox import Outbox, ws_frame


class OutboxSocket:
    def __init__(self, app: web.Application, ws: web.WebSocketResponse, transport: asyncio.Transport) -> None:
        self.app = app
        self.ws = ws
        settings = app[SETTINGS]
        self.limits = limits = settings.limits

        def write(data: bytes) -> None:
            if not ws.closed and not transport.is_closing():
                transport.write(data)

        self.outbox = Outbox(
            limits.ws_outbox, write, transport.get_write_buffer_size, settings.ws_writer_limit, self._evict
        )
        # Per connection, whatever the user (the user's own limit is web/auth.py's): never below
        # the user's (exchange/limits.py checks), so a user's orders meet the user's limit first.
        self.limiter = TokenBucketLimiter(limits.ws_messages_per_s, limits.ws_burst, max_keys=1)
        self.refused = 0

    async def throttled(self) -> float:
        """Seconds to wait if this request is over the connection's rate (0: go ahead); the
        ``Limits.ws_refusals``-th refusal closes the connection (1008)."""
        wait = self.limiter.check(0, monotonic())
        if wait:
            self.refused += 1
            if self.refused >= self.limits.ws_refusals:
                await self.close(WSCloseCode.POLICY_VIOLATION, "too many requests")
        return wait

    def send(self, data: Any) -> None:
        self.outbox.offer(ws_frame(orjson.dumps(data)))
        self.outbox.flush()

    def _evict(self) -> None:
        # The hub drops this outbox from every topic itself, after its publish loop.
        asyncio.get_running_loop().create_task(self.close(WSCloseCode.POLICY_VIOLATION, "slow consumer"))

    async def close(self, code: int, reason: str) -> None:
        self.outbox.close()
        with contextlib.suppress(Exception):
            await self.ws.close(code=code, message=reason.encode())

    async def on_text(self, text: str) -> None:
        raise NotImplementedError

    def on_binary(self) -> None:
        raise NotImplementedError

    async def serve(self) -> None:
        """Read until the peer goes; counted in ``WS_CONNS`` (metrics, 1001 at shutdown)."""
        conns = self.app[WS_CONNS]
        conns.add(self)
        writer = asyncio.create_task(self.outbox.pump())
        try:
            async for msg in self.ws:
                if msg.type is WSMsgType.TEXT:
                    await self.on_text(msg.data)
                elif msg.type is WSMsgType.BINARY:
                    self.on_binary()
        finally:
            self.app[HUB].drop(self.outbox)
            conns.discard(self)
            self.outbox.close()
            writer.cancel()
            with contextlib.suppress(BaseException):
                await writer


async def prepared(request: web.Request) -> tuple[web.WebSocketResponse, asyncio.Transport]:
    """The handshake, with the settings every socket of the app uses: 20 s pings, the largest
    message in (``Limits.ws_frame_bytes``), the writer limit and the kernel send buffer cap."""
    settings = request.app[SETTINGS]
    ws = web.WebSocketResponse(heartbeat=20.0, compress=False, max_msg_size=settings.limits.ws_frame_bytes,
                               writer_limit=settings.ws_writer_limit)  # fmt: skip
    await ws.prepare(request)
    transport = request.transport
    assert transport is not None
    sock = transport.get_extra_info("socket")
    if settings.ws_sndbuf and sock is not None:  # a cap bounds memory per connection (config.py)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, settings.ws_sndbuf)
    return ws, transport
