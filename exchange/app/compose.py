"""The three roles, each composed top to bottom: every part built once, with what it needs
passed to its constructor, then the lifetimes in the order they start (shutdown runs them
backwards).

- ``compose_all``: one process; the engine on the in-memory bus, HTTP, WebSocket and UI around it.
- ``compose_engine``: the engine on Redis; HTTP only for /healthz, /statez and /metrics; it also
  answers the gateways' read-only queries.
- ``compose_gateway``: HTTP, WebSocket and UI on Redis, no engine; any number of them.

Who hears the engine's events, and in which order, is written once, in
service/engine_service.py: market data, user data, history, then the readers given here.
"""

from __future__ import annotations

import logging
from pathlib import Path

from aiohttp import web

from exchange.app import demo_bot
from exchange.app.lifetimes import accounts_lifetime, depth_flush, service_lifetime
from exchange.bus.base import EngineSide, Listener
from exchange.bus.memory import MemoryBus
from exchange.bus.messages import Names
from exchange.bus.redis import RedisGateway
from exchange.bus.redis_engine import RedisEngine
from exchange.clock import now_ms
from exchange.config import Settings, Venue
from exchange.devtools import build
from exchange.domain.engine import Engine
from exchange.service.crashes import Crashes
from exchange.service.engine_service import EngineService, SnapshotPolicy
from exchange.service.marketdata import MarketData
from exchange.service.metrics import Metrics
from exchange.service.mirror import MarketMirror
from exchange.service.ratelimit import TokenBucketLimiter
from exchange.service.reads import RemoteReads
from exchange.service.userdata import UserData
from exchange.store.shared_accounts import SharedAccounts
from exchange.web import middlewares, pages
from exchange.web.binance.limits import BinanceLimits
from exchange.web.binance.streams import BinanceStreams
from exchange.web.binance.symbols import Symbols
from exchange.web.binance.user_stream import UserStreams
from exchange.web.keys import (
    ACCOUNTS,
    AUTH_LIMITER,
    BINANCE_LIMITS,
    BINANCE_STREAMS,
    BINANCE_SYMBOLS,
    BUS,
    CRASHED,
    ENGINE,
    FEED,
    HUB,
    MARKET_DATA_READY,
    MARKETDATA,
    METRICS,
    READS,
    SETTINGS,
    USER_LIMITER,
    USER_STREAM_READY,
    USER_STREAMS,
    VENUE,
    WS_CONNS,
)
from exchange.web.routes import setup_routes
from exchange.web.ws import handler as ws
from exchange.web.ws.feed import Feed
from exchange.web.ws.hub import Hub

log = logging.getLogger(__name__)


def compose_all(settings: Settings, venue: Venue, crashes: Crashes) -> web.Application:
    app = _application(settings, venue, crashes)
    marketdata, hub, conns = MarketData(venue.markets), Hub(), set[ws.Connection]()
    binance, users = BinanceStreams(venue, marketdata, hub, now_ms), UserStreams(venue, hub)
    feed = Feed(venue, marketdata, hub, now_ms, renderers=[binance, users])
    bus = MemoryBus(settings.queue_size)
    engine = _engine(venue)
    metrics = Metrics(bus.depth, conns.__len__, hub.counters)
    service = _engine_service(settings, engine, bus, marketdata, [feed.apply], metrics, crashes)
    app[ENGINE], app[BUS], app[READS], app[METRICS] = engine, bus, service.reads, metrics
    _serve_public(app, marketdata, hub, feed, conns)
    app[BINANCE_STREAMS], app[USER_STREAMS] = binance, users
    app.cleanup_ctx.extend([accounts_lifetime(settings), service_lifetime(service.start, service.stop),
                            depth_flush(feed)])  # fmt: skip
    _bot_then_sockets(app)
    return app


def compose_engine(settings: Settings, venue: Venue, crashes: Crashes) -> web.Application:
    app = _application(settings, venue, crashes)
    marketdata = MarketData(venue.markets)
    engine = _engine(venue)

    def lease_lost() -> None:  # another engine process took over: stop before two apply a stream
        crashes.record(RuntimeError("the engine lease was lost to another engine process"))

    source = RedisEngine(
        settings.bus,
        market_uid=marketdata.last_update_id,
        on_lost=lease_lost,
        names=Names(settings.bus_prefix),
    )
    metrics = Metrics(source.depth, lambda: 0)
    service = _engine_service(settings, engine, source, marketdata, [], metrics, crashes)
    app[ENGINE], app[READS], app[METRICS] = engine, service.reads, metrics
    app.cleanup_ctx.append(service_lifetime(service.start, service.stop))
    setup_routes(app, public=False)
    return app


