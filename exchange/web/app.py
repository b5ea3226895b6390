"""THE composition root: ``create_app(settings)`` builds every part and wires their lifetimes.

One root for the three roles (``settings.role``):
- ``all``: one process, the in-process bus; engine (web/engine_host.py) + HTTP/WS;
- ``engine``: the engine on the Redis bus (``settings.bus``); HTTP only for /healthz, /statez
  and /metrics; it also answers the gateways' read-only queries;
- ``gateway``: HTTP, WebSocket and UI on the Redis bus with no engine (web/gateway_host.py);
  any number of them, on any port or host that reaches the Redis and the shared data dir.
Lifetimes live in ``cleanup_ctx``, in order: accounts (SQLite) -> engine task or gateway bus ->
the 100 ms depth flush -> the demo bot (in a process that serves HTTP: role ``all``, or the one
gateway of a cluster that runs it; web/demo_bot.py cancels its orders in ``on_shutdown``,
before the sockets close). Shutdown runs them backwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from aiohttp import web

from exchange import build
from exchange.bus.memory import MemoryBus
from exchange.bus.messages import Names
from exchange.bus.redis_engine import RedisEngine
from exchange.config import ConfigError, Settings, Venue, load_venue
from exchange.service.hub import Hub
from exchange.service.marketdata import MarketData
from exchange.service.metrics import Metrics
from exchange.service.ratelimit import TokenBucketLimiter
from exchange.service.runner import wall_clock_ms
from exchange.store.accounts import Accounts
from exchange.store.shared_accounts import SharedAccounts
from exchange.web import demo_bot, middlewares, pages, ws
from exchange.web.engine_host import install_engine
from exchange.web.feed import Feed
from exchange.web.gateway_host import install_gateway
from exchange.web.keys import (
    ACCOUNTS,
    AUTH_LIMITER,
    BUS,
    CRASHED,
    FEED,
    HUB,
    MARKETDATA,
    METRICS,
    SETTINGS,
    STOP_ON_CRASH,
    USER_LIMITER,
    VENUE,
    WS_CONNS,
)
from exchange.web.routes import setup_routes

log = logging.getLogger(__name__)

ROLES = ("all", "engine", "gateway")


def create_app(
    settings: Settings, venue: Venue | None = None, *, stop_on_crash: bool = False
) -> web.Application:
    """Build the app; ``stop_on_crash`` (the CLI) makes a dead engine stop the whole process."""
    role, bus = settings.role, settings.bus
    known_bus = bus == "memory" or bus.startswith(("redis://", "unix://"))
    if role not in ROLES or (role == "all") != (bus == "memory") or not known_bus:
        raise ConfigError("--role all runs on --bus memory; --role engine|gateway on --bus redis://HOST:PORT")
    if role != "gateway":
        compiled = build.check()  # refuses a compiled engine older than its sources
        log.info("engine core: %s", "compiled (mypyc)" if compiled else "interpreted")
    venue = venue or load_venue(settings.config)
    app = web.Application(client_max_size=settings.max_body, middlewares=[middlewares.errors])
    marketdata, hub = MarketData(venue.markets), Hub()
    feed = Feed(venue, marketdata, hub, wall_clock_ms)
    conns: set[object] = set()  # the open sockets; their count is the ws gauge
    app[SETTINGS], app[VENUE], app[MARKETDATA] = settings, venue, marketdata
    app[HUB], app[FEED], app[WS_CONNS] = hub, feed, conns
    app[USER_LIMITER] = TokenBucketLimiter(settings.rate_per_s, settings.rate_burst)
    app[AUTH_LIMITER] = TokenBucketLimiter(settings.auth_rate_per_s, settings.auth_burst)
    app[CRASHED] = []
    app[STOP_ON_CRASH] = stop_on_crash
    # The queue-depth gauge reads `waiting`, bound below once the bus exists.
    metrics = Metrics(lambda: waiting(), lambda: len(conns), lambda: (hub.frames_offered, hub.evicted))
    app[METRICS] = metrics
    waiting = _compose(app, role, metrics)
    if role != "engine":
        app.cleanup_ctx.insert(0, _accounts)
        app.cleanup_ctx.append(_depth_flush)
        if settings.demo and settings.bot:
            demo_bot.install(app)  # its on_shutdown must run before close_all
        app.on_shutdown.append(ws.close_all)
        pages.setup_templates(app)
    setup_routes(app, public=role != "engine")
    return app


def _compose(app: web.Application, role: str, metrics: Metrics) -> Callable[[], int]:
    """Install the role's parts; returns how to count the commands waiting for the engine."""
    settings = app[SETTINGS]
    if role == "gateway":
        install_gateway(app)
        return app[BUS].depth
    if role == "all":
        bus = MemoryBus(settings.queue_size)
        app[BUS] = bus
        install_engine(app, bus, metrics)
        bus.add_listener(app[FEED].apply)  # after market data: the feed reads update ids from it
        return bus.depth
    source = RedisEngine(
        settings.bus, market_uid=app[MARKETDATA].last_update_id, names=Names(settings.bus_prefix)
    )
    install_engine(app, source, metrics)
    return source.depth


async def _depth_flush(app: web.Application) -> AsyncIterator[None]:
    """Every 100 ms, the merged depth diffs go to ``depth@S@100ms`` subscribers."""

    async def tick() -> None:
        feed = app[FEED]
        while True:
            await asyncio.sleep(0.1)
            feed.flush()

    task = asyncio.create_task(tick(), name="depth-100ms")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _accounts(app: web.Application) -> AsyncIterator[None]:
    data_dir = Path(app[SETTINGS].data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    shared = app[SETTINGS].role == "gateway"
    app[ACCOUNTS] = await (SharedAccounts if shared else Accounts).open(data_dir)
    yield
    await app[ACCOUNTS].close()
