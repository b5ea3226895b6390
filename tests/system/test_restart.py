"""Durability through the real process: kill it (SIGKILL or SIGTERM), start it again on the same
--data-dir, and every acknowledged order, balance, book level and trade id continues exactly."""

from __future__ import annotations

import asyncio
import signal
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import msgspec
import pytest

from exchange.client import Client, ExchangeError
from exchange.config import load_venue
from exchange.devtools.cluster import serve_command
from exchange.domain.events import OrderState
from tests.store.test_history import table_rows
from tests.system.test_server_process import ROOT, _free_port, _wait_healthy

SOL = "SOL_USDC"
PASSWORD = "correct horse battery"


class Server:
    def __init__(
        self, data: Path, fsync: str, snapshot_every: int = 100_000, *, extra: Sequence[str] = ()
    ) -> None:
        self.data, self.fsync, self.snapshot_every, self.extra = data, fsync, snapshot_every, extra
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        cmd = serve_command(self.port, self.data, "--fsync", self.fsync, "--no-bot",
                            "--snapshot-every", str(self.snapshot_every), *self.extra)  # fmt: skip
        log = self.data / "server.log"
        with log.open("ab") as out:
            self.proc = subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
        _wait_healthy(self.url, self.proc, log)

    def stop(self, sig: signal.Signals) -> int:
        assert self.proc is not None
        self.proc.send_signal(sig)
        return self.proc.wait(timeout=20)


async def _user(url: str, name: str, keys: dict[str, tuple[str, str]]) -> Client:
    client = Client(url)
    if name not in keys:
        await client.signup(name, PASSWORD)
        created = await client.create_api_key()
        keys[name] = (created["apiKey"], created["secret"])
    client.use_key(*keys[name])
    return client


async def _state(url: str, keys: dict[str, tuple[str, str]]) -> dict[str, Any]:
    """Everything a user or the public can see, and the engine's state hash, across a restart."""
    out: dict[str, Any] = {}
    async with Client(url) as anon:
        out["statez"] = await anon.request("GET", "/statez")
        out["depth"] = await anon.depth(SOL, limit=1000)
        out["trades"] = await anon.trades(SOL, limit=1000)
        out["klines"] = await anon.klines(SOL, "1m")
        ticker = await anon.ticker(SOL)
        out["ticker"] = {
            k: v for k, v in ticker.items() if k not in ("open", "priceChange", "priceChangePercent")
        }
    for name in sorted(keys):
        client = await _user(url, name, keys)
        async with client:
            out[name] = (await client.balances(), await client.open_orders(), await client.order_history())
    return out


async def _trade_some(url: str, keys: dict[str, tuple[str, str]]) -> None:
    alice, bob = await _user(url, "alice", keys), await _user(url, "bob", keys)
    async with alice, bob:
        await alice.onramp("USDC", "50000")
        await bob.onramp("SOL", "500")
        for i in range(20):
            await bob.place_order(SOL, "sell", price=f"{101 + i % 5}", quantity="1.5")
            await alice.place_order(SOL, "buy", price=f"{99 - i % 4}", quantity="2")
        await alice.place_order(SOL, "buy", price="102", quantity="7")  # takes several asks
        open_asks = await bob.open_orders(SOL)
        await bob.cancel_order(SOL, open_asks[0]["orderId"])
        await bob.amend_order(SOL, open_asks[1]["orderId"], quantity="1")
        await bob.cancel_all("BTC_USDC")  # nothing open there: a command without events comes last


@pytest.mark.parametrize("fsync", ["batch", "off"])
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
@pytest.mark.parametrize("snapshot_every", [100_000, 25])
def test_restart_continues_exactly_where_it_stopped(
    tmp_path: Path, fsync: str, sig: signal.Signals, snapshot_every: int
) -> None:
    server, keys = Server(tmp_path, fsync, snapshot_every), {}
    server.start()
    asyncio.run(_trade_some(server.url, keys))
    before = asyncio.run(_state(server.url, keys))
    code = server.stop(sig)
    assert code == (0 if sig is signal.SIGTERM else -signal.SIGKILL)
    server.start()
    after = asyncio.run(_state(server.url, keys))
    assert after == before
    log = (tmp_path / "server.log").read_text()
    if sig is signal.SIGTERM:  # a clean stop writes a last snapshot: nothing left to replay
        assert "final snapshot" in log and "restored the snapshot" in log
        assert "history ends at seq" not in log  # the history covers everything before it
    elif snapshot_every == 25:  # snapshots were taken while trading, then the journal after one
        assert "snapshot at seq" in log and "restored the snapshot" in log and "replayed" in log
    else:
        assert "replayed" in log and "restored the snapshot" not in log

    async def next_trade_id() -> str:
        async with await _user(server.url, "alice", keys) as alice:
            order = await alice.place_order(SOL, "buy", price="105", quantity="0.5")
            return order["fills"][0]["tradeId"]

    assert int(asyncio.run(next_trade_id())) == int(before["trades"][0]["id"]) + 1
    server.stop(signal.SIGTERM)


