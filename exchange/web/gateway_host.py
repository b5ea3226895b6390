"""The gateway's part of the composition (``--role gateway``): HTTP, WebSocket and UI with no
engine in the process, joined to the engine process by the Redis bus.

- Commands go to the engine through ``RedisGateway.submit`` (the same ``execute`` as always).
- Market data (``/depth``, ``/trades``, ``/klines``, ``/tickers``, the market streams) comes from
  this process's ``MarketData``, kept in sync by ``MarketMirror`` from the engine's snapshot
  and its per-market channels, so market-data reads never load the engine.
- Balances, orders, fills and history are asked of the engine process (``RemoteReads``).
- A user's events (``orders``, ``balances`` streams) arrive only while one of this gateway's
  sockets streams them: the hub tells the bus when a private topic gains or loses a reader.
- Accounts live in the SQLite file of the shared data directory (``SharedAccounts``); removals
  are announced to the other gateways on the bus.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from aiohttp import web

from exchange.bus.messages import Names
from exchange.bus.redis import RedisGateway
from exchange.service.mirror import MarketMirror
from exchange.service.reads import RemoteReads
from exchange.store.shared_accounts import SharedAccounts
from exchange.web.keys import (
    ACCOUNTS,
    BUS,
    FEED,
    HUB,
    MARKET_DATA_READY,
    MARKETDATA,
    READS,
    SETTINGS,
    USER_STREAM_READY,
    VENUE,
)

log = logging.getLogger(__name__)

GATEWAY = web.AppKey("gateway", RedisGateway)
MIRROR = web.AppKey("mirror", MarketMirror)


def install_gateway(app: web.Application) -> None:
    settings, venue, marketdata, feed = app[SETTINGS], app[VENUE], app[MARKETDATA], app[FEED]
    bus = RedisGateway(
        settings.bus, markets=venue.markets, names=Names(settings.bus_prefix),
        timeout=settings.bus_timeout, maxsize=settings.queue_size,
    )  # fmt: skip
    reads = RemoteReads(bus)
    mirror = MarketMirror(marketdata, [marketdata.apply, feed.apply], reads.marketdata)
    app[BUS], app[GATEWAY], app[READS], app[MIRROR] = bus, bus, reads, mirror
    bus.market_handler = mirror.on_market
    bus.add_listener(feed.apply)  # a watched user's order and balance events
    bus.on_resync.append(mirror.resync)

    def on_private(topic: str, delta: int) -> None:
        user = int(topic.partition(":")[2])
        (bus.watch_user if delta > 0 else bus.unwatch_user)(user)

    app[HUB].on_private = on_private
    app[USER_STREAM_READY] = bus.user_ready
    app[MARKET_DATA_READY] = lambda: mirror.ready
    app.cleanup_ctx.append(_gateway_bus)


async def _gateway_bus(app: web.Application) -> AsyncIterator[None]:
    """After the accounts store opened: wire its announcements, connect, take a snapshot."""
    bus, accounts = app[GATEWAY], app[ACCOUNTS]
    if isinstance(accounts, SharedAccounts):

        def announce(kind: str, value: str) -> None:
            bus.notify_accounts(f"{kind}:{value}".encode())

        def forget(data: bytes) -> None:
            kind, _, value = data.decode().partition(":")
            accounts.forget(kind, value)

        accounts.notify = announce
        bus.on_accounts.append(forget)
        bus.on_resync.append(accounts.forget_all)
    await bus.start()
    yield
    await bus.close()
    await app[MIRROR].close()
