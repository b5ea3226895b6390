"""One real server per test module for the Binance face, in a thread of its own.

The sync clients (ccxt, Binance's SDK) block, so the app runs on its own event loop in a
thread, on a real socket (``create_app`` as ``make run`` builds it, the journal unsynced and no
bot). Users are made through the native API, as a bot's owner would: signup, an API key, funds.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any, NamedTuple

import msgspec
import pytest
from aiohttp import web

from exchange.app import create_app
from exchange.client import Client
from exchange.config import Settings
from exchange.devtools.redis_server import free_port
from tests.web.conftest import GENEROUS

PASSWORD = "correct horse battery"
FUNDS = {"USDC": "100000", "SOL": "1000"}
_names = itertools.count(1)


class User(NamedTuple):
    name: str
    api_key: str
    secret: str


class Server:
    """The running app: ``url``, a way to run a coroutine on its loop, and user creation."""

    def __init__(self, settings: Settings) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.settings = settings
        self.loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def start(self) -> None:
        self._thread.start()
        self.run(self._start())

    async def _start(self) -> None:
        self._runner = web.AppRunner(create_app(self.settings))
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    def stop(self) -> None:
        if self._runner is not None:
            self.run(self._runner.cleanup())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()

    def run(self, coro: Any) -> Any:
        future: Future[Any] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return future.result(30)

    def native(self, user: User) -> Client:
        """A native-API client signed with ``user``'s key; use it inside ``self.run``."""
        client = Client(self.url)
        client.use_key(user.api_key, user.secret)
        return client

    def call(self, user: User, fn: Callable[[Client], Any]) -> Any:
        """``await fn(client)`` with a native client of ``user``, on the server's loop."""

        async def go() -> Any:
            client = self.native(user)
            try:
                return await fn(client)
            finally:
                await client.close()

        return self.run(go())

    def make_user(self, fund: dict[str, str] | None = None) -> User:
        async def make() -> User:
            name = f"bn{next(_names)}"
            client = Client(self.url)
            try:
                await client.signup(name, PASSWORD)
                created = await client.create_api_key()
                for asset, amount in (fund if fund is not None else FUNDS).items():
                    await client.onramp(asset, amount)
            finally:
                await client.close()
            return User(name, created["apiKey"], created["secret"])

        return self.run(make())  # type: ignore[no-any-return]


def binance_settings(tmp: Path, **overrides: Any) -> Settings:
    """The web tests' settings (every rate lifted), with ``limits`` changed by ``overrides``."""
    limits = msgspec.structs.replace(GENEROUS, **overrides)
    return Settings(data_dir=str(tmp / "data"), fsync="off", bot=False, limits=limits)


@pytest.fixture(scope="module")
def bn_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = Server(binance_settings(tmp_path_factory.mktemp("binance")))
    server.start()
    yield server
    server.stop()
