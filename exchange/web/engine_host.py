"""The engine's part of the composition (``--role all`` and ``--role engine``): the engine,
its runner task, journal, snapshots, SQLite history and the reads it answers.

Lifetime (``cleanup_ctx``): restore the newest snapshot, replay the journal after it, connect
the command source (a Redis engine bus connects only now, so no command is taken before the
state is recovered), run the runner; on shutdown stop taking commands, drain, send the last
answers, write a final snapshot. If the engine task dies, the process is told to stop
(SIGTERM to itself) and ``CRASHED`` records why, so the CLI can exit non-zero.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from exchange.bus.memory import MemoryBus
from exchange.bus.redis_engine import RedisEngine
from exchange.bus.redis_lock import EngineLease
from exchange.domain.engine import Engine
from exchange.service.metrics import Metrics
from exchange.service.reads import EngineStatus, LocalReads
from exchange.service.runner import Runner
from exchange.service.snapshotter import Snapshotter
from exchange.service.userdata import UserData
from exchange.store.history import History
from exchange.store.journal import Journal
from exchange.store.snapshot import Snapshot, load_latest, state_hash
from exchange.store.syncer import SyncProcess
from exchange.web.keys import (
    CRASHED,
    ENGINE,
    HISTORY,
    MARKETDATA,
    READS,
    RUNNER,
    SETTINGS,
    STOP_ON_CRASH,
    USERDATA,
    VENUE,
)

log = logging.getLogger(__name__)

#: The engine side of the bus: a MemoryBus (``--role all``) or a RedisEngine.
SOURCE: web.AppKey[Any] = web.AppKey("source")
LOCAL_READS = web.AppKey("local_reads", LocalReads)


def install_engine(app: web.Application, source: MemoryBus | RedisEngine, metrics: Metrics) -> None:
    """Add the engine, its runner and their lifetime to ``app`` (marketdata already there)."""
    venue, marketdata = app[VENUE], app[MARKETDATA]
    engine = Engine(venue.assets, venue.markets)
    userdata = UserData(app[SETTINGS].recent_history)
    app[ENGINE], app[USERDATA], app[SOURCE] = engine, userdata, source
    source.add_listener(marketdata.apply)  # first: the feed and the Redis bus read update ids
    source.add_listener(userdata.apply)
    runner = app[RUNNER] = Runner(engine, source, source, observe=metrics.observe_batch)

    def status() -> EngineStatus:
        return EngineStatus(running=runner.running, queue=source.depth(), last_seq=engine.last_seq)

    reads = LocalReads(engine, userdata, marketdata, lambda: app[HISTORY], status)
    app[READS] = app[LOCAL_READS] = reads
    app.cleanup_ctx.append(_engine_task)


async def _engine_task(app: web.Application) -> AsyncIterator[None]:
    settings, runner, engine = app[SETTINGS], app[RUNNER], app[ENGINE]
    lease = None
    if isinstance(app[SOURCE], RedisEngine):  # exactly one engine: the lease comes first
        lease = EngineLease(settings.bus, app[SOURCE].names)
        lease.on_lost = lambda: _lease_lost(app)
        await lease.acquire()
    data = Path(settings.data_dir)
    journal = Journal.open(data / "journal", fsync=settings.fsync == "batch")
    history = app[HISTORY] = History.open(data / "history.sqlite3")
    _restore(app, data / "snapshots")
    if history.last_seq < engine.last_seq:
        log.warning("history ends at seq %d, before the snapshot at %d: those rows are missing",
                    history.last_seq, engine.last_seq)  # fmt: skip
    _replay(app, journal, history)
    _align_history(history, engine)
    source = app[SOURCE]
    source.add_listener(history.apply)
    snapshotter = _snapshotter(app, journal, history)
    snapshotter.last_seq = engine.last_seq

    def after_batch(seq: int) -> None:
        history.advance(seq)  # before the snapshotter: a snapshot never runs ahead of it
        snapshotter.after_batch(seq)

    syncer = _attach_journal(runner, journal, after_batch) if settings.journal else None
    if isinstance(source, RedisEngine):
        source.answer_query = app[LOCAL_READS].answer
        await source.start()  # after the replay: commands are taken only from a recovered state
    task = asyncio.create_task(runner.run(), name="engine")
    task.add_done_callback(lambda t: _on_engine_done(app, t))
    reaper = asyncio.create_task(_reap(snapshotter, history), name="snapshot-reaper")
    yield
    source.close()
    try:
        await asyncio.wait_for(asyncio.shield(task), timeout=10)
    except Exception:  # already logged by the runner; the exit code reports it
        log.error("engine task ended with an error during shutdown")
    if isinstance(source, RedisEngine):
        await source.aclose()  # the drained batch's answers go out before the connection closes
    reaper.cancel()
    if syncer is not None:
        syncer.close()
    if settings.journal and not app[CRASHED]:
        snapshotter.final(engine.last_seq)
    journal.close()
    history.close()
    if lease is not None:  # last: a standby engine must not read files this one still writes
        await lease.release()


def _attach_journal(
    runner: Runner, journal: Journal, after_batch: Callable[[int], None]
) -> SyncProcess | None:
    """Journal every batch; with ``--fsync batch``, group-commit syncs go to a child process."""
    runner.journal, runner.after_batch = journal, after_batch
    if not journal.fsync:
        return None
    syncer = SyncProcess.start()

    def sync() -> Awaitable[None]:
        path = journal.active_path
        assert path is not None, "a batch is synced after its append, which opened a segment"
        return syncer.sync(path)

    runner.sync_elsewhere = sync
    return syncer


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


def _align_history(history: History, engine: Engine) -> None:
    """After the replay the history stands exactly at the engine's seq. If it was ahead, it
    holds rows the journal does not (the journal's unsynced tail was lost with ``--fsync off``,
    or a ``--no-journal`` run used this data dir): the journal is the truth, so those rows go."""
    ahead, at = history.last_seq, engine.last_seq
    if ahead > at:
        dropped = history.roll_back(at, engine.next_order_id, engine.next_trade_id, engine.orders)
        log.warning("history was ahead of the journal (seq %d > %d): %d rows after it dropped",
                    ahead, at, dropped)  # fmt: skip
    history.advance(at)


def _replay(app: web.Application, journal: Journal, history: History) -> None:
    """Rebuild the engine and every projection from the journal: the same commands give the
    same events (the engine is deterministic), so state continues exactly where it stopped.
    The WebSocket feed is left out (nobody is subscribed yet); the history skips what it holds.
    The cyclic GC is off meanwhile and the recovered state is frozen out of its sight after:
    with a million live objects, collections during the replay cost more than the replay."""
    engine, runner = app[ENGINE], app[RUNNER]
    projections = (app[MARKETDATA].apply, app[USERDATA].apply, history.apply)
    source = app[SOURCE]
    remember = source.remember if isinstance(source, RedisEngine) else None
    started, count, last_ts = time.perf_counter(), 0, runner.last_ts
    gc.disable()
    try:
        for cmd in journal.replay(engine.last_seq):
            events = engine.handle(cmd)
            for apply in projections:
                apply(events)
            if remember is not None:
                remember(cmd.request_id, events)
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


def _lease_lost(app: web.Application) -> None:
    """Another engine process took over: stop before two engines apply the same stream."""
    app[CRASHED].append(RuntimeError("the engine lease was lost to another engine process"))
    app[SOURCE].close()
    if app[STOP_ON_CRASH]:
        os.kill(os.getpid(), signal.SIGTERM)


def _on_engine_done(app: web.Application, task: asyncio.Task[None]) -> None:
    if task.cancelled() or task.exception() is None:
        return
    app[CRASHED].append(task.exception())  # type: ignore[arg-type]
    source = app[SOURCE]
    source.close()  # later requests get 503 at once instead of waiting for a dead engine
    if isinstance(source, MemoryBus):  # (Redis keeps unread commands for the next engine)
        source.fail_queued(RuntimeError("the engine stopped"))
    log.critical("engine task died: %r", task.exception())
    if app[STOP_ON_CRASH]:
        os.kill(os.getpid(), signal.SIGTERM)
