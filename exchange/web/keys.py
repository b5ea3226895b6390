"""Typed application keys: everything a handler reaches is registered here, no singletons."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from exchange.bus.base import CommandBus
from exchange.config import Settings, Venue
from exchange.domain.engine import Engine
from exchange.service.hub import Hub
from exchange.service.marketdata import MarketData
from exchange.service.metrics import Metrics
from exchange.service.ratelimit import TokenBucketLimiter
from exchange.service.reads import Reads
from exchange.service.runner import Runner
from exchange.service.userdata import UserData
from exchange.store.accounts import Accounts
from exchange.store.history import History
from exchange.web.feed import Feed

SETTINGS = web.AppKey("settings", Settings)
VENUE = web.AppKey("venue", Venue)
ENGINE = web.AppKey("engine", Engine)
BUS: web.AppKey[CommandBus] = web.AppKey("bus")
MARKETDATA = web.AppKey("marketdata", MarketData)
USERDATA = web.AppKey("userdata", UserData)
ACCOUNTS = web.AppKey("accounts", Accounts)
RUNNER = web.AppKey("runner", Runner)
METRICS = web.AppKey("metrics", Metrics)
USER_LIMITER = web.AppKey("user_limiter", TokenBucketLimiter)
AUTH_LIMITER = web.AppKey("auth_limiter", TokenBucketLimiter)
CRASHED = web.AppKey("crashed", list[BaseException])
STOP_ON_CRASH = web.AppKey("stop_on_crash", bool)
HUB = web.AppKey("hub", Hub)
FEED = web.AppKey("feed", Feed)
#: Open web.ws.Connection objects (typed loosely: ws.py imports this module).
WS_CONNS: web.AppKey[set[Any]] = web.AppKey("ws_conns", set)
HISTORY = web.AppKey("history", History)
#: Reads of engine state: local in ``--role all|engine``, over the bus in ``--role gateway``.
READS: web.AppKey[Reads] = web.AppKey("reads")
#: ``--role gateway``: waits until the bus delivers a user's events (web/gateway_host.py).
USER_STREAM_READY: web.AppKey[Callable[[int], Awaitable[None]]] = web.AppKey("user_stream_ready")
#: ``--role gateway``: whether the market-data mirror is in sync (service/mirror.py).
MARKET_DATA_READY: web.AppKey[Callable[[], bool]] = web.AppKey("market_data_ready")