def compose_gateway(settings: Settings, venue: Venue, crashes: Crashes) -> web.Application:
    app = _application(settings, venue, crashes)
    marketdata, conns = MarketData(venue.markets), set[ws.Connection]()
    # The hub, the mirror and the bus need one another, so two closures name what is built
    # below them (they run only once the app serves): a private stream's first reader makes the
    # bus subscribe to that user's events; a mirror out of step asks the engine for a snapshot.
    hub = Hub(on_private=lambda topic, delta: _watch(bus, topic, delta))
    binance, users = BinanceStreams(venue, marketdata, hub, now_ms), UserStreams(venue, hub)
    feed = Feed(venue, marketdata, hub, now_ms, renderers=[binance, users])
    mirror = MarketMirror(marketdata, [marketdata.apply, feed.apply], lambda: reads.marketdata())
    bus = RedisGateway(
        settings.bus, markets=venue.markets, names=Names(settings.bus_prefix), timeout=settings.bus_timeout,
        maxsize=settings.queue_size, on_market=mirror.on_market, on_user=[feed.apply],
        on_resync=[mirror.resync, lambda: _shared(app).forget_all()],
        on_accounts=[lambda notice: _forget(_shared(app), notice)],
    )  # fmt: skip
    reads = RemoteReads(bus)
    metrics = Metrics(bus.depth, conns.__len__, hub.counters)
    app[BUS], app[READS], app[METRICS] = bus, reads, metrics
    app[USER_STREAM_READY], app[MARKET_DATA_READY] = bus.user_ready, lambda: mirror.ready
    _serve_public(app, marketdata, hub, feed, conns)
    app[BINANCE_STREAMS], app[USER_STREAMS] = binance, users

    def announce(kind: str, value: str) -> None:  # a removal here, for the other gateways' caches
        bus.notify_accounts(f"{kind}:{value}".encode())

    async def stop_bus() -> None:
        await bus.close()
        await mirror.close()

    app.cleanup_ctx.extend([accounts_lifetime(settings, shared=True, notify=announce),
                            service_lifetime(bus.start, stop_bus), depth_flush(feed)])  # fmt: skip
    _bot_then_sockets(app)
    return app


# -- parts the roles share ---------------------------------------------------------------------
def _application(settings: Settings, venue: Venue, crashes: Crashes) -> web.Application:
    app = web.Application(client_max_size=settings.limits.max_body, middlewares=[middlewares.errors])
    app[SETTINGS], app[VENUE], app[CRASHED] = settings, venue, crashes.errors
    return app


def _engine(venue: Venue) -> Engine:
    compiled = build.check()  # refuses a compiled engine older than its sources
    log.info("engine core: %s", "compiled (mypyc)" if compiled else "interpreted")
    return Engine(venue.assets, venue.markets)


def _engine_service(
    settings: Settings,
    engine: Engine,
    source: EngineSide,
    marketdata: MarketData,
    readers: list[Listener],
    metrics: Metrics,
    crashes: Crashes,
) -> EngineService:
    return EngineService(
        engine, source, marketdata, UserData(settings.recent_history), readers=readers,
        data_dir=Path(settings.data_dir), journal=settings.journal, fsync=settings.fsync == "batch",
        snapshots=SnapshotPolicy(settings.snapshot_every, settings.snapshot_seconds, settings.snapshots_kept),
        observe=metrics.observe_batch, crashes=crashes,
    )  # fmt: skip


def _serve_public(
    app: web.Application, marketdata: MarketData, hub: Hub, feed: Feed, conns: set[ws.Connection]
) -> None:
    """What a process serving REST, WebSocket and UI holds; every route."""
    settings = app[SETTINGS]
    app[MARKETDATA], app[HUB], app[FEED], app[WS_CONNS] = marketdata, hub, feed, conns
    limits = settings.limits
    app[USER_LIMITER] = TokenBucketLimiter(limits.rate_per_s, limits.rate_burst)
    app[AUTH_LIMITER] = TokenBucketLimiter(limits.auth_rate_per_s, limits.auth_burst)
    app[BINANCE_SYMBOLS], app[BINANCE_LIMITS] = Symbols(app[VENUE].markets), BinanceLimits(limits)
    pages.setup_templates(app)
    setup_routes(app, public=True)


def _bot_then_sockets(app: web.Application) -> None:
    """Last: the bot starts after everything it trades through, and its shutdown hook (which
    cancels its orders through the engine) runs before the sockets are closed."""
    settings = app[SETTINGS]
    if settings.demo and settings.bot:
        demo_bot.install(app)
    app.on_shutdown.append(ws.close_all)


def _watch(bus: RedisGateway, topic: str, delta: int) -> None:
    user = int(topic.partition(":")[2])
    (bus.watch_user if delta > 0 else bus.unwatch_user)(user)


def _shared(app: web.Application) -> SharedAccounts:
    accounts = app[ACCOUNTS]
    assert isinstance(accounts, SharedAccounts), "a gateway opens the shared accounts store"
    return accounts


def _forget(accounts: SharedAccounts, notice: bytes) -> None:
    """Another gateway removed a session or an API key: drop it from this one's cache."""
    kind, _, value = notice.decode().partition(":")
    accounts.forget(kind, value)
