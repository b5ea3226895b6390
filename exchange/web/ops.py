"""Operator routes: health and Prometheus metrics."""

from __future__ import annotations

from aiohttp import web

from exchange.service.reads import EngineStatus
from exchange.web.common import json_response
from exchange.web.keys import BUS, MARKET_DATA_READY, METRICS, READS, SETTINGS


async def healthz(request: web.Request) -> web.Response:
    """200 while the engine task runs and its queue is not backed up; 503 otherwise (a
    gateway asks the engine process, and is degraded while it cannot reach it)."""
    app = request.app
    depth, bound = app[BUS].depth() if BUS in app else 0, app[SETTINGS].queue_size
    try:
        status = await app[READS].status()
    except Exception:
        status = EngineStatus(running=False, queue=0, last_seq=-1)
    queue = max(depth, status.queue)
    mirror_ready = app.get(MARKET_DATA_READY)
    in_sync = mirror_ready() if mirror_ready is not None else True
    healthy = status.running and queue < bound * 0.9 and in_sync
    body = {"status": "ok" if healthy else "degraded", "engine": status.running, "queue": queue,
            "lastSeq": status.last_seq, "role": app[SETTINGS].role, "marketData": in_sync}  # fmt: skip
    return json_response(body, status=200 if healthy else 503)


async def statez(request: web.Request) -> web.Response:
    """The engine's sequence and a hash of its whole state (O(state): for operators and
    recovery checks, not for load balancers). Equal hashes mean identical books and balances."""
    last_seq, digest = await request.app[READS].state()
    return json_response({"lastSeq": last_seq, "stateHash": digest})


async def metrics(request: web.Request) -> web.Response:
    return web.Response(body=request.app[METRICS].render(), content_type="text/plain", charset="utf-8")
