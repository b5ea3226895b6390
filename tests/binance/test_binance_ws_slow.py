"""A Binance stream reader that stops reading is closed as a slow consumer (1008) while a
normal reader of the same streams gets every event: the Binance face publishes through the
same bounded outboxes as /ws, and nothing waits for a socket."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import msgspec
import orjson
from aiohttp.test_utils import TestServer

from exchange.app import create_app
from exchange.client import Client
from exchange.config import Settings
from tests.waiting import until
from tests.web.conftest import GENEROUS
from tests.web.ws_helpers import StalledReader

STREAMS = "solusdc@depth/solusdc@trade/solusdc@ticker/solusdc@kline_1m"


async def test_slow_binance_reader_is_closed_while_a_normal_reader_gets_everything(
    aiohttp_server: Any, tmp_path: Any
) -> None:
    limits = msgspec.structs.replace(GENEROUS, ws_outbox=16)
    settings = Settings(data_dir=str(tmp_path), limits=limits, ws_writer_limit=1024, ws_sndbuf=4096,
                        fsync="off", bot=False)  # fmt: skip
    server: TestServer = await aiohttp_server(create_app(settings))
    base_url = str(server.make_url("")).rstrip("/")
    path = f"/binance/stream?streams={STREAMS}"
    # A blocking socket: its calls run in a thread so the server's loop (this loop) keeps going.
    slow = await asyncio.to_thread(StalledReader, server.host, server.port or 0, path)
    try:
        seen: dict[str, int] = {}
        async with aiohttp.ClientSession() as session, Client(base_url) as trader:
            good = await session.ws_connect(base_url + path)

            async def read() -> None:
                async for message in good:
                    stream = orjson.loads(message.data)["stream"]
                    seen[stream] = seen.get(stream, 0) + 1

            reader = asyncio.create_task(read())
            await trader.signup("trader", "correct horse battery")
            await trader.onramp("USDC", "100000")
            await trader.onramp("SOL", "1000")
            for i in range(600):
                price = f"{100 + (i % 50) / 100:.2f}"
                await trader.place_order("SOL_USDC", "buy" if i % 2 else "sell", price=price, quantity="1",
                                         stp="none")  # fmt: skip
            # every order changed the book (600 depthUpdates), every second one traded
            await until(lambda: seen.get("solusdc@depth") == 600 and seen.get("solusdc@trade") == 300,
                        message=lambda: f"the normal reader saw {seen}")  # fmt: skip
            received = await asyncio.to_thread(slow.read_all)
            assert received.endswith(b"\x88\x0f\x03\xf0slow consumer")  # close frame, code 1008
            assert not good.closed
            reader.cancel()
            await good.close()
    finally:
        slow.close()
