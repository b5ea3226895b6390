"""A withdrawal's life across a SIGKILL: requested, the process killed, started again on the same
--data-dir: the withdrawal is still PENDING and its hold still held. Then an operator (made with
`python -m exchange operator add` before the first start) sees it pending and rejects it through
the admin routes, and after another SIGKILL and restart the funds are back."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Any

import pytest

from exchange.client import Client
from tests.system.test_operator_cli import _key, cli
from tests.system.test_restart import Server, _user


async def _alice_sees(url: str, keys: dict[str, tuple[str, str]]) -> tuple[Any, Any, Any]:
    async with await _user(url, "alice", keys) as alice:
        state = await alice.request("GET", "/statez")
        return (await alice.balances())["USDC"], await alice.withdrawals(), state["stateHash"]


async def _reject(url: str, key: tuple[str, str], withdrawal_id: str) -> dict[str, Any]:
    async with Client(url, *key) as boss:
        (pending,) = await boss.request("GET", "/api/v1/admin/withdrawals", auth=True)
        assert pending["withdrawalId"] == withdrawal_id and pending["username"] == "alice"
        path = f"/api/v1/admin/withdrawals/{withdrawal_id}/reject"
        return await boss.request("POST", path, body={"reason": "destination refused"}, auth=True)  # type: ignore[no-any-return]


@pytest.mark.parametrize("snapshot_every", [100_000, 3])
def test_a_sigkill_mid_withdrawal_keeps_it_pending_and_held(tmp_path: Path, snapshot_every: int) -> None:
    server, keys = Server(tmp_path, "batch", snapshot_every), {}
    boss = _key(cli(tmp_path, "add", "boss").stdout)
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

    rejected = asyncio.run(_reject(server.url, boss, requested["withdrawalId"]))
    assert (rejected["status"], rejected["reason"]) == ("REJECTED", "destination refused")
    assert server.stop(signal.SIGKILL) == -signal.SIGKILL
    server.start()
    balance, withdrawals, _ = asyncio.run(_alice_sees(server.url, keys))
    assert balance == {"available": "90.000000", "locked": "10.000000", "withdrawing": "0.000000"}
    assert [w["status"] for w in withdrawals] == ["REJECTED"]
    server.stop(signal.SIGTERM)
