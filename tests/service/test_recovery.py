"""Recovery without a server: snapshot + journal rebuild the engine and its projections exactly,
and a history that ran ahead of the journal is rolled back to it. No event loop, no aiohttp."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from exchange.config import load_venue
from exchange.domain.commands import AnyCommand, CancelAll, Onramp, OrderType, PlaceOrder, Side
from exchange.domain.engine import Engine
from exchange.domain.events import Event
from exchange.domain.snapshots import FORMAT_1_FIELDS, EngineSnapshot
from exchange.service.marketdata import MarketData
from exchange.service.recovery import recover
from exchange.service.snapshotter import Snapshot
from exchange.service.userdata import UserData
from exchange.store import snapshot as snapfiles
from exchange.store.history import History
from exchange.store.journal import Journal
from exchange.store.snapshot import state_hash, written_hash

VENUE = load_venue()
SOL = VENUE.markets["SOL_USDC"]


def _day() -> list[AnyCommand]:
    """Two funded users trading: resting orders, crossing orders, partial fills, a cancel-all."""
    price, qty = SOL.price.parse, SOL.qty.parse
    cmds: list[AnyCommand] = [
        Onramp(user_id=1, asset="USDC", amount=VENUE.assets["USDC"].grid().parse("100000")),
        Onramp(user_id=2, asset="SOL", amount=VENUE.assets["SOL"].grid().parse("500")),
    ]
    for i in range(12):
        cmds.append(PlaceOrder(user_id=2, symbol=SOL.symbol, side=Side.SELL, type=OrderType.LIMIT,
                               price=price(f"{150 + i % 4}"), quantity=qty("2")))  # fmt: skip
        cmds.append(PlaceOrder(user_id=1, symbol=SOL.symbol, side=Side.BUY, type=OrderType.LIMIT,
                               price=price(f"{151 + i % 3}"), quantity=qty("3")))  # fmt: skip
    cmds.append(CancelAll(user_id=1))
    return [c.__class__(**{**_fields(c), "seq": n, "ts": 1_000 * n, "request_id": f"r{n}"})
            for n, c in enumerate(cmds, 1)]  # fmt: skip


def _fields(cmd: AnyCommand) -> dict[str, object]:
    return {name: getattr(cmd, name) for name in cmd.__struct_fields__}


class Projections:
    """An engine with the projections the engine service feeds, in its order."""

    def __init__(self, history: History) -> None:
        self.engine = Engine(VENUE.assets, VENUE.markets)
        self.marketdata, self.userdata, self.history = MarketData(VENUE.markets), UserData(), history
        self.listeners = [self.marketdata.apply, self.userdata.apply, history.apply]
        self.remembered: dict[str | None, list[Event]] = {}

    def remember(self, request_id: str | None, events: list[Event]) -> None:
        self.remembered[request_id] = events

    def run(self, cmds: list[AnyCommand]) -> None:
        for cmd in cmds:
            events = self.remembered[cmd.request_id] = self.engine.handle(cmd)
            for listener in self.listeners:
                listener(events)

    def recover(self, data: Path) -> tuple[int, int, int]:
        with Journal.open(data / "journal", fsync=False) as journal:
            return tuple(recover(self.engine, self.marketdata, self.userdata, self.history, journal,
                                 data / "snapshots", self.listeners, self.remember))  # type: ignore[return-value]  # fmt: skip

    def snapshot(self, ts: int) -> Snapshot:
        state = self.engine.snapshot()
        return Snapshot(seq=self.engine.last_seq, ts=ts, engine=state, marketdata=self.marketdata.snapshot(),
                        userdata=self.userdata.snapshot(), engine_hash=state_hash(state))  # fmt: skip


def _journal(data: Path, cmds: list[AnyCommand]) -> None:
    with Journal.open(data / "journal", fsync=False) as journal:
        journal.append(cmds)


def _same(a: Projections, b: Projections) -> None:
    assert state_hash(a.engine.snapshot()) == state_hash(b.engine.snapshot())
    assert a.marketdata.snapshot() == b.marketdata.snapshot()
    assert a.userdata.snapshot() == b.userdata.snapshot()


@pytest.fixture
def history(tmp_path: Path) -> History:
    opened = History.open(tmp_path / "history.sqlite3")
    yield opened  # type: ignore[misc]
    opened.close()


def test_empty_data_dir_recovers_nothing(tmp_path: Path, history: History) -> None:
    fresh = Projections(history)
    assert fresh.recover(tmp_path) == (0, 0, 0)
    assert fresh.engine.last_seq == 0 and history.last_seq == 0


def test_journal_alone_rebuilds_engine_and_projections_exactly(tmp_path: Path, history: History) -> None:
    day = _day()
    _journal(tmp_path, day)
    reference = Projections(History.open(tmp_path / "reference.sqlite3"))
    reference.run(day)
    recovered = Projections(history)
    assert recovered.recover(tmp_path) == (0, len(day), day[-1].ts)
    _same(recovered, reference)
    history.sync()  # the writer thread has committed what the recovery handed it
    assert history.last_seq == len(day)
    assert recovered.remembered == reference.remembered  # each request's original answer
    reference.history.close()


def test_snapshot_then_only_the_journal_after_it_is_replayed(tmp_path: Path, history: History) -> None:
    day = _day()
    _journal(tmp_path, day)
    cut = len(day) // 2
    before = Projections(History.open(tmp_path / "before.sqlite3"))
    before.run(day[:cut])
    snapfiles.write(tmp_path / "snapshots", before.snapshot(day[cut - 1].ts))
    before.history.close()
    reference = Projections(History.open(tmp_path / "reference.sqlite3"))
    reference.run(day)
    recovered = Projections(history)
    assert recovered.recover(tmp_path) == (cut, len(day) - cut, day[-1].ts)
    _same(recovered, reference)
    later = {cmd.request_id for cmd in day[cut:]}
    assert recovered.remembered == {rid: ev for rid, ev in reference.remembered.items() if rid in later}
    reference.history.close()


def test_snapshot_that_does_not_reproduce_its_hash_is_refused(tmp_path: Path, history: History) -> None:
    day = _day()
    before = Projections(History.open(tmp_path / "before.sqlite3"))
    before.run(day[:4])
    forged = before.snapshot(day[3].ts)
    snapfiles.write(tmp_path / "snapshots", Snapshot(**{**_fields(forged), "engine_hash": "0" * 64}))
    before.history.close()
    with pytest.raises(RuntimeError, match="did not reproduce its state hash"):
        Projections(history).recover(tmp_path)


def test_history_ahead_of_the_journal_is_rolled_back_to_it(tmp_path: Path) -> None:
    day = _day()
    cut = len(day) - 6
    ahead = Projections(History.open(tmp_path / "history.sqlite3"))
    ahead.run(day)  # the history saw the whole day ...
    ahead.history.advance(len(day))
    ahead.history.close()
    _journal(tmp_path, day[:cut])  # ... but the journal's tail was lost (--fsync off, power cut)
    reference = Projections(History.open(tmp_path / "reference.sqlite3"))
    reference.run(day[:cut])
    reference.history.advance(cut)
    history = History.open(tmp_path / "history.sqlite3")
    try:
        recovered = Projections(history)
        recovered.recover(tmp_path)
        assert history.last_seq == cut
        history.sync()
        reference.history.sync()
        assert history.trades(SOL.symbol, 1000) == reference.history.trades(SOL.symbol, 1000)
        assert history.closed_orders(1, None, 1000, None) == reference.history.closed_orders(
            1, None, 1000, None
        )
    finally:
        history.close()
        reference.history.close()


def test_a_snapshot_from_before_funding_restores_with_opening_deposits(
    tmp_path: Path, history: History
) -> None:
    """A format-1 file (as the server wrote it before deposits were recorded, hashed over the
    fields it had) restores, its hash checked as written, each balance an opening deposit; the
    journal's tail replays on it; one changed byte of it is still refused."""
    day = _day()
    before = Projections(History.open(tmp_path / "before.sqlite3"))
    before.run(day[:6])
    taken = before.snapshot(day[5].ts)
    old = {name: getattr(taken.engine, name) for name in FORMAT_1_FIELDS}
    engine = msgspec.msgpack.decode(msgspec.msgpack.encode(old), type=EngineSnapshot)
    assert engine.format == 1 and not engine.deposits
    written = Snapshot(**{**_fields(taken), "engine": engine, "engine_hash": written_hash(engine)})
    snapfiles.write(tmp_path / "snapshots", written)
    _journal(tmp_path, day)
    recovered = Projections(history)
    assert recovered.recover(tmp_path) == (6, len(day) - 6, day[-1].ts)
    recovered.engine.check_integrity()  # accounts + fees + holds = deposited - withdrawn
    opening = recovered.engine.funding.deposits_of(1)
    assert {d.source for d in opening} == {"opening"}
    held = {(a, av + lk) for u, a, av, lk in engine.balances if u == 1 and av + lk}
    assert {(d.asset, d.amount) for d in opening} == held
    assert recovered.engine.balances(2) == _replayed(day).balances(2)  # the same money, all of it
    before.history.close()
    forged = Snapshot(**{**_fields(written), "engine_hash": "0" * 64})
    snapfiles.write(tmp_path / "forged" / "snapshots", forged)
    _journal(tmp_path / "forged", day)
    with pytest.raises(RuntimeError, match="did not reproduce its state hash"):
        Projections(History.open(tmp_path / "forged.sqlite3")).recover(tmp_path / "forged")


def _replayed(day: list[AnyCommand]) -> Engine:
    engine = Engine(VENUE.assets, VENUE.markets)
    for cmd in day:
        engine.handle(cmd)
    return engine
