"""The funding reads answer the same in-process and over the bus: a gateway's ``RemoteReads``
decodes the engine's msgpack answer (as bus/redis.py does) into the same values."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from exchange.domain.commands import CompleteWithdrawal, Deposit, Onramp, RequestWithdrawal
from exchange.domain.engine import Engine
from exchange.service.reads import EngineStatus, LocalReads, RemoteReads
from tests.domain.harness import VENUE

pytestmark = pytest.mark.asyncio


class _OverTheBus:
    """A querier that carries each query and its answer as the Redis bus does: msgpack both ways."""

    def __init__(self, local: LocalReads) -> None:
        self.local = local

    async def query(self, kind: str, args: list[Any], result_type: Any) -> Any:
        answer = await self.local.answer(kind, msgspec.msgpack.encode(args))
        return msgspec.msgpack.decode(msgspec.msgpack.encode(answer), type=result_type)


def _engine() -> Engine:
    engine = Engine(VENUE.assets, VENUE.markets)
    commands = [
        Onramp(user_id=1, asset="USDC", amount=5_000_000),
        Deposit(user_id=9, account=1, asset="SOL", amount=10**9, reference="tx-1"),
        RequestWithdrawal(user_id=1, asset="USDC", amount=1_000_000, destination="a"),
        RequestWithdrawal(user_id=1, asset="SOL", amount=10**8, destination="b"),
        CompleteWithdrawal(user_id=9, withdrawal_id=1),
    ]
    for seq, cmd in enumerate(commands, 1):
        engine.handle(msgspec.structs.replace(cmd, seq=seq, ts=1_000 + seq))
    return engine


async def test_funding_reads_agree_in_process_and_over_the_bus() -> None:
    engine = _engine()
    local = LocalReads(engine, None, None, lambda: None, lambda: EngineStatus(True, 0, 0))  # type: ignore[arg-type]
    remote = RemoteReads(_OverTheBus(local))
    for reads in (local, remote):
        deposits, withdrawals = await reads.deposits(1), await reads.withdrawals(1)
        assert [(d.id, d.reference) for d in deposits] == [(2, "tx-1"), (1, "faucet:1")]
        assert [(w.id, w.status.value) for w in withdrawals] == [(2, "PENDING"), (1, "COMPLETED")]
        assert [w.id for w in await reads.pending_withdrawals()] == [2]
        assert await reads.deposits(2) == [] and await reads.withdrawals(2) == []
        assert (await reads.balances(1))["SOL"] == (9 * 10**8, 0, 10**8)
