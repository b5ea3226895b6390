"""One contract for the bus port, run over the in-process bus and over Redis (a real server).

Each test sees the port through ``Pair``: ``gateway`` (``submit``, ``depth``), ``engine``
(``next_batch``, ``publish``) and ``receive`` (events arriving at the gateway's listeners).
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from exchange.bus.base import Overloaded
from exchange.bus.memory import MemoryBus
from exchange.bus.messages import Names
from exchange.bus.redis import RedisGateway
from exchange.bus.redis_engine import RedisEngine
from exchange.devtools.redis_server import RedisServer
from exchange.domain.commands import CancelAll, Onramp
from exchange.domain.events import BalanceChanged, BookChanged, Event

_prefixes = itertools.count(1)


async def _no_queries(kind: str, args: bytes) -> Any:
    raise AssertionError(f"no query expected, got {kind}")


def _never() -> None:
    raise AssertionError("the lease was lost")


@dataclass
class Pair:
    gateway: Any
    engine: Any
    received: list[list[Event]] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def listen(self, events: Any) -> None:
        self.received.append(list(events))
        self.arrived.set()

    async def wait_events(self, count: int) -> list[list[Event]]:
        async with asyncio.timeout(5):
            while len(self.received) < count:
                self.arrived.clear()
                await self.arrived.wait()
        return self.received


async def _memory(maxsize: int) -> tuple[Pair, Any]:
    bus = MemoryBus(maxsize)
    pair = Pair(bus, bus)
    bus.add_listener(pair.listen)

    async def stop() -> None:
        bus.close()

    return pair, stop


async def _redis(server: RedisServer, maxsize: int) -> tuple[Pair, Any]:
    names = Names(f"contract{next(_prefixes)}")
    uids = itertools.count(1)
    engine = RedisEngine(server.url, market_uid=lambda symbol: next(uids), on_lost=_never, names=names)
    await engine.start(_no_queries)
    pair = Pair(None, engine)
    pair.gateway = gateway = RedisGateway(
        server.url, markets=["SOL_USDC"], names=names, maxsize=maxsize, on_user=[pair.listen],
        on_market=lambda symbol, uid, events: pair.listen(events),
    )  # fmt: skip
    await gateway.start()
    gateway.watch_user(7)
    await gateway.user_ready(7)  # Redis confirmed the user channel's SUBSCRIBE

    async def stop() -> None:
        await engine.aclose()  # it stops taking commands first
        await gateway.close()

    return pair, stop


@pytest.fixture(params=["memory", "redis"])
async def make_pair(request: pytest.FixtureRequest) -> AsyncIterator[Any]:
    stops: list[Any] = []

    async def make(maxsize: int = 100) -> Pair:
        if request.param == "memory":
            pair, stop = await _memory(maxsize)
        else:
            pair, stop = await _redis(request.getfixturevalue("redis_server"), maxsize)
        stops.append(stop)
        return pair

    yield make
    for stop in stops:
        await stop()


def _onramp(user: int, amount: int) -> Onramp:
    return Onramp(user_id=user, asset="USDC", amount=amount)


def _balance(user: int, available: int) -> list[Event]:
    return [BalanceChanged(0, 0, user, "USDC", available, 0)]


async def test_submitted_command_reaches_the_engine_and_its_events_answer_it(make_pair: Any) -> None:
    pair = await make_pair()
    future = pair.gateway.submit(_onramp(7, 5))
    async with asyncio.timeout(5):
        ((command, pending),) = await pair.engine.next_batch(10)
    assert isinstance(command, Onramp) and (command.user_id, command.amount) == (7, 5)
    pending.set_result(_balance(7, 5))
    async with asyncio.timeout(5):
        assert await future == _balance(7, 5)


async def test_batches_keep_submission_order_and_respect_the_limit(make_pair: Any) -> None:
    pair = await make_pair()
    futures = [pair.gateway.submit(_onramp(7, n)) for n in range(1, 8)]
    taken: list[Any] = []
    async with asyncio.timeout(5):
        while len(taken) < 7:
            batch = await pair.engine.next_batch(3)
            assert 1 <= len(batch) <= 3
            taken += batch
    assert [cmd.amount for cmd, _ in taken] == list(range(1, 8))
    for cmd, pending in taken:
        pending.set_result(_balance(7, cmd.amount))
    async with asyncio.timeout(5):
        assert [(await f)[0].available for f in futures] == list(range(1, 8))


async def test_engine_failure_reaches_the_caller_as_an_error(make_pair: Any) -> None:
    pair = await make_pair()
    future = pair.gateway.submit(CancelAll(user_id=7))
    async with asyncio.timeout(5):
        ((_, pending),) = await pair.engine.next_batch(10)
    pending.set_exception(RuntimeError("the engine stopped"))
    with pytest.raises(RuntimeError, match="the engine stopped"):
        async with asyncio.timeout(5):
            await future


async def test_published_events_reach_the_listeners_in_order(make_pair: Any) -> None:
    pair = await make_pair()
    book = BookChanged(1, 10, "SOL_USDC", [(100, 5)], [])
    pair.engine.publish([book])
    pair.engine.publish(_balance(7, 1))
    pair.engine.publish(_balance(7, 2))
    received = await pair.wait_events(3)
    assert received == [[book], _balance(7, 1), _balance(7, 2)]


async def test_full_queue_fails_fast_with_overloaded(make_pair: Any) -> None:
    pair = await make_pair(maxsize=2)
    pair.gateway.submit(_onramp(7, 1))
    pair.gateway.submit(_onramp(7, 2))
    assert pair.gateway.depth() == 2
    with pytest.raises(Overloaded):
        pair.gateway.submit(_onramp(7, 3))


async def test_closed_source_ends_with_an_empty_batch(make_pair: Any) -> None:
    pair = await make_pair()
    pair.engine.close()
    async with asyncio.timeout(5):
        assert await pair.engine.next_batch(10) == []
