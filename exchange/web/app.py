"""THE composition root: ``create_app(settings)`` builds every part and wires their lifetimes.

Lifetimes live in ``cleanup_ctx``, in order: accounts (SQLite) -> engine task. Shutdown runs
them backwards: the bus stops taking commands, the runner drains what is queued, then the
accounts store closes. If the engine task dies, the process is told to stop (SIGTERM to
itself) and ``CRASHED`` records why, so the CLI can exit non-zero: never trade on after it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web

from exchange.bus.memory import MemoryBus
from exchange.config import Settings, Venue, load_venue
from exchange.domain.engine import Engine
from exchange.service.marketdata import MarketData
from exchange.service.metrics import Metrics
from exchange.service.ratelimit import TokenBucketLimiter
from exchange.service.runner import Runner
from exchange.service.userdata import UserData
from exchange.store.accounts import Accounts
from exchange.web import middlewares
from exchange.web.keys import (
    ACCOUNTS,
    AUTH_LIMITER,
    BUS,
    CRASHED,
    ENGINE,
    MARKETDATA,
    METRICS,
    RUNNER,
    SETTINGS,
    STOP_ON_CRASH,
    USER_LIMITER,
    USERDATA,
    VENUE,
    WS_COUNT,
)
from exchange.web.routes import setup_routes

log = logging.getLogger(__name__)


def create_app(
    settings: Settings, venue: Venue | None = None, *, stop_on_crash: bool = False
) -> web.Application:
    """Build the app; ``stop_on_crash`` (the CLI) makes a dead engine stop the whole process."""
    venue = venue or load_venue(settings.config)
    app = web.Application(
        client_max_size=settings.max_body, middlewares=[middlewares.errors, middlewares.json_only]
    )
    engine = Engine(venue.assets, venue.markets)
    bus = MemoryBus(settings.queue_size)
    marketdata, userdata = MarketData(venue.markets), UserData()
    bus.add_listener(marketdata.apply)
    bus.add_listener(userdata.apply)
    ws_count = [0]
    metrics = Metrics(bus.depth, lambda: ws_count[0])
    app[SETTINGS], app[VENUE], app[ENGINE], app[BUS] = settings, venue, engine, bus
    app[MARKETDATA], app[USERDATA], app[METRICS], app[WS_COUNT] = marketdata, userdata, metrics, ws_count
    app[RUNNER] = Runner(engine, bus, bus, observe=metrics.observe_batch)
    app[USER_LIMITER] = TokenBucketLimiter(settings.rate_per_s, settings.rate_burst)
    app[AUTH_LIMITER] = TokenBucketLimiter(settings.auth_rate_per_s, settings.auth_burst)
    app[CRASHED] = []
    app[STOP_ON_CRASH] = stop_on_crash
    app.cleanup_ctx.append(_accounts)
    app.cleanup_ctx.append(_engine_task)
    setup_routes(app)
    return app


async def _accounts(app: web.Application) -> AsyncIterator[None]:
    data_dir = Path(app[SETTINGS].data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    app[ACCOUNTS] = await Accounts.open(data_dir)
    yield
    await app[ACCOUNTS].close()


async def _engine_task(app: web.Application) -> AsyncIterator[None]:
    task = asyncio.create_task(app[RUNNER].run(), name="engine")
    task.add_done_callback(lambda t: _on_engine_done(app, t))
    yield
    app[BUS].close()
    try:
        await asyncio.wait_for(asyncio.shield(task), timeout=10)
    except Exception:  # already logged by the runner; the exit code reports it
        log.error("engine task ended with an error during shutdown")


def _on_engine_done(app: web.Application, task: asyncio.Task[None]) -> None:
    if task.cancelled() or task.exception() is None:
        return
    app[CRASHED].append(task.exception())  # type: ignore[arg-type]
    app[BUS].close()  # later requests get 503 at once instead of waiting for a dead engine
    log.critical("engine task died: %r", task.exception())
    if app[STOP_ON_CRASH]:
        os.kill(os.getpid(), signal.SIGTERM)
