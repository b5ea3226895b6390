"""Snapshot files: atomic write, newest readable one wins, pruning keeps the newest."""

from __future__ import annotations

from pathlib import Path

import pytest

from exchange.config import load_venue
from exchange.domain.engine import Engine
from exchange.service.marketdata import MarketData
from exchange.service.snapshotter import Snapshot
from exchange.service.userdata import UserData
from exchange.store import snapshot

VENUE = load_venue()


def _snap(seq: int) -> Snapshot:
    engine = Engine(VENUE.assets, VENUE.markets)
    return Snapshot(
        seq=seq, ts=1_000 + seq, engine=engine.snapshot(), marketdata=MarketData(VENUE.markets).snapshot(),
        userdata=UserData().snapshot(),
    )  # fmt: skip


def test_written_snapshot_reads_back_equal(tmp_path: Path) -> None:
    path = snapshot.write(tmp_path, _snap(7))
    assert path.name == "snapshot-00000000000000000007.msgpack"
    assert snapshot.load_latest(tmp_path, Snapshot) == _snap(7)
    assert not list(tmp_path.glob("*.tmp"))


def test_newest_unreadable_snapshot_falls_back_to_the_older_one(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    snapshot.write(tmp_path, _snap(5))
    newest = snapshot.write(tmp_path, _snap(9))
    newest.write_bytes(newest.read_bytes()[:-10])  # torn
    loaded = snapshot.load_latest(tmp_path, Snapshot)
    assert loaded is not None and loaded.seq == 5
    assert "skipping unreadable snapshot" in caplog.text


def test_prune_keeps_the_newest_and_removes_temp_files(tmp_path: Path) -> None:
    for seq in (1, 2, 3, 4):
        snapshot.write(tmp_path, _snap(seq))
    (tmp_path / "snapshot-x.tmp").write_bytes(b"half")
    snapshot.prune(tmp_path, keep=2)
    assert [p.name[-12:-8] for p in snapshot.snapshots(tmp_path)] == ["0003", "0004"]
    assert not list(tmp_path.glob("*.tmp"))


def test_no_directory_or_no_file_means_no_snapshot(tmp_path: Path) -> None:
    assert snapshot.load_latest(tmp_path / "missing", Snapshot) is None
    assert snapshot.load_latest(tmp_path, Snapshot) is None


def test_userdata_round_trips_through_its_snapshot() -> None:
    from exchange.domain.commands import OrderType, PlaceOrder, Side
    from tests.domain.harness import Harness

    h = Harness.funded((1, 2), USDC="1000", SOL="10")
    data = UserData()
    for cmd in (
        PlaceOrder(
            user_id=1, symbol="SOL_USDC", side=Side.SELL, type=OrderType.LIMIT, price=10000, quantity=100
        ),
        PlaceOrder(
            user_id=2, symbol="SOL_USDC", side=Side.BUY, type=OrderType.LIMIT, price=10000, quantity=100
        ),
    ):
        data.apply(h.handle(cmd))
    copy = UserData()
    copy.restore(data.snapshot())
    assert copy.snapshot() == data.snapshot()
    assert copy.fills(1, None, 10) == data.fills(1, None, 10) and copy.closed_orders(2, None, 10)
