"""The real server process: ``python -m exchange serve`` on a free port, traded by the client."""

from __future__ import annotations

import asyncio
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from exchange.client import Client
from exchange.devtools.cluster import serve_command, wait_healthy
from exchange.devtools.redis_server import free_port as _free_port
from exchange.wsclient import WsClient
from tests.waiting import until

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port, data = _free_port(), tmp_path_factory.mktemp("data")
    cmd = serve_command(port, data, "--no-bot")
    log = data / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    _wait_healthy(url, proc, log)
    yield url, proc
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    """exchange.devtools.cluster's wait, with the server's log in the failure."""
    try:
        wait_healthy(url, 20, proc)
    except RuntimeError as exc:
        raise AssertionError(f"{exc}:\n{log.read_text()}") from None


def test_two_bots_trade_through_the_real_process(served: tuple[str, subprocess.Popen[bytes]]) -> None:
    url, _ = served

    async def trade() -> None:
        async with Client(url) as maker, Client(url) as taker:
            for bot, name in ((maker, "maker"), (taker, "taker")):
                await bot.signup(name, "correct horse battery")
                key = await bot.create_api_key()
                bot.use_key(key["apiKey"], key["secret"])
            await maker.onramp("SOL", "10")
            await taker.onramp("USDC", "5000")
            await maker.place_order("SOL_USDC", "sell", price="150.25", quantity="4")
            order = await taker.place_order("SOL_USDC", "buy", "market", quantity="3")
            assert order["status"] == "FILLED" and order["executedQuoteQty"] == "450.750000"
            assert (await taker.balances())["SOL"]["available"] == "2.994000000"
            assert (await maker.depth("SOL_USDC"))["asks"] == [["150.25", "1.00"]]
            assert (await maker.trades("SOL_USDC"))[0]["price"] == "150.25"

    asyncio.run(trade())


def test_sigterm_closes_sockets_going_away_drains_and_exits_zero(
    served: tuple[str, subprocess.Popen[bytes]],
) -> None:
    url, proc = served

    async def connected_during_shutdown() -> tuple[int | None, str]:
        async with WsClient(url) as ws:
            await ws.subscribe("trade@SOL_USDC")
            proc.send_signal(signal.SIGTERM)
            message = "the socket was not closed by the shutdown"
            return await until(lambda: ws.closed_with, message=message)  # type: ignore[no-any-return]

    code, reason = asyncio.run(connected_during_shutdown())
    assert (code, reason) == (1001, "server shutdown")
    assert proc.wait(timeout=20) == 0
