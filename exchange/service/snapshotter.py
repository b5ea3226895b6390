"""When and how snapshots are taken: in a forked child, so the engine barely pauses.

Every ``every_commands`` commands or ``every_s`` seconds (checked after each runner batch), the
process forks. The child holds a copy-on-write image of the state as of that batch: it builds
the snapshot, encodes and writes it (store/snapshot.py), and exits; the parent goes on trading
at once. The parent's pause is the fork itself (page tables: a few ms for hundreds of MB,
logged). When the child succeeds, old snapshots are pruned and journal segments wholly before
the oldest kept snapshot are deleted, so a bad newest snapshot still has an older one and the
journal after it to fall back on. On shutdown a last snapshot is written in-process.

The child touches no event loop, lock or logger: it may only compute, write its file and
``os._exit`` (other threads do not exist in it, and their locks may be held).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

import msgspec

from exchange.domain.snapshots import EngineSnapshot
from exchange.service.marketdata import MarketDataSnapshot
from exchange.service.userdata import UserDataSnapshot
from exchange.store import snapshot
from exchange.store.journal import Journal

log = logging.getLogger(__name__)


class Snapshot(msgspec.Struct, frozen=True):
    """The whole state at ``seq``: the engine and the projections the journal rebuilds."""

    seq: int
    ts: int
    engine: EngineSnapshot
    marketdata: MarketDataSnapshot
    userdata: UserDataSnapshot
    #: ``state_hash(engine)`` when taken: a restore must reproduce it exactly.
    engine_hash: str = ""


class Snapshotter:
    def __init__(
        self,
        directory: Path,
        take: Callable[[], Snapshot],
        journal: Journal,
        *,
        every_commands: int,
        every_s: float,
        keep: int = 2,
        retained_from: Callable[[], int] | None = None,
        last_seq: int = 0,
    ) -> None:
        self.directory, self.take, self.journal = directory, take, journal
        self.every_commands, self.every_s, self.keep = every_commands, every_s, max(1, keep)
        #: The journal must also keep what other projections have not durably applied yet
        #: (the SQLite history): segments are dropped only below this sequence too.
        self.retained_from = retained_from
        self.pending: tuple[int, int] | None = None  # (child pid, seq)
        self.last_seq = last_seq  # the state's seq at start: no snapshot is due for it
        self.last_time = time.monotonic()

    def after_batch(self, seq: int) -> None:
        """Called by the runner after each batch: start a snapshot when one is due."""
        if self.pending is not None or seq <= self.last_seq:
            return
        due = seq - self.last_seq >= self.every_commands or time.monotonic() - self.last_time >= self.every_s
        if due:
            self._fork(seq)

    def _fork(self, seq: int) -> None:
        self.journal.sync()  # the journal must reach the snapshot, whatever the fsync policy
        started = time.perf_counter()
        pid = os.fork()
        if pid == 0:  # the child: no loop, no logging; write and leave
            code = 1
            try:
                snapshot.write(self.directory, self.take())
                code = 0
            finally:
                os._exit(code)
        self.pending, self.last_seq, self.last_time = (pid, seq), seq, time.monotonic()
        log.info(
            "snapshot at seq %d forked (engine paused %.1f ms)", seq, (time.perf_counter() - started) * 1e3
        )

    def poll(self, block: bool = False) -> None:
        """Reap a finished child; on success prune snapshots and the journal."""
        if self.pending is None:
            return
        pid, seq = self.pending
        done, status = os.waitpid(pid, 0 if block else os.WNOHANG)
        if done == 0:
            return
        self.pending = None
        if os.waitstatus_to_exitcode(status) != 0:
            log.error("snapshot at seq %d failed in its child (exit status %d)", seq, status)
            return
        self._tidy()
        log.info("snapshot at seq %d written", seq)

    def _tidy(self) -> None:
        snapshot.prune(self.directory, self.keep)
        kept = snapshot.snapshots(self.directory)
        if kept:
            oldest = int(kept[0].name.split("-")[1].split(".")[0])
            if self.retained_from is not None:
                oldest = min(oldest, self.retained_from())
            self.journal.drop_before(oldest)

    def final(self, seq: int) -> None:
        """On shutdown: wait for a child, then write a last snapshot here if anything is new."""
        self.poll(block=True)
        if seq > self.last_seq:
            self.journal.sync()
            snapshot.write(self.directory, self.take())
            self.last_seq = seq
            self._tidy()
            log.info("final snapshot at seq %d written", seq)
