"""Exactly one engine process per cluster: a lease in Redis, taken before the engine recovers.

Two engines reading the one command stream would each apply part of it to their own state.
So ``--role engine`` takes ``<prefix>:engine`` (SET NX PX ``ttl_ms``) before it restores its
snapshot and replays its journal (a standby must not recover, then serve, an older state), and
renews it every ``ttl_ms / 3``. A second engine waits until the first stops or dies (a killed
engine's lease runs out after ``ttl_ms``: that is how long its successor waits). Redis restarted
empty loses the lease; the holder simply takes it again. If another process holds it when the
holder renews (the holder stalled past ``ttl_ms`` and was replaced), ``on_lost`` runs: the
engine stops taking commands and the process exits.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable
from typing import Any

from exchange.bus.base import Backoff
from exchange.bus.messages import Names
from exchange.bus.redis import close_quietly, connect, connection_errors, stop_tasks

log = logging.getLogger(__name__)

#: KEYS[1] = the lease, ARGV = (token, ttl ms): 1 if this token holds it now, else 0.
_RENEW = """
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
elseif not holder then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class EngineLease:
    def __init__(self, url: str, names: Names, *, on_lost: Callable[[], None], ttl_ms: int = 3000) -> None:
        self.url, self.key, self.ttl_ms = url, f"{names.prefix}:engine", ttl_ms
        self.token = secrets.token_hex(8)
        self.on_lost = on_lost
        self._client: Any = None
        self._tasks: list[asyncio.Task[None]] = []

    async def acquire(self) -> None:
        """Wait until this process holds the lease, then keep renewing it."""
        backoff, waited = Backoff(), False
        while True:
            try:
                if self._client is None:
                    self._client = connect(self.url)
                if await self._client.set(self.key, self.token, nx=True, px=self.ttl_ms):
                    break
                if not waited:
                    log.warning("another engine holds %s; waiting for it to stop", self.key)
                    waited = True
                await asyncio.sleep(self.ttl_ms / 6000)
            except connection_errors() as exc:
                log.warning("Redis at %s does not answer (%s); retrying", self.url, exc)
                await self._reset()
                await backoff.wait()
        log.info("engine lease %s taken", self.key)
        self._tasks = [asyncio.create_task(self._renew_loop(), name="engine-lease")]

    async def _renew_loop(self) -> None:
        renew = self._client.register_script(_RENEW)
        while True:
            await asyncio.sleep(self.ttl_ms / 3000)
            try:
                held = await renew(keys=[self.key], args=[self.token, self.ttl_ms])
            except connection_errors():
                await self._reset()  # Redis is away: the bus reconnects; try again next round
                self._client = connect(self.url)
                renew = self._client.register_script(_RENEW)
                continue
            if not held:
                log.critical("another engine took %s: this one stops taking commands", self.key)
                self.on_lost()
                return

    async def release(self) -> None:
        await stop_tasks(self._tasks)
        if self._client is not None:
            try:
                await self._client.register_script(_RELEASE)(keys=[self.key], args=[self.token])
            except connection_errors():
                pass  # the lease runs out by itself
            await self._reset()

    async def _reset(self) -> None:
        client, self._client = self._client, None
        await close_quietly(client)
