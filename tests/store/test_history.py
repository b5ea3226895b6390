"""The SQLite history: real engine events in, the same Structs out, newest first, durable."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from exchange.domain.commands import TimeInForce
from exchange.domain.events import (
    CLOSED_STATUSES,
    Event,
    OrderCanceled,
    OrderExpired,
    OrderFilled,
    OrderState,
    TradeExecuted,
)
from exchange.store import history as history_module
from exchange.store.history import History, HistoryError
from tests.domain.harness import Harness

BTC = "BTC_USDC"
USERS = (1, 2, 3)


#: The engine as a command left it: (seq, next order id, next trade id, open order ids).
Mark = tuple[int, int, int, list[int]]


def market_day(marks: list[Mark] | None = None) -> tuple[Harness, list[list[Event]]]:
    """Fills, partial fills, cancels, an IOC expiry and trades on two markets; one list per command
    (and, into ``marks``, the engine's ids after each)."""
    h = Harness.funded(USERS, SOL="1000", BTC="10", USDC="1000000")
    log = _Log(h, marks)
    log.append(h.place(1, "sell", "100", "2"))  # order 1
    log.append(h.place(2, "buy", "100", "3"))  # order 2: fills order 1, rests 1
    log.append(h.cancel(2, 2))  # order 2 canceled, partly filled
    log.append(h.place(1, "sell", "50000", "0.1", symbol=BTC))  # order 3
    log.append(h.place(3, "buy", "50000", "0.04", symbol=BTC))  # order 4: filled, order 3 partial
    log.append(h.place(3, "buy", "90", "1", time_in_force=TimeInForce.IOC))  # order 5: expired, no asks
    log.append(h.place(2, "sell", "101", "1"))  # order 6
    log.append(h.place(2, "sell", "102", "1"))  # order 7
    log.append(h.place(1, "buy", None, "2"))  # order 8: market, fills 6 and 7
    log.append(h.place(3, "buy", "50000", "0.06", symbol=BTC))  # order 9: fills the rest of order 3
    log.append(h.place(1, "sell", "200", "1"))  # order 10: stays open
    return h, list(log)


class _Log(list[list[Event]]):
    def __init__(self, h: Harness, marks: list[Mark] | None) -> None:
        super().__init__()
        self.h, self.marks = h, marks

    def append(self, events: list[Event]) -> None:
        super().append(events)
        if self.marks is not None:
            e = self.h.engine
            self.marks.append((self.h.seq, e.next_order_id, e.next_trade_id, list(e.orders)))


def flat(log: list[list[Event]]) -> list[Event]:
    return [e for events in log for e in events]


def expected_closed(events: list[Event], user: int, symbol: str | None = None) -> list[OrderState]:
    latest: dict[int, OrderState] = {}
    for e in events:
        if isinstance(e, (OrderFilled, OrderCanceled, OrderExpired)) and e.order.status in CLOSED_STATUSES:
            latest[e.order.order_id] = e.order
    found = [s for s in latest.values() if s.user_id == user and symbol in (None, s.symbol)]
    return sorted(found, key=lambda s: (s.updated_at, s.order_id), reverse=True)


def expected_fills(events: list[Event], user: int, symbol: str | None = None) -> list[OrderFilled]:
    found = [
        e
        for e in events
        if isinstance(e, OrderFilled) and e.order.user_id == user and symbol in (None, e.order.symbol)
    ]
    return sorted(found, key=lambda f: (f.trade_id, f.role.value), reverse=True)


def table_rows(path: Path) -> dict[str, list[Any]]:
    conn = sqlite3.connect(path)
    try:
        tables = ("orders", "fills", "trades", "meta")
        return {t: conn.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall() for t in tables}
    finally:
        conn.close()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "history" / "history.sqlite3"


@pytest.fixture
def hist(db: Path) -> Iterator[History]:
    h = History.open(db)
    yield h
    h.close()


@pytest.fixture
def day() -> tuple[Harness, list[list[Event]]]:
    return market_day()


def apply_all(hist: History, log: list[list[Event]]) -> None:
    for events in log:
        hist.apply(events)
        hist.check_integrity()


def test_new_history_is_empty_with_last_seq_zero(hist: History) -> None:
    assert hist.last_seq == 0
    assert hist.closed_orders(1, None, 10) == []
    assert hist.fills(1, None, 10) == []
    assert hist.trades("SOL_USDC", 10) == []
    assert hist.order_fills(1) == []


def test_apply_without_flush_writes_nothing_and_sync_writes_all(hist: History, day: Any) -> None:
    h, log = day
    apply_all(hist, log)
    assert hist.last_seq == 0 and hist.closed_orders(1, None, 10) == []
    hist.sync()
    assert hist.last_seq == h.seq
    assert hist.backlog == 0
    assert hist.closed_orders(1, None, 10) != []


def test_reads_return_exactly_the_structs_applied(hist: History, day: Any) -> None:
    _, log = day
    apply_all(hist, log)
    hist.sync()
    events = flat(log)
    for user in USERS:
        assert hist.closed_orders(user, None, 100) == expected_closed(events, user)
        assert hist.fills(user, None, 100) == expected_fills(events, user)
    trades = [e for e in events if isinstance(e, TradeExecuted)]
    assert hist.trades("SOL_USDC", 100) == [t for t in reversed(trades) if t.symbol == "SOL_USDC"]
    assert hist.trades(BTC, 100) == [t for t in reversed(trades) if t.symbol == BTC]


def test_closed_orders_newest_first_with_symbol_limit_and_end_time(hist: History, day: Any) -> None:
    _, log = day
    apply_all(hist, log)
    hist.sync()
    everything = hist.closed_orders(1, None, 100)
    assert [s.order_id for s in everything] == [3, 8, 1]  # order 3 closed last; order 10 is open
    assert [s.order_id for s in hist.closed_orders(1, "SOL_USDC", 100)] == [8, 1]
    assert [s.order_id for s in hist.closed_orders(1, None, 2)] == [3, 8]
    page = hist.closed_orders(1, None, 100, end_time=everything[1].updated_at)
    assert [s.order_id for s in page] == [8, 1]
    assert hist.closed_orders(1, None, 100, end_time=everything[-1].updated_at - 1) == []
    statuses = {s.order_id: s.status.value for s in hist.closed_orders(3, None, 100)}
    assert statuses == {4: "FILLED", 5: "EXPIRED", 9: "FILLED"}
    assert [s.status.value for s in hist.closed_orders(2, None, 100)] == ["FILLED", "FILLED", "CANCELED"]


def test_fills_newest_first_with_symbol_limit_and_end_time(hist: History, day: Any) -> None:
    _, log = day
    apply_all(hist, log)
    hist.sync()
    fills = hist.fills(1, None, 100)
    assert [f.trade_id for f in fills] == [5, 4, 3, 2, 1]
    assert [f.trade_id for f in hist.fills(1, BTC, 100)] == [5, 2]
    assert [f.trade_id for f in hist.fills(1, "SOL_USDC", 2)] == [4, 3]
    assert fills[1].ts == fills[2].ts  # trades 4 and 3: one market order
    assert [f.trade_id for f in hist.fills(1, None, 100, end_time=fills[2].ts)] == [4, 3, 2, 1]
    assert [f.trade_id for f in hist.fills(1, None, 100, end_time=fills[2].ts - 1)] == [2, 1]
    assert [f.trade_id for f in hist.fills(1, BTC, 100, end_time=fills[0].ts - 1)] == [2]


def test_trades_newest_first_with_limit_and_end_time(hist: History, day: Any) -> None:
    _, log = day
    apply_all(hist, log)
    hist.sync()
    sol = hist.trades("SOL_USDC", 100)
    assert [t.trade_id for t in sol] == [4, 3, 1]
    assert [t.trade_id for t in hist.trades("SOL_USDC", 1)] == [4]
    assert [t.trade_id for t in hist.trades("SOL_USDC", 100, end_time=sol[1].ts - 1)] == [1]
    assert hist.trades("ETH_USDC", 100) == []


def test_order_fills_oldest_first(hist: History, day: Any) -> None:
    _, log = day
    apply_all(hist, log)
    hist.sync()
    assert [(f.trade_id, f.role.value) for f in hist.order_fills(8)] == [(3, "taker"), (4, "taker")]
    assert [(f.trade_id, f.role.value) for f in hist.order_fills(3)] == [(2, "maker"), (5, "maker")]
    assert hist.order_fills(10) == []


def test_user_sees_only_own_rows(hist: History, day: Any) -> None:
    _, log = day
    apply_all(hist, log)
    hist.sync()
    for user in USERS:
        assert {s.user_id for s in hist.closed_orders(user, None, 100)} == {user}
        assert {f.order.user_id for f in hist.fills(user, None, 100)} == {user}
    assert hist.closed_orders(99, None, 100) == [] and hist.fills(99, None, 100) == []


def test_reopen_keeps_rows_and_last_seq(db: Path, day: Any) -> None:
    h, log = day
    first = History.open(db)
    apply_all(first, log)
    first.close()  # close flushes and waits: no sync needed
    before = table_rows(db)
    second = History.open(db)
    try:
        assert second.last_seq == h.seq
        assert second.closed_orders(2, None, 100) == expected_closed(flat(log), 2)
        assert second.fills(3, None, 100) == expected_fills(flat(log), 3)
    finally:
        second.close()
    assert table_rows(db) == before


def test_replay_at_or_below_last_seq_changes_nothing(db: Path, day: Any) -> None:
    _, log = day
    hist = History.open(db)
    apply_all(hist, log[:6])
    hist.close()
    before = table_rows(db)
    hist = History.open(db)
    apply_all(hist, log[:6])  # a journal replay overlapping what is stored
    hist.flush()
    hist.close()
    assert table_rows(db) == before
    hist = History.open(db)
    apply_all(hist, log)  # the overlap is skipped, the rest is caught up
    apply_all(hist, log)  # and a second pass is ignored in memory too
    hist.close()
    assert table_rows(db) == table_rows_of_one_pass(db.parent / "fresh.sqlite3", log)


def table_rows_of_one_pass(path: Path, log: list[list[Event]]) -> dict[str, list[Any]]:
    hist = History.open(path)
    apply_all(hist, log)
    hist.close()
    return table_rows(path)


def test_last_seq_advances_on_events_without_rows(hist: History) -> None:
    h = Harness.funded((1,), USDC="100")
    hist.apply(h.fund(1, "USDC", "5"))
    hist.sync()
    assert hist.last_seq == h.seq
    assert table_rows(hist.path)["orders"] == []


def slow_writer(monkeypatch: pytest.MonkeyPatch, gate: threading.Event, seconds: float) -> list[int]:
    """Make every write sleep until ``gate`` is set (at most ``seconds``); the seqs written."""
    write, written = history_module._write, []

    def slow(conn: sqlite3.Connection, batch: Any) -> None:
        gate.wait(seconds)
        write(conn, batch)
        written.append(batch.last_seq)

    monkeypatch.setattr(history_module, "_write", slow)
    return written


def test_apply_never_blocks_on_a_slow_writer(hist: History, monkeypatch: pytest.MonkeyPatch) -> None:
    h = Harness.funded((1, 2), SOL="1000", USDC="1000000")
    log = [h.place(1, "sell", "100", "0.01") + h.place(2, "buy", "100", "0.01") for _ in range(100)]
    events = flat(log)
    assert len(events) >= 1_000
    gate, stall = threading.Event(), 2.0
    written = slow_writer(monkeypatch, gate, stall)
    hist.apply(log[0])
    hist.flush()  # the writer is now stuck in its first write
    started = time.perf_counter()
    for i, command in enumerate(log[1:]):
        hist.apply(command)
        if i % 10 == 0:
            hist.flush()
    hist.flush()
    elapsed = time.perf_counter() - started
    assert elapsed < stall / 20, f"apply/flush took {elapsed:.3f} s behind a stalled writer"
    assert hist.last_seq == 0 and hist.backlog > 0
    gate.set()
    hist.sync()
    assert hist.last_seq == h.seq and written[-1] == h.seq and hist.backlog == 0
    assert len(hist.trades("SOL_USDC", 1000)) == 100


def test_apply_flushes_itself_past_the_pending_bound(
    hist: History, day: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, log = day
    monkeypatch.setattr(history_module, "MAX_PENDING_ROWS", 3)
    written = slow_writer(monkeypatch, threading.Event(), 0)
    apply_all(hist, log)  # check_integrity asserts the bound after every apply
    hist.sync()
    assert len(written) > 1


def test_failed_write_stops_the_writer_and_raises(hist: History, day: Any, monkeypatch: Any) -> None:
    _, log = day
    hist.apply(log[0])
    hist.sync()
    good = hist.last_seq

    def broken(conn: sqlite3.Connection, batch: Any) -> None:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(history_module, "_write", broken)
    hist.apply(log[1])
    with pytest.raises(HistoryError, match=f"up to seq {good}"):
        hist.sync()
    monkeypatch.undo()
    hist.apply(log[2])
    with pytest.raises(HistoryError):
        hist.flush()
    assert hist.last_seq == good
    with pytest.raises(HistoryError):
        hist.close()
    hist.close()  # the second close is harmless


def test_queries_work_from_many_threads(hist: History, day: Any) -> None:
    _, log = day
    apply_all(hist, log)
    hist.sync()
    want = hist.fills(1, None, 100)
    with ThreadPoolExecutor(max_workers=4) as pool:
        got = list(pool.map(lambda _: hist.fills(1, None, 100), range(16)))
    assert all(found == want for found in got)


def test_closed_history_refuses_queries(db: Path) -> None:
    hist = History.open(db)
    hist.fills(1, None, 10)
    hist.close()
    with pytest.raises(HistoryError):
        hist.fills(1, None, 10)


def test_queries_use_the_indexes(hist: History) -> None:
    conn = sqlite3.connect(hist.path)
    try:
        plans = [
            "SELECT body FROM orders WHERE user_id = 1 AND symbol = 'x' AND updated_at <= 5"
            " ORDER BY updated_at DESC, order_id DESC LIMIT 5",
            "SELECT body FROM fills WHERE user_id = 1 ORDER BY ts DESC, trade_id DESC, role DESC LIMIT 5",
            "SELECT body FROM trades WHERE symbol = 'x' AND ts <= 5 ORDER BY ts DESC, trade_id DESC LIMIT 5",
            "SELECT body FROM orders WHERE user_id = 1 ORDER BY updated_at DESC, order_id DESC LIMIT 5",
            "SELECT body FROM fills WHERE user_id = 1 AND symbol = 'x' AND ts <= 5"
            " ORDER BY ts DESC, trade_id DESC, role DESC LIMIT 5",
            "SELECT body FROM fills WHERE order_id = 1 ORDER BY trade_id",
        ]
        for sql in plans:
            plan = " ".join(row[-1] for row in conn.execute("EXPLAIN QUERY PLAN " + sql))
            assert "USING INDEX" in plan and "TEMP B-TREE" not in plan, plan
    finally:
        conn.close()


def test_a_large_batch_lands_whole_through_the_chunked_inserts(hist: History, db: Path) -> None:
    """341 trades (256 + 64 + 16 + 4 + 1 rows per statement), 682 fills and 342 closed orders
    in one flush: every row is written, in order, and reads back as applied."""
    h = Harness.funded(USERS, SOL="10000", USDC="10000000")
    log = [h.place(1, "sell", "100", "1000")]
    log += [h.place(2, "buy", "100", "1") for _ in range(341)]
    log.append(h.cancel(1, 1))
    apply_all(hist, log)
    hist.sync()
    rows = table_rows(db)
    assert (len(rows["trades"]), len(rows["fills"]), len(rows["orders"])) == (341, 682, 342)
    events = flat(log)
    assert hist.closed_orders(2, None, 1000) == expected_closed(events, 2)
    assert hist.fills(1, None, 1000) == expected_fills(events, 1)
    assert rows["meta"] == [("last_seq", events[-1].seq)]


def test_roll_back_leaves_exactly_the_rows_of_the_state_it_rolls_back_to(tmp_path: Path) -> None:
    """A history fed the whole day, rolled back to the engine's ids after command k, equals a
    history fed only the first k commands: row for row, ``last_seq`` included."""
    marks: list[Mark] = []
    _, log = market_day(marks)
    for k, (seq, next_order, next_trade, open_ids) in enumerate(marks):
        full_path = tmp_path / f"full{k}.sqlite3"
        before = table_rows_of_one_pass(full_path, log)
        expected = table_rows_of_one_pass(tmp_path / f"part{k}.sqlite3", log[: k + 1])
        extra = sum(map(len, before.values())) - sum(map(len, expected.values()))
        ahead = History.open(full_path)
        assert ahead.roll_back(seq, next_order, next_trade, open_ids) == extra
        assert ahead.last_seq == seq
        ahead.close()
        assert table_rows(full_path) == expected, f"after command {k}"
        reopened = History.open(full_path)
        assert reopened.last_seq == seq  # the rollback is durable
        reopened.close()


def test_events_after_a_roll_back_are_written_again(db: Path) -> None:
    """The engine reuses the seqs and ids after the point rolled back to; the history must take
    them, not skip them as already held."""
    marks: list[Mark] = []
    _, log = market_day(marks)
    hist = History.open(db)
    apply_all(hist, log)
    hist.close()
    hist = History.open(db)
    hist.roll_back(*marks[1])
    apply_all(hist, log[2:])
    hist.sync()
    assert hist.last_seq == marks[-1][0]
    events = flat(log)
    for user in USERS:
        assert hist.closed_orders(user, None, 100) == expected_closed(events, user)
        assert hist.fills(user, None, 100) == expected_fills(events, user)
    hist.close()
