"""Recovery at start: the newest snapshot, then the journal after it, then the history aligned.

The engine is deterministic, so the same commands give the same events: restoring the newest
snapshot that reads back and replaying every journaled command after it rebuilds the engine and
each projection (market data, user data, the SQLite history) exactly where they stopped. The
WebSocket feed is not among the projections: nobody is subscribed yet. The history skips what
it already holds, and if it holds more than the journal (the journal's unsynced tail was lost
with ``--fsync off``, or a ``--no-journal`` run used this data dir) the journal is the truth and
the extra rows are rolled back.

No event loop is needed: this runs before the engine takes its first command.
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple

from exchange.bus.base import Listener
from exchange.domain.engine import Engine
from exchange.domain.events import Event
from exchange.service.marketdata import MarketData
from exchange.service.snapshotter import Snapshot
from exchange.service.userdata import UserData
from exchange.store.history import History
from exchange.store.journal import Journal
from exchange.store.snapshot import load_latest, state_hash, written_hash

log = logging.getLogger(__name__)

#: Keeps a replayed request's answer (``EngineSide.remember``) for a redelivered duplicate.
Remember = Callable[[str | None, list[Event]], None]


class Recovered(NamedTuple):
    snapshot_seq: int  # 0 without a snapshot
    replayed: int  # journaled commands applied after it
    last_ts: int  # the newest command time: the engine's clock never goes below it


def recover(
    engine: Engine,
    marketdata: MarketData,
    userdata: UserData,
    history: History,
    journal: Journal,
    snapshots: Path,
    projections: Sequence[Listener],
    remember: Remember,
) -> Recovered:
    """Bring a fresh engine and its projections to the journal's end (see the module docstring).
    ``projections`` are the live engine's listeners that hold state, in the live order."""
    last_ts = restore(engine, marketdata, userdata, snapshots)
    at_snapshot = engine.last_seq
    if history.last_seq < at_snapshot:
        log.warning("history ends at seq %d, before the snapshot at %d: those rows are missing",
                    history.last_seq, at_snapshot)  # fmt: skip
    replayed, last_ts = replay(engine, journal, projections, remember, last_ts)
    align_history(history, engine)
    return Recovered(at_snapshot, replayed, last_ts)


def restore(engine: Engine, marketdata: MarketData, userdata: UserData, directory: Path) -> int:
    """Load the newest snapshot that reads back; its command time (0 without one)."""
    snap = load_latest(directory, Snapshot)
    if snap is None:
        return 0
    started = time.perf_counter()
    engine.restore(snap.engine)
    # A format-1 snapshot restores into more state than it holds (opening deposits): its hash is
    # checked on what was read; a current one's on what the engine rebuilt from it.
    rebuilt = written_hash(snap.engine) if snap.engine.format == 1 else state_hash(engine.snapshot())
    if rebuilt != snap.engine_hash:
        raise RuntimeError(f"restoring the snapshot at seq {snap.seq} did not reproduce its state hash")
    marketdata.restore(snap.marketdata)
    userdata.restore(snap.userdata)
    log.info("restored the snapshot at seq %d in %.2f s", snap.seq, time.perf_counter() - started)
    return snap.ts


def replay(
    engine: Engine, journal: Journal, projections: Sequence[Listener], remember: Remember, last_ts: int
) -> tuple[int, int]:
    """Apply every journaled command after the engine's seq; (commands, newest command time).

    The cyclic GC is off meanwhile and the recovered state is frozen out of its sight after:
    with a million live objects, collections during the replay cost more than the replay."""
    started, count = time.perf_counter(), 0
    gc.disable()
    try:
        for cmd in journal.replay(engine.last_seq):
            events = engine.handle(cmd)
            for apply in projections:
                apply(events)
            remember(cmd.request_id, events)
            last_ts = max(last_ts, cmd.ts)
            count += 1
    finally:
        gc.enable()
    if engine.last_seq:
        engine.check_integrity()  # a recovered state that fails its invariants must not trade
        gc.freeze()
    if count:
        seconds = time.perf_counter() - started
        log.info("replayed %d journaled commands in %.2f s (%.0f/s)", count, seconds, count / seconds)
    return count, last_ts


def align_history(history: History, engine: Engine) -> None:
    """After the replay the history stands exactly at the engine's seq; rows it holds beyond
    the journal are rolled back (see the module docstring)."""
    ahead, at = history.last_seq, engine.last_seq
    if ahead > at:
        dropped = history.roll_back(at, engine.next_order_id, engine.next_trade_id, engine.orders)
        log.warning("history was ahead of the journal (seq %d > %d): %d rows after it dropped",
                    ahead, at, dropped)  # fmt: skip
    history.advance(at)
