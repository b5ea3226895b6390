"""A withdrawal's life across a SIGKILL: requested, the process killed, started again on the same
--data-dir: the withdrawal is still PENDING and its hold still held. Then an operator rejects it
(through web/funding.py on an in-process app over the same data dir, since the operators' routes
come with their own branch) and, after another restart of the real process, the funds are back."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from exchange.app import create_app
from exchange.config import Settings
from exchange.web import funding
from tests.system.test_restart import Server, _user

OPERATOR = 1_000_000


async def _alice_sees(url: str, keys: dict[str, tuple[str, str]]) -> tuple[Any, Any, Any]:
    async with await _user(url, "alice", keys) as alice:
        state = await alice.request("GET", "/statez")
        return (await alice.balances())["USDC"], await alice.withdrawals(), state["stateHash"]


async def _reject_in_process(data: Path, withdrawal_id: int) -> dict[str, Any]:
    server = TestServer(create_app(Settings(data_dir=str(data), fsync="batch", bot=False)))
    await server.start_server()
    try:
        (pending,) = await funding.pending_withdrawals(server.app)
        assert pending["withdrawalId"] == str(withdrawal_id) and pending["username"] == "alice"
        return await funding.reject_withdrawal(server.app, OPERATOR, withdrawal_id, "destination refused")
    finally:
        await server.close()  # a clean stop: its last snapshot holds the rejection


@pytest.mark.parametrize("snapshot_every", [100_000, 3])
def test_a_sigkill_mid_withdrawal_keeps_it_pending_and_held(tmp_path: Path, snapshot_every: int) -> None:
    server, keys = Server(tmp_path, "batch", snapshot_every), {}
    server.start()

    async def fund_and_withdraw() -> dict[str, Any]:
        async with await _user(server.url, "alice", keys) as alice:
            await alice.onramp("USDC", "100")
            await alice.place_order("SOL_USDC", "buy", price="10", quantity="1")  # an order's hold too
            return await alice.request_withdrawal("USDC", "40", "bc1q-alice")

    requested = asyncio.run(fund_and_withdraw())
    before = asyncio.run(_alice_sees(server.url, keys))
    assert before[0] == {"available": "50.000000", "locked": "10.000000", "withdrawing": "40.000000"}
    assert server.stop(signal.SIGKILL) == -signal.SIGKILL
    server.start()
    after = asyncio.run(_alice_sees(server.url, keys))
    assert after == before, "the withdrawal, its hold and the state hash survive the kill"
    assert [(w["withdrawalId"], w["status"]) for w in after[1]] == [(requested["withdrawalId"], "PENDING")]
    log = (tmp_path / "server.log").read_text()
    assert ("restored the snapshot" in log) == (snapshot_every == 3)
    assert server.stop(signal.SIGTERM) == 0

    rejected = asyncio.run(_reject_in_process(tmp_path, int(requested["withdrawalId"])))
    assert (rejected["status"], rejected["reason"]) == ("REJECTED", "destination refused")
    server.start()
    balance, withdrawals, _ = asyncio.run(_alice_sees(server.url, keys))
    assert balance == {"available": "90.000000", "locked": "10.000000", "withdrawing": "0.000000"}
    assert [w["status"] for w in withdrawals] == ["REJECTED"]
    server.stop(signal.SIGTERM)
