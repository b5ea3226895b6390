"""The demo liquidity bot: a market maker and a random taker on every demo market.

It is a client like any other: two users (``demo-maker``, ``demo-taker``) made through the
public API (exchange/demo/identity.py), funded through ``POST /onramp``, trading with HMAC-signed
REST requests (exchange/client.py). In the server it runs as a task (exchange/app/demo_bot.py,
from ``create_app`` when ``settings.demo and settings.bot``); it waits for ``/healthz`` on the
serving address, since the socket is not listening yet when the task starts.

- Maker: every ``requoteSeconds`` the mids take a random-walk step and the maker turns its
  open orders into the wanted ladder with the fewest amends, cancels and places
  (exchange/demo/quotes.py), skewed against its inventory.
- Taker: a Poisson stream of ``takerRate`` orders per second per market, market or marketable
  IOC limit, of random small size, so trades print and candles move.
- Inventory: neither user ever holds more than ``demo.inventory`` of an asset, counting what
  its open orders would bring in; onramps only top up into that room.
- Errors from the API (429, 503, a refused order) are logged and retried with backoff; the
  bot never takes the server down.
- Stop: ``stop`` cancels the task, cancels the open orders over REST (best effort, bounded)
  and closes the sessions. In the server the orders are cancelled by its shutdown hook
  instead (exchange/app/demo_bot.py says why).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import math
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from exchange.client import Client, ExchangeError
from exchange.config import ConfigError
from exchange.demo.config import BotConfig, MarketPlan, inventory_units, resolve
from exchange.demo.identity import CredentialStore, IdentityError, sign_in
from exchange.demo.quotes import (
    Action,
    Budget,
    MidWalk,
    Resting,
    Wallet,
    atomic,
    brings_in,
    ladder,
    market_from_json,
    plan,
    resting_from_json,
    skew,
    taker_order,
    top_up,
    touch,
)
from exchange.domain.markets import Market
from exchange.domain.units import format_scaled

log = logging.getLogger(__package__)  # "exchange.demo": operators filter the bot's lines by it

#: Refusals that are part of trading, not faults: an order filled or moved meanwhile, a quote
#: that would cross someone else's order, funds already locked elsewhere.
EXPECTED = frozenset({"ORDER_NOT_FOUND", "POST_ONLY_WOULD_TAKE", "INSUFFICIENT_FUNDS", "INVALID_QUANTITY"})
MAX_BACKOFF_S = 5.0
STOP_TIMEOUT_S = 2.0
#: The name of the task that runs the bot (a test finds it, or finds that none runs).
TASK_NAME = "demo-bot"


@dataclass
class Stats:
    """What the bot did, for logs and tests."""

    placed: int = 0
    amended: int = 0
    canceled: int = 0
    taker_orders: int = 0
    onramps: int = 0
    refused: int = 0
    api_errors: int = 0
    unexpected: int = 0
    #: Rounds of each loop gone through, whatever they did (a test waits for rounds, not time).
    requotes: int = 0
    taker_draws: int = 0


class User:
    """One bot user and its REST client (signed with its API key once signed in)."""

    def __init__(self, name: str, base_url: str) -> None:
        self.name = name
        self.rest = Client(base_url)


class DemoBot:
    """The bot against the server at ``base_url``; ``start`` runs it, ``stop`` ends it cleanly."""

    def __init__(self, base_url: str, config: BotConfig, data_dir: Path) -> None:
        self.base_url, self.config = base_url.rstrip("/"), config
        self.store = CredentialStore(data_dir)
        self.rng = random.Random(config.seed)
        self.users: list[User] = []  # made by ``start``: a client session needs a running loop
        self.stats = Stats()
        self.plans: dict[str, MarketPlan] = {}
        self.decimals: dict[str, int] = {}
        self.cap: dict[str, int] = {}
        self.target: dict[str, int] = {}
        self.walks: dict[str, MidWalk] = {}
        self.task: asyncio.Task[None] | None = None
        self._stopped = False
        self._backoff: dict[str, float] = {}

    @property
    def maker(self) -> User:
        return self.users[0]

    @property
    def taker(self) -> User:
        return self.users[1]

    def start(self) -> asyncio.Task[None]:
        self.users = [User(name, self.base_url) for name in (self.config.maker, self.config.taker)]
        self.task = asyncio.create_task(self.run(), name=TASK_NAME)
        return self.task

    async def run(self) -> None:
        if not await self._start_up():
            return
        log.info("demo bot: quoting %s as %s, taking as %s",
                 ", ".join(self.plans), self.maker.name, self.taker.name)  # fmt: skip
        await asyncio.gather(self._maker_loop(), self._taker_loop())

    async def _start_up(self) -> bool:
        """Wait for the server, read its markets, sign in; retried until it works, except when
        it never can (a config that does not fit the venue, a user the bot cannot be)."""
        delay = 0.1
        while True:
            try:
                await self._wait_healthy()
                await self._setup()
                return True
            except (IdentityError, ConfigError) as exc:
                log.error("demo bot: cannot start, so it does not trade: %s", exc)
                return False
            except (ExchangeError, aiohttp.ClientError, OSError, TimeoutError) as exc:
                log.warning("demo bot: start-up failed (%r); retrying in %.1f s", exc, delay)
            except Exception:
                self.stats.unexpected += 1
                log.exception("demo bot: start-up failed, so it does not trade")
                return False
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_BACKOFF_S)

    async def stop(self, *, cancel_orders: bool = True) -> None:
        """Cancel the task, then (``cancel_orders``) the open orders over REST, best effort
        within ``STOP_TIMEOUT_S``, then close the sessions. Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        for user in self.users:
            if cancel_orders and user.rest.api_key:
                try:
                    canceled = await asyncio.wait_for(user.rest.cancel_all(), STOP_TIMEOUT_S)
                    log.info("demo bot: %s canceled %d open orders", user.name, len(canceled))
                except (ExchangeError, aiohttp.ClientError, OSError, TimeoutError) as exc:
                    log.warning("demo bot: %s could not cancel its orders: %r", user.name, exc)
            await user.rest.close()

    # -- start -----------------------------------------------------------------------------
    async def _wait_healthy(self) -> None:
        delay = 0.02
        while True:
            try:
                await self.maker.rest.health()
                return
            except (ExchangeError, aiohttp.ClientError, OSError):
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)

    async def _setup(self) -> None:
        assets = {a["asset"]: a["decimals"] for a in await self.maker.rest.assets()}
        markets = {j["symbol"]: market_from_json(j, assets) for j in await self.maker.rest.markets()}
        self.plans, self.decimals = resolve(self.config, markets), assets
        self.cap = inventory_units(self.config, assets)
        self.target = {a: int(v * self.config.fund_ratio) for a, v in self.cap.items()}
        for symbol, p in self.plans.items():
            vol, reversion = p.volatility, self.config.mean_reversion
            self.walks[symbol] = MidWalk(p.mid, vol, reversion, await self._last_deviation(symbol, p))
        for user in (self.maker, self.taker):
            await sign_in(user.rest, user.name, self.store)

    async def _last_deviation(self, symbol: str, p: MarketPlan) -> float:
        """After a restart the walk resumes from the last trade rather than jumping back."""
        trades = await self.maker.rest.trades(symbol, limit=1)
        if not trades:
            return 0.0
        return math.log(p.market.price.parse(trades[0]["price"]) / p.mid)

    # -- loops -----------------------------------------------------------------------------
    async def _maker_loop(self) -> None:
        last = time.monotonic()
        while True:
            now = time.monotonic()
            for walk in self.walks.values():
                walk.step(now - last, self.rng.gauss(0.0, 1.0))
            last = now
            await self._guarded("maker", self._requote)
            self.stats.requotes += 1
            await asyncio.sleep(self.config.requote_seconds)

    async def _taker_loop(self) -> None:
        symbols = list(self.plans)
        rate = self.config.taker_rate * len(symbols)
        while True:
            await asyncio.sleep(self.rng.expovariate(rate))
            symbol = self.rng.choice(symbols)
            await self._guarded("taker", functools.partial(self._take, symbol))
            self.stats.taker_draws += 1

    async def _guarded(self, who: str, step: Callable[[], Awaitable[None]]) -> None:
        """Run one step; on an API or network error log it and back off (429: as told)."""
        delay = self._backoff.get(who, 0.0)
        try:
            await step()
            self._backoff[who] = 0.0
            return
        except ExchangeError as exc:
            self.stats.api_errors += 1
            delay = min(max(delay * 2, 0.1), MAX_BACKOFF_S)
            if exc.retry_after:
                delay = max(delay, float(exc.retry_after))
            log.warning("demo bot (%s): %s; retrying in %.1f s", who, exc, delay)
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            self.stats.api_errors += 1
            delay = min(max(delay * 2, 0.1), MAX_BACKOFF_S)
            log.warning("demo bot (%s): %r; retrying in %.1f s", who, exc, delay)
        except Exception:
            self.stats.unexpected += 1
            delay = MAX_BACKOFF_S
            log.exception("demo bot (%s): unexpected error; retrying in %.1f s", who, delay)
        self._backoff[who] = delay
        await asyncio.sleep(delay)

    # -- maker -----------------------------------------------------------------------------
    async def _requote(self) -> None:
        rest = self.maker.rest
        # Orders first, balances second: a fill in between is then counted twice (as an order
        # that may still bring funds in, and as funds), never missed.
        raw_orders = await rest.open_orders()
        strays = [o for o in raw_orders if o["symbol"] not in self.plans]
        if strays:  # in a market no longer configured (a crash, then a config change)
            for o in strays:
                await self._cancel_stray(o["symbol"], o["orderId"])
            return  # they may have filled meanwhile: quote on fresh balances next time
        held, free = self._balances(await rest.balances())
        resting: dict[str, list[Resting]] = {s: [] for s in self.plans}
        incoming = dict.fromkeys(self.cap, 0)
        for o in raw_orders:
            p = self.plans[o["symbol"]]
            r = resting_from_json(o, p.market)
            resting[o["symbol"]].append(r)
            asset, amount = brings_in(p.market, r.side, r.price, r.remaining)
            incoming[asset] = incoming.get(asset, 0) + amount
        await self._top_up(self.maker, held, free, incoming)
        room = {a: self.cap[a] - held.get(a, 0) - incoming.get(a, 0) for a in self.cap}
        budget = Budget(room, free)
        todo: list[tuple[MarketPlan, Action]] = []
        for symbol, p in self.plans.items():
            shift = skew(held.get(p.market.base.name, 0), self.target[p.market.base.name], p.skew_ticks)
            center = self.walks[symbol].ticks() + shift
            wanted = ladder(center, p.levels, p.spacing, p.size, p.market.price.max_steps)
            todo += [(p, a) for a in plan(wanted, resting[symbol])]
        todo.sort(key=lambda pa: pa[1].kind != "cancel")  # stable: each market's order stays
        for p, action in todo:
            if action.kind == "cancel" or budget.take(p.market, action):
                await self._act(p.market, action)

    async def _cancel_stray(self, symbol: str, order_id: str) -> None:
        try:
            await self.maker.rest.cancel_order(symbol, order_id)
            self.stats.canceled += 1
        except ExchangeError as exc:
            if exc.code not in EXPECTED:
                raise

    async def _act(self, m: Market, a: Action) -> None:
        rest, price = self.maker.rest, m.price.format(a.price)
        try:
            if a.kind == "cancel":
                await rest.cancel_order(m.symbol, a.order_id)
                self.stats.canceled += 1
            elif a.kind == "amend":
                qty = m.qty.format(a.executed + a.remaining)
                await rest.amend_order(m.symbol, a.order_id, quantity=qty, price=price)
                self.stats.amended += 1
            else:
                qty = m.qty.format(a.remaining)
                await rest.place_order(
                    m.symbol, a.side, "limit", price=price, quantity=qty, time_in_force="GTC", post_only=True
                )
                self.stats.placed += 1
        except ExchangeError as exc:
            if exc.code not in EXPECTED:
                raise
            self.stats.refused += 1
            log.debug("demo bot: %s %s refused: %s", a.kind, m.symbol, exc)

    # -- taker -----------------------------------------------------------------------------
    async def _take(self, symbol: str) -> None:
        p, rest = self.plans[symbol], self.taker.rest
        depth = await rest.depth(symbol, limit=1)
        best = (touch(depth["bids"], p.market), touch(depth["asks"], p.market))
        held, free = self._balances(await rest.balances())
        if await self._top_up(self.taker, held, free, {}):
            return  # funds changed: decide on fresh balances next time
        wallet = Wallet(held, free, self.cap, self.target)
        order = taker_order(p.market, p.taker_size, p.spacing, best, wallet, self.rng)
        if order is None:
            return
        m = p.market
        price = None if order.price is None else m.price.format(order.price)
        try:
            tif = "IOC" if order.type == "limit" else None
            qty = m.qty.format(order.qty)
            await rest.place_order(
                symbol, order.side, order.type, price=price, quantity=qty, time_in_force=tif
            )
            self.stats.taker_orders += 1
        except ExchangeError as exc:
            if exc.code not in EXPECTED:
                raise
            self.stats.refused += 1

    # -- funds -----------------------------------------------------------------------------
    def _balances(self, raw: dict[str, Any]) -> tuple[dict[str, int], dict[str, int]]:
        """(held = available + locked, free = available) in atomic units of the bot's assets."""
        held, free = {}, {}
        for asset in self.cap:
            entry = raw.get(asset, {"available": "0", "locked": "0"})
            free[asset] = atomic(entry["available"], self.decimals[asset])
            held[asset] = free[asset] + atomic(entry["locked"], self.decimals[asset])
        return held, free

    async def _top_up(
        self, user: User, held: dict[str, int], free: dict[str, int], incoming: dict[str, int]
    ) -> bool:
        """Onramp what was spent, up to the target and within the cap; True if any was."""
        done = False
        for asset, cap in self.cap.items():
            amount = top_up(held.get(asset, 0), incoming.get(asset, 0), cap, self.target[asset])
            if amount > 0:
                await user.rest.onramp(asset, format_scaled(amount, self.decimals[asset]))
                held[asset], free[asset] = held.get(asset, 0) + amount, free.get(asset, 0) + amount
                self.stats.onramps += 1
                done = True
        return done
