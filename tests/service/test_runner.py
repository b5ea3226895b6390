"""The engine task and the memory bus: batching, stamping, back-pressure, drain and crash."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from pathlib import Path

import pytest

from exchange.bus.base import Closed, Overloaded
from exchange.bus.memory import MemoryBus
from exchange.config import Settings, load_venue
from exchange.domain.commands import AnyCommand, Onramp
from exchange.domain.engine import Engine
from exchange.domain.events import DepositCredited, Event
from exchange.service.runner import Runner
from exchange.store.journal import Journal
from tests.waiting import until

VENUE = load_venue()


def _onramp(user: int) -> Onramp:
    return Onramp(user_id=user, asset="USDC", amount=1_000_000)


class BrokenEngine:
    """A fake engine (the real one may be compiled, so it is wrapped, not subclassed) that
    breaks an invariant on the command of user ``fails_for``."""

    def __init__(self, fails_for: int) -> None:
        self.inner = Engine(VENUE.assets, VENUE.markets)
        self.fails_for = fails_for

    @property
    def last_seq(self) -> int:
        return self.inner.last_seq

    def handle(self, cmd: AnyCommand) -> list[Event]:
        if cmd.user_id == self.fails_for:
            raise AssertionError("invariant broken")
        return self.inner.handle(cmd)


class RecordingJournal:
    fsync = False
    wants_room = False

    def __init__(self) -> None:
        self.batches: list[list[AnyCommand]] = []

    def append(self, commands: Sequence[AnyCommand], *, sync: bool = True) -> None:
        self.batches.append(list(commands))

    def sync(self) -> None:
        return None

    def make_room(self) -> None:
        return None


class SlowRoomJournal(RecordingJournal):
    """Fsyncing, short of room from the start; make_room blocks until ``release`` is set."""

    fsync = True

    def __init__(self) -> None:
        super().__init__()
        self.wants_room = True
        self.release = threading.Event()
        self.rooms: list[str] = []  # the thread of each make_room call

    def make_room(self) -> None:
        self.rooms.append(threading.current_thread().name)
        assert self.release.wait(5)
        self.wants_room = False


async def test_commands_are_stamped_journaled_before_replies_and_resolved_in_order() -> None:
    bus, journal = MemoryBus(100), RecordingJournal()
    clock = iter([1_000, 900, 2_000])  # a wall clock stepping back must not move engine time back
    runner = Runner(Engine(VENUE.assets, VENUE.markets), bus, bus, journal, clock=lambda: next(clock))
    first = [bus.submit(_onramp(u)) for u in (1, 2, 3)]
    task = asyncio.create_task(runner.run())
    events = await asyncio.gather(*first)
    second = await bus.submit(_onramp(4))
    bus.close()
    await task
    assert [e[0].seq for e in events] == [1, 2, 3] and second[0].seq == 4
    assert [len(b) for b in journal.batches] == [3, 1]  # one journal append per batch
    assert [c.seq for b in journal.batches for c in b] == [1, 2, 3, 4]
    assert [e[0].ts for e in events] == [1_000] * 3 and second[0].ts == 1_000
    assert all(isinstance(e[0], DepositCredited) for e in events)


async def test_make_room_runs_in_a_thread_once_at_a_time_and_no_batch_waits_for_it() -> None:
    bus, journal = MemoryBus(100), SlowRoomJournal()
    runner = Runner(Engine(VENUE.assets, VENUE.markets), bus, bus, journal)
    task = asyncio.create_task(runner.run())
    for user in (1, 2, 3):  # one-command batches: synced inline while make_room is stuck
        await asyncio.wait_for(bus.submit(_onramp(user)), 5)
    await asyncio.wait_for(asyncio.gather(*(bus.submit(_onramp(u)) for u in (4, 5, 6))), 5)
    assert [len(b) for b in journal.batches] == [1, 1, 1, 3]
    assert len(journal.rooms) == 1 and journal.rooms[0] != threading.main_thread().name
    bus.close()
    await until(lambda: not runner.running)  # out of its loop: the queue is closed and drained
    assert not task.done()  # run() waits for the make_room it started
    journal.release.set()
    await asyncio.wait_for(task, 5)
    assert not journal.wants_room and len(journal.rooms) == 1


async def test_runner_preallocates_a_real_journal(tmp_path: Path) -> None:
    bus = MemoryBus(100)
    journal = Journal.open(tmp_path, fsync=True, room_bytes=2**16)
    runner = Runner(Engine(VENUE.assets, VENUE.markets), bus, bus, journal)
    task = asyncio.create_task(runner.run())
    await bus.submit(_onramp(1))
    await asyncio.gather(*(bus.submit(_onramp(u)) for u in (2, 3)))
    bus.close()
    await task
    (segment,) = journal.segments
    assert segment.stat().st_size > 2**16  # the room run() started, and waited for
    assert not journal.wants_room
    journal.close()
    assert [c.seq for c in Journal.open(tmp_path, fsync=False).replay()] == [1, 2, 3]


async def test_a_busy_batch_waits_one_turn_for_commands_already_on_their_way() -> None:
    bus = MemoryBus(100)
    loop = asyncio.get_running_loop()
    for user in (1, 2):
        bus.submit(_onramp(user))
    loop.call_soon(bus.submit, _onramp(3))  # a request read in the next loop turn
    assert [cmd.user_id for cmd, _ in await bus.next_batch(512)] == [1, 2, 3]


async def test_a_lone_command_does_not_wait_for_the_next_turn() -> None:
    bus = MemoryBus(100)
    bus.submit(_onramp(1))
    asyncio.get_running_loop().call_soon(bus.submit, _onramp(2))
    assert [cmd.user_id for cmd, _ in await bus.next_batch(512)] == [1]
    assert [cmd.user_id for cmd, _ in await bus.next_batch(512)] == [2]


async def test_full_queue_fails_fast_with_overloaded() -> None:
    bus = MemoryBus(2)
    bus.submit(_onramp(1))
    bus.submit(_onramp(2))
    with pytest.raises(Overloaded):
        bus.submit(_onramp(3))
    assert bus.depth() == 2


async def test_close_drains_queued_commands_then_refuses_new_ones() -> None:
    bus = MemoryBus(10)
    runner = Runner(Engine(VENUE.assets, VENUE.markets), bus, bus)
    pending = [bus.submit(_onramp(u)) for u in range(1, 6)]
    bus.close()
    with pytest.raises(Closed):
        bus.submit(_onramp(9))
    await runner.run()
    assert all(f.done() and f.result()[0].seq for f in pending)


async def test_engine_exception_fails_pending_replies_and_stops_the_task() -> None:
    bus = MemoryBus(10)
    runner = Runner(BrokenEngine(fails_for=2), bus, bus)  # type: ignore[arg-type]
    ok, bad, after = bus.submit(_onramp(1)), bus.submit(_onramp(2)), bus.submit(_onramp(3))
    with pytest.raises(AssertionError, match="invariant broken"):
        await runner.run()
    assert ok.result()[0].seq == 1
    for future in (bad, after):
        with pytest.raises(RuntimeError, match="engine stopped"):
            future.result()


async def test_overloaded_engine_answers_503_over_http(aiohttp_client: object, tmp_path: object) -> None:
    from exchange.app import create_app
    from exchange.client import Client, ExchangeError
    from tests.web.conftest import TEST_SETTINGS

    settings = Settings(data_dir=str(tmp_path), queue_size=0, **TEST_SETTINGS)  # type: ignore[arg-type]
    client = await aiohttp_client(create_app(settings))  # type: ignore[operator]
    async with Client(str(client.make_url("")).rstrip("/")) as alice:
        await alice.signup("alice", "correct horse battery")
        with pytest.raises(ExchangeError) as err:
            await alice.onramp("USDC", "10")
    assert (err.value.status, err.value.code) == (503, "OVERLOADED") and err.value.retry_after
