"""The liquidity bot's place in the server: checked with the app, started with it, stopped
before the engine.

aiohttp stops reading every connection (sockets included) before any shutdown hook runs, so
at shutdown no public route reaches the engine any more. The hook (``on_shutdown``, the engine
still running) therefore stops the bot and cancels its orders with the very command
``DELETE /api/v1/orders`` sends, for the users the bot's API keys name.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import msgspec
from aiohttp import web

from exchange.bus.base import Closed, EngineTimeout, Unavailable
from exchange.demo.bot import STOP_TIMEOUT_S, DemoBot
from exchange.demo.config import inventory_units, load_bot_config, resolve
from exchange.domain.commands import CancelAll
from exchange.web.common import execute
from exchange.web.errors import ApiError
from exchange.web.keys import ACCOUNTS, DEMO_BOT, SETTINGS, VENUE

log = logging.getLogger(__name__)


def serving_url(host: str, port: int) -> str:
    """Where a client in this process reaches the server: a wildcard host means loopback."""
    host = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def install(app: web.Application) -> None:
    """Run the bot with the app: its config is checked now (a bad key stops the start), its
    users become onramp admins (top-ups replace what fees take, which any lifetime cap would
    end), it starts with the app and stops in ``on_shutdown``, while the engine still runs."""
    settings = app[SETTINGS]
    config = load_bot_config(settings.config)
    if config is None:
        log.warning("demo bot: the config has no [demo] section, so no bot runs")
        return
    venue = app[VENUE]
    resolve(config, venue.markets)
    inventory_units(config, {a.name: a.decimals for a in venue.assets.values()})
    admins = (*settings.admins, config.maker, config.taker)
    app[SETTINGS] = msgspec.structs.replace(settings, admins=admins)
    app[DEMO_BOT] = DemoBot(serving_url(settings.host, settings.port), config, Path(settings.data_dir))
    app.cleanup_ctx.append(_bot_lifetime)
    app.on_shutdown.append(_stop_bot)


async def _bot_lifetime(app: web.Application) -> AsyncIterator[None]:
    app[DEMO_BOT].start()
    yield
    await app[DEMO_BOT].stop(cancel_orders=False)  # done by on_shutdown unless the start failed


async def _stop_bot(app: web.Application) -> None:
    """on_shutdown: stop the bot, then cancel its orders (see the module docstring)."""
    bot = app[DEMO_BOT]
    await bot.stop(cancel_orders=False)
    for user in bot.users:
        found = app[ACCOUNTS].api_key(user.rest.api_key) if user.rest.api_key else None
        if found is not None:
            await _cancel_all(app, user.name, found[0])


async def _cancel_all(app: web.Application, name: str, user_id: int) -> None:
    """Best effort: on a gateway the engine process may already be gone (Ctrl-C stops a whole
    cluster at once), and a shutdown must not fail for it."""
    try:
        events = await asyncio.wait_for(execute(app, CancelAll(user_id=user_id)), STOP_TIMEOUT_S)
        log.info("demo bot: canceled the open orders of %s (%d events)", name, len(events))
    except (ApiError, TimeoutError, Unavailable, EngineTimeout, Closed) as exc:
        log.warning("demo bot: could not cancel the orders of %s: %r", name, exc)
