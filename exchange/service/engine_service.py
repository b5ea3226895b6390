"""The engine's process part: recovery, the runner task, journal, snapshots and the SQLite
history, with one start and one stop, whatever bus carries the commands (``bus.base.EngineSide``).

``start``: claim the bus (exactly one engine) -> open the journal and the history -> recover
(service/recovery.py) -> listen -> start taking commands -> run the runner. ``stop``: stop taking
commands, let the runner drain, send the last answers, write a final snapshot, close the files.
If the runner dies, the bus is closed (later requests get 503 at once), what waits on it is
abandoned, and ``Crashes`` is told (the CLI stops the process and exits non-zero).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

from exchange.bus.base import EngineSide, Listener
from exchange.domain.engine import Engine
from exchange.service.crashes import Crashes
from exchange.service.marketdata import MarketData
from exchange.service.reads import EngineStatus, LocalReads
from exchange.service.recovery import recover
from exchange.service.runner import Runner, StepObserver
from exchange.service.snapshotter import Snapshot, Snapshotter
from exchange.service.userdata import UserData
from exchange.store.history import History
from exchange.store.journal import Journal
from exchange.store.snapshot import state_hash
from exchange.store.syncer import SyncProcess

log = logging.getLogger(__name__)


class SnapshotPolicy:
    """Every ``every_commands`` commands or ``every_s`` seconds; the newest ``kept`` stay."""

    def __init__(self, every_commands: int, every_s: float, kept: int) -> None:
        self.every_commands, self.every_s, self.kept = every_commands, every_s, kept


class EngineService:
    def __init__(
        self,
        engine: Engine,
        source: EngineSide,
        marketdata: MarketData,
        userdata: UserData,
        *,
        readers: Sequence[Listener],
        data_dir: Path,
        journal: bool,
        fsync: bool,
        snapshots: SnapshotPolicy,
        observe: StepObserver,
        crashes: Crashes,
    ) -> None:
        """``readers`` hear the events after the engine's own projections (the WebSocket feed)."""
        self.engine, self.source, self.marketdata, self.userdata = engine, source, marketdata, userdata
        self.readers, self.data_dir, self.journaled, self.fsync = readers, data_dir, journal, fsync
        self.policy, self.observe, self.crashes = snapshots, observe, crashes
        self.history: History | None = None
        self.runner: Runner | None = None
        self.reads = LocalReads(engine, userdata, marketdata, self._history, self.status)
        self._journal: Journal | None = None
        self._snapshotter: Snapshotter | None = None
        self._syncer: SyncProcess | None = None
        self._tasks: list[asyncio.Task[None]] = []

    def status(self) -> EngineStatus:
        running = self.runner is not None and self.runner.running
        return EngineStatus(running=running, queue=self.source.depth(), last_seq=self.engine.last_seq)

    def _history(self) -> History:
        assert self.history is not None, "the history opens when the service starts"
        return self.history

    async def start(self) -> None:
        await self.source.claim()  # before recovering: a standby must not recover, then serve
        engine, source = self.engine, self.source
        journal = self._journal = Journal.open(self.data_dir / "journal", fsync=self.fsync)
        history = self.history = History.open(self.data_dir / "history.sqlite3")
        # Who hears each command's events, in this order, live and in the replay: market data
        # first (the feed, the Redis bus and snapshots read its update ids), then user data and
        # the history (the reads answer from them); the readers (the WebSocket feed) last, as
        # they read the state the projections hold after the event. Not replayed: the readers.
        projections = [self.marketdata.apply, self.userdata.apply, history.apply]
        snapshots = self.data_dir / "snapshots"
        recovered = recover(engine, self.marketdata, self.userdata, history, journal, snapshots,
                            projections, source.remember)  # fmt: skip
        for listener in (*projections, *self.readers):
            source.add_listener(listener)
        runner = self.runner = self._runner(journal, history, recovered.last_ts)
        await source.start(self.reads.answer)  # after the recovery: no command meets an old state
        task = asyncio.create_task(runner.run(), name="engine")
        task.add_done_callback(self._on_runner_done)
        self._tasks = [task, asyncio.create_task(self._reap(history), name="snapshot-reaper")]

    def _runner(self, journal: Journal, history: History, last_ts: int) -> Runner:
        engine = self.engine
        if not self.journaled:  # benchmarks of what durability costs: nothing survives a restart
            return Runner(engine, self.source, self.source, observe=self.observe, last_ts=last_ts)
        snapshotter = self._snapshotter = Snapshotter(
            self.data_dir / "snapshots", self._take_snapshot, journal,
            every_commands=self.policy.every_commands, every_s=self.policy.every_s,
            keep=self.policy.kept, retained_from=lambda: history.last_seq, last_seq=engine.last_seq,
        )  # fmt: skip

        def after_batch(seq: int) -> None:
            history.advance(seq)  # before the snapshotter: a snapshot never runs ahead of it
            snapshotter.after_batch(seq)

        return Runner(
            engine, self.source, self.source, journal, observe=self.observe, after_batch=after_batch,
            sync_elsewhere=self._sync_elsewhere(journal), last_ts=last_ts,
        )  # fmt: skip

    def _sync_elsewhere(self, journal: Journal) -> Callable[[], Awaitable[None]] | None:
        """With ``--fsync batch``, group-commit syncs go to a child process (store/syncer.py)."""
        if not journal.fsync:
            return None
        syncer = self._syncer = SyncProcess.start()

        def sync() -> Awaitable[None]:
            path = journal.active_path
            assert path is not None, "a batch is synced after its append, which opened a segment"
            return syncer.sync(path)

        return sync

    def _take_snapshot(self) -> Snapshot:
        engine = self.engine
        state = engine.snapshot()
        assert self.runner is not None
        return Snapshot(
            seq=engine.last_seq, ts=self.runner.last_ts, engine=state, marketdata=self.marketdata.snapshot(),
            userdata=self.userdata.snapshot(), engine_hash=state_hash(state),
        )  # fmt: skip

    async def _reap(self, history: History) -> None:
        """Every 100 ms: history rows go to their writer thread; a finished snapshot child is reaped."""
        while True:
            await asyncio.sleep(0.1)
            history.flush()
            if self._snapshotter is not None:
                self._snapshotter.poll()

    def _on_runner_done(self, task: asyncio.Task[None]) -> None:
        if task.cancelled() or task.exception() is None:
            return
        exc = task.exception()
        assert exc is not None
        self.source.close()  # later requests get 503 at once instead of waiting for a dead engine
        self.source.abandon(RuntimeError("the engine stopped"))
        log.critical("engine task died: %r", exc)
        self.crashes.record(exc)

    async def stop(self) -> None:
        """Drain, answer, snapshot, close; the claim on the bus goes last."""
        self.source.close()
        if self._tasks:
            engine_task, reaper = self._tasks
            try:
                await asyncio.wait_for(asyncio.shield(engine_task), timeout=10)
            except Exception:  # already logged by the runner; the exit code reports it
                log.error("engine task ended with an error during shutdown")
            reaper.cancel()
        await self.source.aclose()  # the drained batch's answers go out before anything slow
        if self._syncer is not None:
            self._syncer.close()
        if self._snapshotter is not None and not self.crashes:
            self._snapshotter.final(self.engine.last_seq)
        if self._journal is not None:
            self._journal.close()
        if self.history is not None:
            self.history.close()
        await self.source.release()
