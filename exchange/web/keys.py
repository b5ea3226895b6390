"""Every typed application key, in one module: what a handler reaches, no singletons.

The composition root (exchange/app/) fills them; which exist depends on the role:
- all roles: SETTINGS, VENUE, METRICS, READS, CRASHED;
- ``all`` and ``engine`` (the engine runs here): ENGINE;
- ``all`` and ``gateway`` (HTTP, WebSocket and UI are served): BUS, MARKETDATA, HUB, FEED,
  BINANCE_STREAMS, USER_STREAMS,
  WS_CONNS, ACCOUNTS (set when its lifetime opens it), USER_LIMITER, AUTH_LIMITER, CHART_PATH,
  BINANCE_SYMBOLS, BINANCE_LIMITS, OPERATIONS (the native REST table routes.py registered),
  and DEMO_BOT when the liquidity bot runs;
- ``gateway`` only: USER_STREAM_READY, MARKET_DATA_READY.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

from exchange.bus.base import CommandBus
from exchange.config import Settings, Venue
from exchange.domain.engine import Engine
from exchange.service.marketdata import MarketData
from exchange.service.metrics import Metrics
from exchange.service.ratelimit import TokenBucketLimiter
from exchange.service.reads import Reads
from exchange.store.accounts import Accounts
from exchange.web.binance.limits import BinanceLimits
from exchange.web.binance.streams import BinanceStreams
from exchange.web.binance.symbols import Symbols
from exchange.web.binance.user_stream import UserStreams
from exchange.web.spec.declare import Operation
from exchange.web.ws.feed import Feed
from exchange.web.ws.hub import Hub

if TYPE_CHECKING:
    from exchange.demo.bot import DemoBot

SETTINGS = web.AppKey("settings", Settings)
VENUE = web.AppKey("venue", Venue)
ENGINE = web.AppKey("engine", Engine)
BUS: web.AppKey[CommandBus] = web.AppKey("bus")
MARKETDATA = web.AppKey("marketdata", MarketData)
ACCOUNTS = web.AppKey("accounts", Accounts)
METRICS = web.AppKey("metrics", Metrics)
USER_LIMITER = web.AppKey("user_limiter", TokenBucketLimiter)
AUTH_LIMITER = web.AppKey("auth_limiter", TokenBucketLimiter)
#: Why the engine stopped, if it did (the CLI exits non-zero): service.crashes.Crashes.errors.
CRASHED = web.AppKey("crashed", list[BaseException])
HUB = web.AppKey("hub", Hub)
FEED = web.AppKey("feed", Feed)
#: The Binance market streams, a renderer of FEED (web/binance/streams.py).
BINANCE_STREAMS = web.AppKey("binance_streams", BinanceStreams)
#: The WebSocket API's user data stream, a renderer of FEED (web/binance/user_stream.py).
USER_STREAMS = web.AppKey("user_streams", UserStreams)
#: Open web.ws.handler.Connection objects (typed loosely: the handler imports this module).
WS_CONNS: web.AppKey[set[Any]] = web.AppKey("ws_conns", set)
#: Reads of engine state: local in ``--role all|engine``, over the bus in ``--role gateway``.
READS: web.AppKey[Reads] = web.AppKey("reads")
#: ``--role gateway``: waits until the bus delivers a user's events (bus/redis.py).
USER_STREAM_READY: web.AppKey[Callable[[int], Awaitable[None]]] = web.AppKey("user_stream_ready")
#: ``--role gateway``: whether the market-data mirror is in sync (service/mirror.py).
MARKET_DATA_READY: web.AppKey[Callable[[], bool]] = web.AppKey("market_data_ready")
#: The lightweight-charts module the pages serve (web/pages.py).
CHART_PATH = web.AppKey("chart_path", Path)
#: The demo liquidity bot, when it runs in this process (exchange/app/demo_bot.py).
DEMO_BOT: web.AppKey[DemoBot] = web.AppKey("demo_bot")
#: The Binance face's names of the markets (web/binance/symbols.py), built once per app.
BINANCE_SYMBOLS = web.AppKey("binance_symbols", Symbols)
#: The Binance face's request-weight and order-count windows (web/binance/limits.py).
BINANCE_LIMITS = web.AppKey("binance_limits", BinanceLimits)
#: The native REST operations registered (web/spec/operations.py); the documents describe them.
OPERATIONS: web.AppKey[tuple[Operation, ...]] = web.AppKey("operations")
