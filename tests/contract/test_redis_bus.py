"""What only the Redis bus has to show: redelivery after an engine death, deadlines, queries,
per-user channels, and reconnection after Redis itself restarts."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from exchange.bus.base import EngineTimeout, QueryAnswer, Unavailable
from exchange.bus.messages import Names
from exchange.bus.redis import RedisGateway, connect
from exchange.bus.redis_engine import RedisEngine
from exchange.bus.redis_lock import EngineLease
from exchange.devtools.redis_server import RedisServer
from exchange.domain.commands import Onramp
from exchange.domain.events import BalanceChanged, Event, OrderRejected
from exchange.domain.reasons import Reason
from tests.conftest import private_redis
from tests.waiting import until

_prefixes = itertools.count(1)


async def _no_queries(kind: str, args: bytes) -> Any:
    raise AssertionError(f"no query expected, got {kind}")


def _never() -> None:
    raise AssertionError("the lease was lost")


@pytest.fixture
async def parts(redis_server: RedisServer) -> AsyncIterator[Any]:
    names = Names(f"redisbus{next(_prefixes)}")
    made: list[Any] = []

    async def gateway(**kw: Any) -> RedisGateway:
        g = RedisGateway(redis_server.url, names=names, **kw)
        await g.start()
        made.append(g)
        return g

    async def engine(answer: QueryAnswer = _no_queries) -> RedisEngine:
        e = RedisEngine(redis_server.url, market_uid=lambda s: 0, on_lost=_never, names=names)
        await e.start(answer)
        made.append(e)
        return e

    yield gateway, engine
    for part in made:
        await (part.aclose() if isinstance(part, RedisEngine) else part.close())


def _onramp(amount: int) -> Onramp:
    return Onramp(user_id=7, asset="USDC", amount=amount)


async def _read_then_lost(parts: Any, amount: int) -> tuple[asyncio.Future[list[Event]], Onramp, RedisEngine]:
    """A gateway submits an onramp; a first engine reads it and stops without answering; a
    second engine starts. The submitted future, the command as read, and the second engine."""
    make_gateway, make_engine = parts
    gateway = await make_gateway()
    first = await make_engine()
    future = gateway.submit(_onramp(amount))
    async with asyncio.timeout(5):
        ((cmd, _),) = await first.next_batch(10)
    first.close()
    return future, cmd, await make_engine()


async def test_entry_read_but_never_answered_is_handed_to_the_next_engine(parts: Any) -> None:
    future, cmd, second = await _read_then_lost(parts, 3)  # died before journaling: no answer
    async with asyncio.timeout(5):
        ((again, pending),) = await second.next_batch(10)
    assert again == cmd and again.request_id is not None
    pending.set_result([BalanceChanged(1, 1, 7, "USDC", 3, 0)])
    async with asyncio.timeout(5):
        assert (await future)[0].available == 3


async def test_no_answer_in_time_fails_with_engine_timeout_and_the_engine_drops_it(parts: Any) -> None:
    make_gateway, make_engine = parts
    gateway = await make_gateway(timeout=0.3)
    with pytest.raises(EngineTimeout):
        await gateway.submit(_onramp(1))
    engine = await make_engine()  # starts after the deadline: the command must not run
    fresh = gateway.submit(_onramp(2))
    async with asyncio.timeout(5):
        batch = await engine.next_batch(10)
    assert [cmd.amount for cmd, _ in batch] == [2]
    batch[0][1].set_result([])
    await fresh


async def test_query_is_answered_by_the_engine_process(parts: Any) -> None:
    make_gateway, make_engine = parts

    async def answer(kind: str, args: bytes) -> Any:
        return {"kind": kind, "args": list(args)}

    engine = await make_engine(answer)
    gateway = await make_gateway()
    await engine.queries_ready()  # Redis confirmed the engine's SUBSCRIBE to the queries
    async with asyncio.timeout(5):
        got = await gateway.query("balances", [7], dict[str, Any])
    assert got["kind"] == "balances"


async def test_query_without_an_engine_fails_at_once_with_unavailable(parts: Any) -> None:
    make_gateway, _ = parts
    gateway = await make_gateway()
    with pytest.raises(Unavailable):
        async with asyncio.timeout(2):
            await gateway.query("balances", [7], dict[str, Any])


async def test_user_events_reach_only_a_gateway_that_watches_the_user(parts: Any) -> None:
    make_gateway, make_engine = parts
    watching, other = await make_gateway(), await make_gateway()
    seen: dict[str, list[list[Event]]] = {"watching": [], "other": []}
    watching.add_listener(lambda events: seen["watching"].append(list(events)))
    other.add_listener(lambda events: seen["other"].append(list(events)))
    watching.watch_user(7)
    for gateway in (watching, other):  # user 9's event marks the end: both gateways watch it
        gateway.watch_user(9)
        await gateway.user_ready(9)
    await watching.user_ready(7)  # Redis confirmed the subscription: no sleep needed
    engine = await make_engine()
    engine.publish([BalanceChanged(1, 1, 7, "USDC", 5, 0)])
    engine.publish([BalanceChanged(2, 1, 8, "USDC", 5, 0)])
    engine.publish([BalanceChanged(3, 1, 9, "USDC", 5, 0)])
    # Redis delivers in publishing order: once user 9's event is in, any stray one came before it.
    await until(lambda: all(events and events[-1][0].user_id == 9 for events in seen.values()))  # type: ignore[attr-defined]
    received = {name: [e[0].user_id for e in events[:-1]] for name, events in seen.items()}  # type: ignore[attr-defined]
    assert received == {"watching": [7], "other": []}


async def test_redis_restart_fails_fast_then_reconnects_both_sides(tmp_path: Path) -> None:
    with private_redis(tmp_path) as server:
        names = Names("restart")
        engine = RedisEngine(server.url, market_uid=lambda s: 0, on_lost=_never, names=names)
        gateway = RedisGateway(server.url, names=names)
        try:
            await engine.start(_no_queries)
            await gateway.start()
            server.stop()
            await until(lambda: not gateway.connected)
            with pytest.raises(Unavailable):
                gateway.submit(_onramp(1))
            server.start()
            await until(lambda: gateway.connected, timeout=10)
            async with asyncio.timeout(10):
                future = gateway.submit(_onramp(4))
                ((cmd, pending),) = await engine.next_batch(10)
                pending.set_result([])
                assert await future == [] and cmd.amount == 4
        finally:
            await engine.aclose()
            await gateway.close()


async def test_redelivered_duplicate_is_answered_with_the_original_events(parts: Any) -> None:
    future, cmd, second = await _read_then_lost(parts, 5)  # journaled it, then died unanswered
    original: list[Event] = [BalanceChanged(1, 1, 7, "USDC", 5, 0)]
    second.remember(cmd.request_id, original)  # what the journal replay does at start
    async with asyncio.timeout(5):
        ((again, pending),) = await second.next_batch(10)
    assert again.request_id == cmd.request_id
    duplicate = OrderRejected(2, 1, 7, Reason.DUPLICATE_REQUEST, "already applied")
    pending.set_result([duplicate])
    async with asyncio.timeout(5):
        assert await future == original


async def test_second_engine_waits_for_the_lease_until_the_first_releases_it(
    redis_server: RedisServer,
) -> None:
    names = Names(f"lease{next(_prefixes)}")
    first, second = (
        EngineLease(redis_server.url, names, on_lost=_never, ttl_ms=600),
        EngineLease(redis_server.url, names, on_lost=_never, ttl_ms=600),
    )
    await first.acquire()
    waiting = asyncio.create_task(second.acquire())
    # A time, not a condition: the claim is that the wait outlasts the 600 ms ttl (the first
    # engine renews its lease), and only a span longer than the ttl can show it.
    await asyncio.sleep(0.9)
    assert not waiting.done()
    await first.release()
    async with asyncio.timeout(5):
        await waiting
    await second.release()


async def test_engine_whose_lease_is_taken_over_is_told_to_stop(redis_server: RedisServer) -> None:
    names = Names(f"lease{next(_prefixes)}")
    lost = asyncio.Event()
    lease = EngineLease(redis_server.url, names, on_lost=lost.set, ttl_ms=600)
    await lease.acquire()
    other = connect(redis_server.url)
    await other.set(lease.key, "another-engine", px=600)  # as if it had stalled past its ttl
    async with asyncio.timeout(5):
        await lost.wait()
    await lease.release()
    assert await other.get(lease.key) == b"another-engine"  # releasing never drops another's lease
    await other.aclose()
