"""The lifetimes the roles compose (aiohttp ``cleanup_ctx``): each opens a part at start-up and
closes it at shutdown, in the reverse order of the list they stand in."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

from aiohttp import web

from exchange.config import Settings
from exchange.store.accounts import Accounts
from exchange.store.shared_accounts import SharedAccounts
from exchange.web.keys import ACCOUNTS
from exchange.web.ws.feed import Feed

Lifetime = Callable[[web.Application], AsyncIterator[None]]


def service_lifetime(start: Callable[[], Awaitable[None]], stop: Callable[[], Awaitable[None]]) -> Lifetime:
    async def lifetime(app: web.Application) -> AsyncIterator[None]:
        await start()
        yield
        await stop()

    return lifetime


def accounts_lifetime(
    settings: Settings, *, shared: bool = False, notify: Callable[[str, str], None] | None = None
) -> Lifetime:
    """The accounts store (SQLite under the data dir), opened off the loop; on a gateway the
    shared one, whose removals are announced with ``notify``."""

    async def lifetime(app: web.Application) -> AsyncIterator[None]:
        data_dir = Path(settings.data_dir)
        data_dir.mkdir(parents=True, exist_ok=True)
        kind = SharedAccounts if shared else Accounts
        limits = settings.limits
        accounts = app[ACCOUNTS] = await kind.open(
            data_dir, session_ttl_ms=limits.session_lifetime_s * 1000, max_keys=limits.api_keys_per_user,
            notify=notify,
        )  # fmt: skip
        yield
        await accounts.close()

    return lifetime


def depth_flush(feed: Feed) -> Lifetime:
    """Every 100 ms, the merged depth diffs go to ``depth@S@100ms`` subscribers."""

    async def tick() -> None:
        while True:
            await asyncio.sleep(0.1)
            feed.flush()

    async def lifetime(app: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(tick(), name="depth-100ms")
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    return lifetime
