"""History: the durable, unbounded record of closed orders, fills and trades, in SQLite.

A projection of engine events, never the source of truth: the journal is. ``last_seq`` (stored
in the same transaction as the rows it covers) tells the start-up code where to resume the
replay; events at or below it are ignored, so a replay that overlaps changes nothing. A history
ahead of the journal (the journal's unsynced tail lost with ``--fsync off``, or a ``--no-journal``
run on the same data dir) is rolled back to the engine's state at start (``roll_back``), since the
engine then gives those seqs and ids out again.

Schema (one file, WAL, ``synchronous=NORMAL``: a power cut may lose the newest transactions
but never tears one, and the journal replay brings them back):
- ``orders(order_id PK, user_id, symbol, updated_at, body)``: one row per closed order (status in
  ``CLOSED_STATUSES``, from ``OrderCanceled``/``OrderExpired``/``OrderFilled``), upserted by id;
  ``body`` is the ``OrderState``. Indexes ``(user_id, updated_at, order_id)`` and the same with
  ``symbol`` after ``user_id``.
- ``fills(trade_id, role, order_id, user_id, symbol, ts, body)``, key ``(trade_id, role)``; ``body``
  is the ``OrderFilled``. Indexes ``(user_id, ts, trade_id, role)``, the same with ``symbol``, and
  ``(order_id, trade_id)``.
- ``trades(trade_id PK, symbol, ts, body)``; ``body`` is the ``TradeExecuted``. Index
  ``(symbol, ts, trade_id)``.
- ``meta(key PK, value)``: ``last_seq``.
Bodies are msgspec msgpack of the Struct itself, so reads return exactly what was applied. The
runner never lets ``ts`` go backwards and trade ids grow with it, so "newest first by trade id"
is served as ``ORDER BY ts DESC, trade_id DESC``: the index then also pages by ``end_time``.

Threading: ``apply`` runs on the event loop and never touches SQLite: it keeps the relevant
events (frozen Structs, safe to hand over) in a pending list. ``flush`` hands that list to the
one writer thread (a single-worker executor), which encodes the rows and writes them with
multi-row INSERTs (see ``_CHUNKS``) in one transaction that also stores the new ``last_seq``.
Queries run on the caller's thread with a read-only connection per thread (WAL: readers never
wait for the writer), so the gateway calls them through ``asyncio.to_thread``.

Bounds: at most ``MAX_PENDING_ROWS`` rows wait on the loop (``apply`` flushes past that, and the
loop flushes every ~100 ms). Batches handed over but not yet committed (``backlog``) are not
capped: ``apply`` must never block, so a disk slower than the market shows there, for metrics.
A failed write stops the writer (later batches would leave a hole below ``last_seq``); the next
``flush``, ``sync`` or ``close`` raises ``HistoryError`` and a restart replays from ``last_seq``.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Final, NamedTuple, cast

import msgspec

from exchange.domain.events import (
    CLOSED_STATUSES,
    Event,
    OrderCanceled,
    OrderExpired,
    OrderFilled,
    OrderState,
    TradeExecuted,
)

log = logging.getLogger(__name__)

MAX_PENDING_ROWS: Final = 50_000

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS orders (
    order_id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL,
    symbol TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    body BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS orders_user ON orders(user_id, updated_at, order_id);
CREATE INDEX IF NOT EXISTS orders_user_symbol ON orders(user_id, symbol, updated_at, order_id);
CREATE TABLE IF NOT EXISTS fills (
    trade_id INTEGER NOT NULL,
    role TEXT NOT NULL,
    order_id INTEGER NOT NULL,
    user_id INTEGER NOT NULL,
    symbol TEXT NOT NULL,
    ts INTEGER NOT NULL,
    body BLOB NOT NULL,
    PRIMARY KEY (trade_id, role)
);
CREATE INDEX IF NOT EXISTS fills_user ON fills(user_id, ts, trade_id, role);
CREATE INDEX IF NOT EXISTS fills_user_symbol ON fills(user_id, symbol, ts, trade_id, role);
CREATE INDEX IF NOT EXISTS fills_order ON fills(order_id, trade_id);
CREATE TABLE IF NOT EXISTS trades (
    trade_id INTEGER PRIMARY KEY,
    symbol TEXT NOT NULL,
    ts INTEGER NOT NULL,
    body BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS trades_symbol ON trades(symbol, ts, trade_id);
"""

#: Rows per INSERT statement, largest first. sqlite3 lets go of the GIL around every statement
#: step; with one step per row (``executemany``) the writer thread and the event loop trade the
#: GIL once per row, which cost the loop ~15 us per order under load. Multi-row statements of
#: these fixed sizes (each prepared once, from the statement cache) need ~log2 steps per batch.
_CHUNKS: Final = (256, 64, 16, 4, 1)
_SET_LAST_SEQ: Final = "INSERT OR REPLACE INTO meta VALUES ('last_seq', ?)"

