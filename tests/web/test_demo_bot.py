"""The demo liquidity bot against the real app: books, trades and klines from the first seconds,
inventory never past its cap, a clean stop with no order left, and no bot with ``--no-bot``."""

from __future__ import annotations

import asyncio
import json
import stat
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from exchange.__main__ import _parser, _settings
from exchange.app import create_app
from exchange.client import Client
from exchange.config import Limits, Settings, demo_config_path
from exchange.demo.bot import TASK_NAME, DemoBot
from exchange.demo.config import BotConfig, load_bot_config
from exchange.demo.identity import FILE_NAME
from exchange.devtools.redis_server import free_port
from exchange.web.keys import ACCOUNTS, DEMO_BOT, ENGINE, SETTINGS
from tests.waiting import until
from tests.web.conftest import TEST_SETTINGS, MakeUser

SYMBOLS = ("SOL_USDC", "BTC_USDC", "ETH_USDC")


def fast_config(directory: Path, fund_ratio: str = "0.5") -> Path:
    """The shipped venue and bot, requoting and taking fast, with a fixed seed."""
    text = demo_config_path().read_text()
    fast = (
        text.replace("requoteSeconds = 0.5", "requoteSeconds = 0.1")
        .replace("takerRate = 3.0", "takerRate = 15.0\nseed = 7")
        .replace("fundRatio = 0.5", f"fundRatio = {fund_ratio}")
    )
    assert fast.count("seed = 7") == 1 and "requoteSeconds = 0.1" in fast
    assert f"fundRatio = {fund_ratio}" in fast
    path = directory / "venue.toml"
    path.write_text(fast)
    return path


async def markets_alive(client: Client) -> bool:
    for symbol in SYMBOLS:
        depth = await client.depth(symbol)
        if not depth["bids"] or not depth["asks"]:
            return False
        if not await client.trades(symbol) or not await client.klines(symbol, "1m"):
            return False
    return True


async def books_empty(client: Client) -> bool:
    for symbol in SYMBOLS:
        depth = await client.depth(symbol)
        if depth["bids"] or depth["asks"]:
            return False
    return True


class Watch:
    """Samples the bot users' balances in the engine itself, every few milliseconds."""

    def __init__(self, app: web.Application, user_ids: dict[str, int]) -> None:
        self.app, self.user_ids = app, user_ids
        self.most: dict[tuple[str, str], int] = {}
        self.samples = 0

    async def run(self) -> None:
        while True:
            for name, uid in self.user_ids.items():
                for asset, (available, locked, _) in self.app[ENGINE].balances(uid).items():
                    key = (name, asset)
                    self.most[key] = max(self.most.get(key, 0), available + locked)
            self.samples += 1
            # A time, not a condition: this is the sampling period, and whatever happens in
            # between is what sampling often (about 200 times a second) is there to catch.
            await asyncio.sleep(0.005)


