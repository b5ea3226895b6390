"""THE composition root: ``create_app(settings)`` builds every part and wires their lifetimes.

Lifetimes live in ``cleanup_ctx``, in order: accounts (SQLite) -> engine task -> demo bot
(web/demo_bot.py; it cancels its orders in ``on_shutdown``). Shutdown runs them backwards:
the bus stops taking commands, the runner drains what is queued, then the accounts store
closes. If the engine task dies, the process is told to stop (SIGTERM to
itself) and ``CRASHED`` records why, so the CLI can exit non-zero: never trade on after it.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web

from exchange import build
from exchange.bus.memory import MemoryBus
from exchange.config import Settings, Venue, load_venue
from exchange.domain.engine import Engine
from exchange.service.hub import Hub
from exchange.service.marketdata import MarketData
from exchange.service.metrics import Metrics
from exchange.service.ratelimit import TokenBucketLimiter
from exchange.service.runner import Runner, wall_clock_ms
from exchange.service.snapshotter import Snapshotter
from exchange.service.userdata import UserData
from exchange.store.accounts import Accounts
from exchange.store.history import History
from exchange.store.journal import Journal
from exchange.store.snapshot import Snapshot, load_latest, state_hash
from exchange.web import demo_bot, middlewares, pages, ws
from exchange.web.feed import Feed
from exchange.web.keys import (
    ACCOUNTS,
    AUTH_LIMITER,
    BUS,
    CRASHED,
    ENGINE,
    FEED,
    HISTORY,
    HUB,
    MARKETDATA,
    METRICS,
    RUNNER,
    SETTINGS,
    STOP_ON_CRASH,
    USER_LIMITER,
    USERDATA,
    VENUE,
    WS_CONNS,
)
from exchange.web.routes import setup_routes

log = logging.getLogger(__name__)


def create_app(
    settings: Settings, venue: Venue | None = None, *, stop_on_crash: bool = False
) -> web.Application:
    """Build the app; ``stop_on_crash`` (the CLI) makes a dead engine stop the whole process."""
    compiled = build.check()  # refuses a compiled engine older than its sources
    log.info("engine core: %s", "compiled (mypyc)" if compiled else "interpreted")
    venue = venue or load_venue(settings.config)
    app = web.Application(client_max_size=settings.max_body, middlewares=[middlewares.errors])
    engine = Engine(venue.assets, venue.markets)
    bus = MemoryBus(settings.queue_size)
    marketdata, userdata, hub = MarketData(venue.markets), UserData(settings.recent_history), Hub()
    feed = Feed(venue, marketdata, hub, wall_clock_ms)
    bus.add_listener(marketdata.apply)  # first: the feed reads update ids and candles from it
    bus.add_listener(userdata.apply)
    bus.add_listener(feed.apply)
    conns: set[object] = set()  # the open sockets; their count is the ws gauge
    app[HUB], app[FEED], app[WS_CONNS] = hub, feed, conns
    metrics = Metrics(bus.depth, lambda: len(conns), lambda: (hub.frames_offered, hub.evicted))
    app[SETTINGS], app[VENUE], app[ENGINE], app[BUS] = settings, venue, engine, bus
    app[MARKETDATA], app[USERDATA], app[METRICS] = marketdata, userdata, metrics
    app[RUNNER] = Runner(engine, bus, bus, observe=metrics.observe_batch)
    app[USER_LIMITER] = TokenBucketLimiter(settings.rate_per_s, settings.rate_burst)
    app[AUTH_LIMITER] = TokenBucketLimiter(settings.auth_rate_per_s, settings.auth_burst)
    app[CRASHED] = []
    app[STOP_ON_CRASH] = stop_on_crash
    app.cleanup_ctx.append(_accounts)
    app.cleanup_ctx.append(_engine_task)
    app.cleanup_ctx.append(_depth_flush)
    if settings.demo and settings.bot:
        demo_bot.install(app)  # last in cleanup_ctx; its on_shutdown runs before close_all
    app.on_shutdown.append(ws.close_all)
    pages.setup_templates(app)
    setup_routes(app)
    return app


async def _accounts(app: web.Application) -> AsyncIterator[None]:
    data_dir = Path(app[SETTINGS].data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    app[ACCOUNTS] = await Accounts.open(data_dir)
    yield
    await app[ACCOUNTS].close()


async def _engine_task(app: web.Application) -> AsyncIterator[None]:
    settings, runner, engine = app[SETTINGS], app[RUNNER], app[ENGINE]
    data = Path(settings.data_dir)
    journal = Journal.open(data / "journal", fsync=settings.fsync == "batch")
    history = app[HISTORY] = History.open(data / "history.sqlite3")
    _restore(app, data / "snapshots")
    if history.last_seq < engine.last_seq:
        log.warning("history ends at seq %d, before the snapshot at %d: those rows are missing",
                    history.last_seq, engine.last_seq)  # fmt: skip
    _replay(app, journal, history)
    app[BUS].add_listener(history.apply)
    snapshotter = _snapshotter(app, journal, history)
    snapshotter.last_seq = engine.last_seq
    if settings.journal:
        runner.journal, runner.after_batch = journal, snapshotter.after_batch
    task = asyncio.create_task(runner.run(), name="engine")
    task.add_done_callback(lambda t: _on_engine_done(app, t))
    reaper = asyncio.create_task(_reap(snapshotter, history), name="snapshot-reaper")
    yield
    app[BUS].close()
    try:
        await asyncio.wait_for(asyncio.shield(task), timeout=10)
    except Exception:  # already logged by the runner; the exit code reports it
        log.error("engine task ended with an error during shutdown")
    reaper.cancel()
    if settings.journal and not app[CRASHED]:
        snapshotter.final(engine.last_seq)
    journal.close()
    history.close()


def _snapshotter(app: web.Application, journal: Journal, history: History) -> Snapshotter:
    settings = app[SETTINGS]
    return Snapshotter(
        Path(settings.data_dir) / "snapshots", lambda: _take_snapshot(app), journal,
        every_commands=settings.snapshot_every, every_s=settings.snapshot_seconds,
        keep=settings.snapshots_kept, retained_from=lambda: history.last_seq,
    )  # fmt: skip


async def _reap(snapshotter: Snapshotter, history: History) -> None:
    """Every 100 ms: history rows go to their writer thread; a finished snapshot child is reaped."""
    while True:
        await asyncio.sleep(0.1)
        history.flush()
        snapshotter.poll()


def _take_snapshot(app: web.Application) -> Snapshot:
    engine, state = app[ENGINE], app[ENGINE].snapshot()
    return Snapshot(
        seq=engine.last_seq, ts=app[RUNNER].last_ts, engine=state, marketdata=app[MARKETDATA].snapshot(),
        userdata=app[USERDATA].snapshot(), engine_hash=state_hash(state),
    )  # fmt: skip


def _restore(app: web.Application, directory: Path) -> None:
    snap = load_latest(directory)
    if snap is None:
        return
    started = time.perf_counter()
    app[ENGINE].restore(snap.engine)
    if state_hash(app[ENGINE].snapshot()) != snap.engine_hash:
        raise RuntimeError(f"restoring the snapshot at seq {snap.seq} did not reproduce its state hash")
    app[MARKETDATA].restore(snap.marketdata)
    app[USERDATA].restore(snap.userdata)
    app[RUNNER].last_ts = snap.ts
    log.info("restored the snapshot at seq %d in %.2f s", snap.seq, time.perf_counter() - started)


def _replay(app: web.Application, journal: Journal, history: History) -> None:
    """Rebuild the engine and every projection from the journal: the same commands give the
    same events (the engine is deterministic), so state continues exactly where it stopped.
    The WebSocket feed is left out (nobody is subscribed yet); the history skips what it holds.
    The cyclic GC is off meanwhile and the recovered state is frozen out of its sight after:
    with a million live objects, collections during the replay cost more than the replay."""
    engine, runner = app[ENGINE], app[RUNNER]
    projections = (app[MARKETDATA].apply, app[USERDATA].apply, history.apply)
    started, count, last_ts = time.perf_counter(), 0, runner.last_ts
    gc.disable()
    try:
        for cmd in journal.replay(engine.last_seq):
            events = engine.handle(cmd)
            for apply in projections:
                apply(events)
            last_ts = cmd.ts
            count += 1
    finally:
        gc.enable()
    runner.last_ts = max(runner.last_ts, last_ts)
    if engine.last_seq:
        engine.check_integrity()  # a recovered state that fails its invariants must not trade
        gc.freeze()
    if count:
        seconds = time.perf_counter() - started
        log.info("replayed %d journaled commands in %.2f s (%.0f/s)", count, seconds, count / seconds)


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


def _on_engine_done(app: web.Application, task: asyncio.Task[None]) -> None:
    if task.cancelled() or task.exception() is None:
        return
    app[CRASHED].append(task.exception())  # type: ignore[arg-type]
    app[BUS].close()  # later requests get 503 at once instead of waiting for a dead engine
    app[BUS].fail_queued(RuntimeError("the engine stopped"))
    log.critical("engine task died: %r", task.exception())
    if app[STOP_ON_CRASH]:
        os.kill(os.getpid(), signal.SIGTERM)