#: The events the history keeps; the rest only advance ``last_seq``.
_KEPT: Final = frozenset((TradeExecuted, OrderFilled, OrderCanceled, OrderExpired))  # final classes
_Kept = TradeExecuted | OrderFilled | OrderCanceled | OrderExpired
_Row = tuple[Any, ...]

# Built once; used only on the writer thread (encoder) or shared read-only (decoders).
_ENCODER: Final = msgspec.msgpack.Encoder()
_ORDER_DECODER: Final = msgspec.msgpack.Decoder(OrderState)
_FILL_DECODER: Final = msgspec.msgpack.Decoder(OrderFilled)
_TRADE_DECODER: Final = msgspec.msgpack.Decoder(TradeExecuted)


class HistoryError(RuntimeError):
    """The writer thread failed; the history stopped at ``last_seq``."""


class _Batch(NamedTuple):
    """What one flush hands to the writer: the kept events up to ``last_seq``."""

    last_seq: int
    events: list[_Kept]
    rows: int


def _rows_of(event: _Kept) -> int:
    """How many rows ``event`` writes (upper bound of what it adds to the tables)."""
    if isinstance(event, TradeExecuted):
        return 1
    closed = event.order.status in CLOSED_STATUSES
    return closed + 1 if isinstance(event, OrderFilled) else int(closed)


def _connect(path: Path) -> tuple[sqlite3.Connection, int]:
    """Open the writer connection (creating the file and tables); on the writer thread."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # isolation_level=None: the one transaction per batch is explicit, nothing implicit.
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.executescript(_SCHEMA)
        row = conn.execute("SELECT value FROM meta WHERE key = 'last_seq'").fetchone()
    except BaseException:
        conn.close()
        raise
    return conn, row[0] if row else 0


def _encode(events: list[_Kept]) -> tuple[list[_Row], list[_Row], list[_Row]]:
    """(orders, fills, trades) rows; a later state of the same order replaces an earlier one."""
    orders: dict[int, _Row] = {}
    fills: list[_Row] = []
    trades: list[_Row] = []
    encode = _ENCODER.encode
    for event in events:
        if isinstance(event, TradeExecuted):
            trades.append((event.trade_id, event.symbol, event.ts, encode(event)))
            continue
        state = event.order
        if isinstance(event, OrderFilled):
            fills.append(
                (event.trade_id, event.role.value, state.order_id, state.user_id, state.symbol, event.ts,
                 encode(event))
            )  # fmt: skip
        if state.status in CLOSED_STATUSES:
            orders[state.order_id] = (
                state.order_id, state.user_id, state.symbol, state.updated_at, encode(state)
            )  # fmt: skip
    return list(orders.values()), fills, trades


def _insert_sql(table: str, columns: int, rows: int) -> str:
    one = "(" + ", ".join("?" * columns) + ")"
    return f"INSERT OR REPLACE INTO {table} VALUES " + ", ".join([one] * rows)


def _insert(conn: sqlite3.Connection, table: str, rows: list[_Row]) -> None:
    """All ``rows`` in as few statements as the fixed chunk sizes allow, in order (a later row
    of the same key replaces an earlier one, as with one statement per row)."""
    if not rows:
        return
    columns, start = len(rows[0]), 0
    for size in _CHUNKS:
        sql = None
        while len(rows) - start >= size:
            sql = sql or _insert_sql(table, columns, size)
            conn.execute(sql, [value for row in rows[start : start + size] for value in row])
            start += size


def _write(conn: sqlite3.Connection, batch: _Batch) -> None:
    """Write one batch and its ``last_seq`` in one transaction; on the writer thread."""
    orders, fills, trades = _encode(batch.events)
    conn.execute("BEGIN IMMEDIATE")
    try:
        _insert(conn, "trades", trades)
        _insert(conn, "fills", fills)
        _insert(conn, "orders", orders)
        conn.execute(_SET_LAST_SEQ, (batch.last_seq,))
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _delete_after(
    conn: sqlite3.Connection, seq: int, next_order_id: int, next_trade_id: int, open_order_ids: list[int]
) -> int:
    """``History.roll_back``'s deletes and the new ``last_seq``, in one transaction; on the writer thread."""
    before = conn.total_changes
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute("DELETE FROM trades WHERE trade_id >= ?", (next_trade_id,))
        conn.execute("DELETE FROM fills WHERE trade_id >= ?", (next_trade_id,))
        conn.execute("DELETE FROM orders WHERE order_id >= ?", (next_order_id,))
        conn.executemany("DELETE FROM orders WHERE order_id = ?", ((i,) for i in open_order_ids))
        conn.execute(_SET_LAST_SEQ, (seq,))
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return conn.total_changes - before - 1  # the meta row is not one of the history's rows