@pytest.fixture(params=["0.5", "0.95"], ids=["funded-half", "funded-near-cap"])
async def bot_server(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[TestServer]:
    """The app as ``serve --demo`` builds it: the bot on, reaching the server on its port.
    Funded near its cap, the bot has little room left: the bound is what keeps it under."""
    port = free_port()
    options = {**TEST_SETTINGS, "bot": True}
    venue = str(fast_config(tmp_path, request.param))
    settings = Settings(data_dir=str(tmp_path / "data"), port=port, config=venue, **options)  # type: ignore[arg-type]
    server = TestServer(create_app(settings), host="127.0.0.1", port=port)
    await server.start_server()
    yield server
    await server.close()


async def test_bot_in_the_server_moves_every_market_within_its_inventory_and_leaves_no_order(
    bot_server: TestServer, tmp_path: Path
) -> None:
    app = bot_server.app
    bot = app[DEMO_BOT]
    await until(lambda: _signed_in(bot), timeout=15, interval=0.05)
    ids = {u.name: app[ACCOUNTS].api_key(u.rest.api_key or "")[0] for u in bot.users}  # type: ignore[index]
    assert set(ids) <= set(app[SETTINGS].admins)  # top-ups outlive any lifetime onramp cap
    watch = Watch(app, ids)
    watching = asyncio.create_task(watch.run())
    async with Client(str(bot_server.make_url("")).rstrip("/")) as public:
        await until(lambda: markets_alive(public), timeout=15, interval=0.05)
        await _more_rounds(bot, requotes=10, taker_draws=20)  # a little more trading, sampled
    assert bot.stats.taker_orders > 0 and bot.stats.placed > 0
    await bot_server.close()
    watching.cancel()
    assert watch.samples > 50
    for (name, asset), most in watch.most.items():
        assert most <= bot.cap[asset], f"{name} held {most} {asset}, over {bot.cap[asset]}"
    assert {asset for _, asset in watch.most} == set(bot.cap)
    for uid in ids.values():
        assert app[ENGINE].open_orders(uid) == []
    assert bot.task is not None and bot.task.done()
    assert bot.stats.unexpected == 0
    creds = tmp_path / "data" / FILE_NAME
    assert stat.S_IMODE(creds.stat().st_mode) == 0o600
    assert set(json.loads(creds.read_text())) == set(ids)


async def _more_rounds(bot: DemoBot, requotes: int, taker_draws: int) -> None:
    """Until the bot's maker has requoted ``requotes`` more times and its taker drawn
    ``taker_draws`` more times (about a second at the fast config's pace)."""
    start = bot.stats.requotes, bot.stats.taker_draws

    def done() -> bool:
        assert bot.task is not None and not bot.task.done(), "the bot stopped"
        return bot.stats.requotes >= start[0] + requotes and bot.stats.taker_draws >= start[1] + taker_draws

    await until(done, timeout=15, interval=0.02)


async def _signed_in(bot: DemoBot) -> bool:
    return len(bot.users) == 2 and all(u.rest.api_key for u in bot.users)


async def test_no_bot_setting_starts_no_bot(server: TestServer, make_user: MakeUser) -> None:
    assert DEMO_BOT not in server.app
    # A bot starts with the app or not at all: no task runs one, so none can sign up later.
    assert not [t for t in asyncio.all_tasks() if t.get_name() == TASK_NAME]
    await make_user("demo-maker")  # the name is free: nobody signed up as the bot
    async with Client(str(server.make_url("")).rstrip("/")) as public:
        assert await books_empty(public)


def test_cli_no_bot_and_no_demo_turn_the_bot_off() -> None:
    assert _settings(_parser().parse_args(["serve"])).bot is True
    assert _settings(_parser().parse_args(["serve", "--no-bot"])).bot is False
    assert _settings(_parser().parse_args(["serve", "--no-demo"])).bot is False


@pytest.fixture
def config(tmp_path: Path) -> BotConfig:
    loaded = load_bot_config(fast_config(tmp_path))
    assert loaded is not None
    return loaded


async def _run_until_quoting(base_url: str, config: BotConfig, data: Path) -> DemoBot:
    bot = DemoBot(base_url, config, data)
    bot.start()
    await until(lambda: _quoting(bot), timeout=15, interval=0.05)
    return bot


async def _quoting(bot: DemoBot) -> bool:
    assert bot.task is not None and not bot.task.done(), "the bot stopped"
    return bot.stats.placed > 0


async def test_restarted_bot_is_the_same_users_with_one_live_key_each(
    base_url: str, config: BotConfig, tmp_path: Path
) -> None:
    data = tmp_path / "bot"
    bot = await _run_until_quoting(base_url, config, data)
    first_key = bot.maker.rest.api_key
    await bot.stop()
    async with Client(base_url) as public:
        assert await books_empty(public)  # stop canceled them

    bot = await _run_until_quoting(base_url, config, data)
    assert bot.maker.rest.api_key == first_key  # the stored key still works: reused
    assert [k["apiKey"] for k in await bot.maker.rest.api_keys()] == [first_key]
    await bot.stop()

    stored = json.loads((data / FILE_NAME).read_text())
    del stored[config.maker]["apiKey"]  # a lost key: log in with the password, replace it
    (data / FILE_NAME).write_text(json.dumps(stored))
    bot = await _run_until_quoting(base_url, config, data)
    new_key = bot.maker.rest.api_key
    assert new_key != first_key
    assert [k["apiKey"] for k in await bot.maker.rest.api_keys()] == [new_key]
    await bot.stop()
    assert bot.stats.unexpected == 0


async def test_bot_whose_name_is_taken_does_not_trade_and_ends_quietly(
    base_url: str, config: BotConfig, tmp_path: Path, make_user: MakeUser
) -> None:
    await make_user(config.maker)
    bot = DemoBot(base_url, config, tmp_path / "bot")
    task = bot.start()
    await asyncio.wait_for(asyncio.shield(task), 10)
    assert task.exception() is None and bot.stats.placed == 0
    await bot.stop()


async def test_rate_limited_bot_backs_off_and_keeps_going(
    aiohttp_server: Any, tmp_path: Path, config: BotConfig, caplog: pytest.LogCaptureFixture
) -> None:
    options = {**TEST_SETTINGS, "limits": Limits(rate_per_s=5.0, rate_burst=20)}
    server = await aiohttp_server(create_app(Settings(data_dir=str(tmp_path / "d"), **options)))  # type: ignore[arg-type]
    bot = DemoBot(str(server.make_url("")).rstrip("/"), config, tmp_path / "bot")
    bot.start()
    await until(lambda: _refused_429(bot), timeout=15, interval=0.05)
    await _more_rounds(bot, requotes=3, taker_draws=3)  # backed off, then went on
    assert bot.task is not None and not bot.task.done()
    assert bot.stats.unexpected == 0
    assert any("RATE_LIMITED" in r.getMessage() for r in caplog.records if r.name == "exchange.demo")
    await bot.stop()


async def _refused_429(bot: DemoBot) -> bool:
    return bot.stats.api_errors > 0


async def test_bot_funded_to_its_cap_adds_nothing_it_could_not_hold(
    server: TestServer, base_url: str, tmp_path: Path
) -> None:
    config = load_bot_config(fast_config(tmp_path, fund_ratio="1.0"))
    assert config is not None
    bot = DemoBot(base_url, config, tmp_path / "bot")
    bot.start()
    await until(lambda: _funded(bot), timeout=15, interval=0.05)
    await _more_rounds(bot, requotes=10, taker_draws=20)  # many requotes and taker draws, none of which fits
    ids = [server.app[ACCOUNTS].api_key(u.rest.api_key or "")[0] for u in bot.users]  # type: ignore[index]
    for uid in ids:
        assert server.app[ENGINE].open_orders(uid) == []
        held = {a: avail + locked for a, (avail, locked, _) in server.app[ENGINE].balances(uid).items()}
        assert held == bot.cap
    assert bot.stats.placed == 0 and bot.stats.taker_orders == 0 and bot.stats.unexpected == 0
    await bot.stop()


async def _funded(bot: DemoBot) -> bool:
    return bot.stats.onramps == 2 * len(bot.cap)
