"""Operator routes: health and Prometheus metrics."""

from __future__ import annotations

from aiohttp import web

from exchange.store.snapshot import state_hash
from exchange.web.common import json_response
from exchange.web.keys import BUS, ENGINE, METRICS, RUNNER, SETTINGS


async def healthz(request: web.Request) -> web.Response:
    """200 while the engine task runs and its queue is not backed up; 503 otherwise."""
    app = request.app
    depth, bound = app[BUS].depth(), app[SETTINGS].queue_size
    running = app[RUNNER].running
    healthy = running and depth < bound * 0.9
    body = {"status": "ok" if healthy else "degraded", "engine": running, "queue": depth,
            "lastSeq": app[ENGINE].last_seq}  # fmt: skip
    return json_response(body, status=200 if healthy else 503)


async def statez(request: web.Request) -> web.Response:
    """The engine's sequence and a hash of its whole state (O(state): for operators and
    recovery checks, not for load balancers). Equal hashes mean identical books and balances."""
    engine = request.app[ENGINE]
    return json_response({"lastSeq": engine.last_seq, "stateHash": state_hash(engine.snapshot())})


async def metrics(request: web.Request) -> web.Response:
    return web.Response(body=request.app[METRICS].render(), content_type="text/plain", charset="utf-8")