class History:
    """Closed orders, fills and trades, durable and unbounded; see the module docstring."""

    def __init__(
        self, path: Path, executor: ThreadPoolExecutor, conn: sqlite3.Connection, last_seq: int
    ) -> None:
        """Use ``History.open``."""
        self.path = path
        self._executor = executor
        self._conn = conn
        self._last_seq = last_seq  # committed; written by the writer thread only
        self._accepted_seq = last_seq  # highest seq taken by ``apply``
        self._handed_seq = last_seq  # highest seq handed to the writer
        self._pending: list[_Kept] = []
        self._pending_rows = 0
        self._handed_rows = 0  # counted on the loop ...
        self._written_rows = 0  # ... and on the writer thread: no shared counter, no lock
        self._error: BaseException | None = None
        self._closed = False
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()

    @classmethod
    def open(cls, path: Path) -> History:
        """Open (creating if needed) the history at ``path`` and read its ``last_seq``."""
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="history")
        try:
            conn, last_seq = executor.submit(_connect, path).result()
        except BaseException:
            executor.shutdown(wait=False)
            raise
        return cls(path, executor, conn, last_seq)

    @property
    def last_seq(self) -> int:
        """The highest event seq durably applied (committed); 0 for a new history."""
        return self._last_seq

    @property
    def backlog(self) -> int:
        """Rows handed to the writer and not yet committed."""
        return self._handed_rows - self._written_rows

    # -- writing (event loop) ---------------------------------------------------------------

    def apply(self, events: Sequence[Event]) -> None:
        """Take one command's events; never blocks. Events with seq <= the last taken are ignored."""
        floor = self._accepted_seq
        top = floor
        pending = self._pending
        for event in events:
            seq = event.seq
            if seq <= floor:
                continue
            if seq > top:
                top = seq
            if type(event) in _KEPT:  # every event passes here, replay included: no isinstance
                kept = cast(_Kept, event)
                pending.append(kept)
                self._pending_rows += _rows_of(kept)
        self._accepted_seq = top
        if self._pending_rows > MAX_PENDING_ROWS:
            self.flush()

    def roll_back(
        self, seq: int, next_order_id: int, next_trade_id: int, open_order_ids: Iterable[int]
    ) -> int:
        """Forget every row written after ``seq``, given the engine's state at ``seq``; the
        number of rows deleted. For a start whose journal ends before the history does (its
        unsynced tail lost with ``--fsync off``, or a ``--no-journal`` run on this data dir):
        the engine then reuses those seqs and ids, and the history would otherwise skip the new
        events as already held and keep rows for orders and trades that never happened.

        What a row after ``seq`` can be: a trade or fill with a trade id the engine has not
        given out yet, or an order closed after ``seq``, which is one the engine has not created
        yet or still holds open (a closed order never changes again). Call before any ``apply``."""
        assert self._accepted_seq == self._last_seq, "roll back only before applying anything"
        deleted = self._executor.submit(
            _delete_after, self._conn, seq, next_order_id, next_trade_id, list(open_order_ids)
        ).result()
        self._last_seq = self._accepted_seq = self._handed_seq = seq
        return deleted

    def advance(self, seq: int) -> None:
        """Every command up to ``seq`` has been applied: one that made no event (a cancel-all
        with nothing open) leaves no row, yet nothing of it is missing, so ``last_seq`` may
        move past it (else a restart would warn that rows before the snapshot are missing)."""
        if seq > self._accepted_seq:
            self._accepted_seq = seq

    def flush(self) -> None:
        """Hand the pending events to the writer (non-blocking); raises if the writer failed."""
        self._raise_if_failed()
        if self._accepted_seq <= self._handed_seq:
            return
        batch = _Batch(self._accepted_seq, self._pending, self._pending_rows)
        self._pending, self._pending_rows = [], 0
        self._handed_seq = batch.last_seq
        self._handed_rows += batch.rows
        self._executor.submit(self._commit, batch)

    def sync(self) -> None:
        """Flush and block until the writer has committed everything; not for the event loop."""
        self.flush()
        self._executor.submit(lambda: None).result()  # one FIFO worker: everything before is done
        self._raise_if_failed()

    def close(self) -> None:
        """Flush, wait for the writer, close every connection; calling it twice is harmless."""
        if self._closed:
            return
        self._closed = True
        try:
            self.flush()
        finally:
            self._executor.submit(self._conn.close)
            self._executor.shutdown(wait=True)
            with self._readers_lock:
                for reader in self._readers:
                    reader.close()
                self._readers.clear()
        self._raise_if_failed()

    def _commit(self, batch: _Batch) -> None:
        """Write one batch; on the writer thread. After a failure nothing more is written."""
        if self._error is not None:
            return
        try:
            _write(self._conn, batch)
        except Exception as exc:
            log.exception("history write up to seq %d failed; it stops at %d", batch.last_seq, self._last_seq)
            self._error = exc
            return
        self._last_seq = batch.last_seq
        self._written_rows += batch.rows

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise HistoryError(f"history writer failed; durable up to seq {self._last_seq}") from self._error

    # -- reading (caller's thread) ----------------------------------------------------------

    def closed_orders(
        self, user_id: int, symbol: str | None, limit: int, end_time: int | None = None
    ) -> list[OrderState]:
        """The user's closed orders, newest first (``updated_at``, then order id), up to ``end_time``."""
        where, args = self._filters("user_id", user_id, symbol, "updated_at", end_time)
        sql = f"SELECT body FROM orders WHERE {where} ORDER BY updated_at DESC, order_id DESC LIMIT ?"
        return [_ORDER_DECODER.decode(body) for (body,) in self._query(sql, (*args, limit))]

    def fills(
        self, user_id: int, symbol: str | None, limit: int, end_time: int | None = None
    ) -> list[OrderFilled]:
        """The user's fills, newest first (by trade id), at or before ``end_time``."""
        where, args = self._filters("user_id", user_id, symbol, "ts", end_time)
        order = "ts DESC, trade_id DESC, role DESC"
        sql = f"SELECT body FROM fills WHERE {where} ORDER BY {order} LIMIT ?"
        return [_FILL_DECODER.decode(body) for (body,) in self._query(sql, (*args, limit))]

    def trades(self, symbol: str, limit: int, end_time: int | None = None) -> list[TradeExecuted]:
        """The market's trades, newest first (by trade id), at or before ``end_time``."""
        where, args = self._filters("symbol", symbol, None, "ts", end_time)
        sql = f"SELECT body FROM trades WHERE {where} ORDER BY ts DESC, trade_id DESC LIMIT ?"
        return [_TRADE_DECODER.decode(body) for (body,) in self._query(sql, (*args, limit))]

    def trades_between(self, symbol: str, start: int, end: int) -> list[TradeExecuted]:
        """The market's trades with ``start <= ts <= end``, oldest first (klines beyond memory)."""
        sql = "SELECT body FROM trades WHERE symbol = ? AND ts >= ? AND ts <= ? ORDER BY ts, trade_id"
        return [_TRADE_DECODER.decode(body) for (body,) in self._query(sql, (symbol, start, end))]

    def order_fills(self, order_id: int) -> list[OrderFilled]:
        """The fills of one order, oldest first."""
        sql = "SELECT body FROM fills WHERE order_id = ? ORDER BY trade_id"
        return [_FILL_DECODER.decode(body) for (body,) in self._query(sql, (order_id,))]

    @staticmethod
    def _filters(
        key: str, value: object, symbol: str | None, time_column: str, end_time: int | None
    ) -> tuple[str, tuple[object, ...]]:
        """A WHERE clause over constant column names, and its arguments."""
        clauses, args = [f"{key} = ?"], [value]
        if symbol is not None:
            clauses.append("symbol = ?")
            args.append(symbol)
        if end_time is not None:
            clauses.append(f"{time_column} <= ?")
            args.append(end_time)
        return " AND ".join(clauses), tuple(args)

    def _query(self, sql: str, args: tuple[object, ...]) -> list[Any]:
        if self._closed:
            raise HistoryError("the history is closed")
        return self._reader().execute(sql, args).fetchall()

    def _reader(self) -> sqlite3.Connection:
        """This thread's read-only connection, opened on first use."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            return conn
        with self._readers_lock:  # against a concurrent ``close``
            if self._closed:
                raise HistoryError("the history is closed")
            uri = f"{self.path.resolve().as_uri()}?mode=ro"
            # check_same_thread=False only so ``close`` may close it; it is used by one thread.
            conn = sqlite3.connect(uri, uri=True, check_same_thread=False)
            self._readers.append(conn)
        self._local.conn = conn
        return conn

    def check_integrity(self) -> None:
        """Assert that the loop-side counters agree with each other (call on the event loop)."""
        assert self._last_seq <= self._handed_seq <= self._accepted_seq, "seqs out of order"
        assert self._pending_rows == sum(map(_rows_of, self._pending)), "pending rows miscounted"
        assert self._pending_rows <= MAX_PENDING_ROWS, "pending rows over the bound"
        assert self.backlog >= 0, "wrote more rows than were handed over"