async def _pump(c: Client, side: str, owner: int, acked: dict[str, tuple[int, str]]) -> None:
    """Place orders until the server dies; remember each acknowledged order and its status."""
    for i in range(100_000):
        try:
            order = await c.place_order(SOL, side, price=f"{99 + i % 3}", quantity="0.1")
        except (TimeoutError, ExchangeError, OSError):
            return
        acked[order["orderId"]] = (owner, order["status"])


async def _get_order(c: Client, order_id: str) -> dict[str, Any]:
    while True:
        try:
            return await c.get_order(SOL, order_id)  # type: ignore[no-any-return]
        except ExchangeError as exc:
            if exc.code != "RATE_LIMITED":
                raise
            # A time, not a condition: the limiter's bucket refills with time, and Retry-After
            # is the server's own word for how long that takes.
            await asyncio.sleep(float(exc.retry_after or 1))


@pytest.mark.parametrize(("fsync", "kill_after_s"), [("batch", 0.4), ("batch", 1.2), ("off", 0.8)])
def test_sigkill_mid_load_loses_no_acknowledged_order(
    tmp_path: Path, fsync: str, kill_after_s: float
) -> None:
    server, keys = Server(tmp_path, fsync, snapshot_every=300), {}
    server.start()
    acked: dict[str, tuple[int, str]] = {}

    async def load() -> None:
        clients = [await _user(server.url, f"bot{i}", keys) for i in range(3)]
        for c in clients:
            await c.onramp("USDC", "100000")
            await c.onramp("SOL", "1000")
        sides = ("buy", "sell", "buy")
        tasks = [asyncio.create_task(_pump(c, sides[i], i, acked)) for i, c in enumerate(clients)]
        # A time, not a condition: the moment of the kill (before, across, after the first
        # snapshots) is the parameter; len(acked) > 50 below checks the load had got going.
        await asyncio.sleep(kill_after_s)
        assert server.proc is not None
        server.proc.send_signal(signal.SIGKILL)  # mid-load, answers in flight
        server.proc.wait(timeout=20)
        await asyncio.gather(*tasks, return_exceptions=True)
        for c in clients:
            await c.close()

    asyncio.run(load())
    assert len(acked) > 50, f"only {len(acked)} orders acknowledged before the kill"
    server.start()

    async def check() -> None:
        later = {"NEW": 0, "PARTIALLY_FILLED": 1, "FILLED": 2, "CANCELED": 2, "EXPIRED": 2}
        owners = [await _user(server.url, f"bot{i}", keys) for i in range(3)]
        for order_id, (owner, status) in acked.items():
            found = await _get_order(owners[owner], order_id)  # ORDER_NOT_FOUND would raise
            assert later[found["status"]] >= later[status], (order_id, status, found["status"])
        for c in owners:
            await c.close()
        async with Client(server.url) as anon:  # the recovered state still holds every invariant
            assert (await anon.health())["status"] == "ok"

    asyncio.run(check())
    server.stop(signal.SIGTERM)


async def _closed_orders(url: str, keys: dict[str, tuple[str, str]], price: str, n: int) -> list[str]:
    """``n`` buys at ``price``, each canceled: ``n`` closed orders; their ids."""
    async with await _user(url, "carol", keys) as carol:
        await carol.onramp("USDC", "1000")
        ids = [(await carol.place_order(SOL, "buy", price=price, quantity="1"))["orderId"] for _ in range(n)]
        for order_id in ids:
            await carol.cancel_order(SOL, order_id)
        return ids


def test_a_history_ahead_of_the_journal_is_rolled_back_to_it(tmp_path: Path) -> None:
    """A ``--no-journal`` run leaves history rows no journal holds (as a lost unsynced tail
    does with ``--fsync off``). The next start replays the journal (empty here) and reuses those
    seqs and order ids: the history must drop the old rows and record the new ones."""
    keys: dict[str, tuple[str, str]] = {}
    first = Server(tmp_path, "batch", extra=("--no-journal",))
    first.start()
    old_ids = asyncio.run(_closed_orders(first.url, keys, "10", 5))
    assert first.stop(signal.SIGTERM) == 0
    second = Server(tmp_path, "batch")
    second.start()
    new_ids = asyncio.run(_closed_orders(second.url, keys, "11", 3))
    assert second.stop(signal.SIGTERM) == 0
    assert new_ids == old_ids[:3]  # the same ids, given out again
    tables = table_rows(tmp_path / "history.sqlite3")
    rows = tables["orders"]  # (order_id, user_id, symbol, updated_at, body), by order id
    assert [str(row[0]) for row in rows] == new_ids  # none of the first run's rows is left
    eleven = load_venue().markets[SOL].price.parse("11")
    assert [msgspec.msgpack.decode(row[-1], type=OrderState).price for row in rows] == [eleven] * 3
    # one onramp, then a place and a cancel per order
    assert tables["meta"] == [("last_seq", 1 + 2 * len(new_ids))]
    assert "history was ahead of the journal" in (tmp_path / "server.log").read_text()
