"""The engine task: the single writer that turns submitted commands into events.

Loop: take a batch -> stamp each command with the next sequence number and the batch time ->
append the batch to the journal (one write, one fsync, before anything leaves) -> for each
command: ``engine.handle`` -> publish its events -> resolve its reply. The engine is pure and
synchronous; this is the only place that reads the clock for it.

An exception out of the engine means a broken invariant: the runner fails every reply still
pending in the batch, logs it and re-raises, so the process stops loudly instead of trading on
a state it can no longer trust.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

import msgspec

from exchange.bus.base import CommandSource, EventSink, Pending
from exchange.clock import now_ms
from exchange.domain.commands import AnyCommand
from exchange.domain.engine import Engine

log = logging.getLogger(__name__)


class Journal(Protocol):
    fsync: bool

    def append(self, commands: Sequence[AnyCommand], *, sync: bool = True) -> None:
        """Write ``commands``; with ``sync``, durable (per the fsync policy) on return."""
        ...

    def sync(self) -> None: ...

    @property
    def wants_room(self) -> bool:
        """Time to call ``make_room`` (cheap: asked after every synced batch)."""
        ...

    def make_room(self) -> None:
        """Preallocate space for the next appends; blocks for milliseconds (run in a thread)."""
        ...


class NullJournal:
    """No journal (benchmarks that measure what durability costs)."""

    fsync = False
    wants_room = False

    def append(self, commands: Sequence[AnyCommand], *, sync: bool = True) -> None:
        return None

    def sync(self) -> None:
        return None

    def make_room(self) -> None:
        return None


class StepObserver(Protocol):
    def __call__(self, batch_size: int, step_ns: Sequence[int]) -> None: ...


class Runner:
    def __init__(
        self,
        engine: Engine,
        source: CommandSource,
        sink: EventSink,
        journal: Journal | None = None,
        *,
        clock: Callable[[], int] = now_ms,
        batch_limit: int = 512,
        observe: StepObserver | None = None,
        after_batch: Callable[[int], None] | None = None,
        sync_elsewhere: Callable[[], Awaitable[None]] | None = None,
        last_ts: int = 0,
    ) -> None:
        self.engine = engine
        self.source = source
        self.sink = sink
        self.journal = journal or NullJournal()
        self.clock = clock
        self.batch_limit = batch_limit
        self.observe = observe
        #: Called with the last sequence number after each batch (the snapshotter's trigger).
        self.after_batch = after_batch
        #: The newest command time; the engine's clock never goes below it.
        self.last_ts = last_ts
        self.running = False
        self._room: asyncio.Task[None] | None = None  # the journal's make_room, while it runs
        #: Syncs the journal somewhere else than on the loop (``store.syncer.SyncProcess``); when
        #: None, a thread does it (``asyncio.to_thread(journal.sync)``).
        self.sync_elsewhere = sync_elsewhere

    async def run(self) -> None:
        """Process batches until the source is closed and drained.

        With an fsyncing journal the sync runs elsewhere (``sync_elsewhere``: a child process in
        the server, else a thread) while the event loop keeps taking requests into the queue, so
        the next batch carries everything that arrived meanwhile: one sync per batch, and batches
        grow with the load (group commit). A batch of one command means nobody else is waiting:
        then the sync runs inline, since the hop (~0.03-0.07 ms here) would cost that lone
        caller more than the sync itself saves.

        When the journal runs low on preallocated space (``wants_room``), ``make_room`` runs in
        a thread task of its own, one at a time, awaited before ``run`` returns: no batch, the
        inline one included, waits for its megabytes of zeros."""
        self.running = True
        journal = self.journal
        try:
            while batch := await self.source.next_batch(self.batch_limit):
                stamped = self._stamp(batch)
                if journal.fsync:
                    if len(batch) == 1:
                        journal.sync()
                    elif self.sync_elsewhere is not None:
                        await self.sync_elsewhere()
                    else:
                        await asyncio.to_thread(journal.sync)
                    self._make_room()
                self._apply(batch, stamped)
        finally:
            self.running = False
            room, self._room = self._room, None
            if room is not None:
                await room

    def _make_room(self) -> None:
        room = self._room
        if room is not None and room.done():
            self._room = None
            room.result()  # a bug surfaces here (make_room logs disk errors itself)
        if self._room is None and self.journal.wants_room:
            self._room = asyncio.create_task(asyncio.to_thread(self.journal.make_room), name="journal-room")

    def _stamp(self, batch: list[Pending]) -> list[AnyCommand]:
        """Number and time the batch and write it to the journal (not yet fsynced)."""
        # Time never goes backwards inside the engine, even if the wall clock does.
        ts = self.last_ts = max(self.clock(), self.last_ts)
        seq = self.engine.last_seq
        stamped = [msgspec.structs.replace(cmd, seq=seq + i, ts=ts) for i, (cmd, _) in enumerate(batch, 1)]
        self.journal.append(stamped, sync=False)
        return stamped

    def _apply(self, batch: list[Pending], stamped: list[AnyCommand]) -> None:
        handle, publish = self.engine.handle, self.sink.publish
        steps: list[int] = []
        for index, cmd in enumerate(stamped):
            future = batch[index][1]
            started = time.perf_counter_ns()
            try:
                events = handle(cmd)
                steps.append(time.perf_counter_ns() - started)
                publish(events)
            except BaseException:
                log.critical("engine failed on %r; stopping", cmd, exc_info=True)
                for _, pending in batch[index:]:
                    if not pending.done():
                        pending.set_exception(RuntimeError("the engine stopped"))
                raise
            if not future.done():  # a caller that timed out has cancelled its future
                future.set_result(events)
        if self.observe is not None:
            self.observe(len(batch), steps)
        if self.after_batch is not None:
            self.after_batch(self.engine.last_seq)
