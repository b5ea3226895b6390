"""A gateway's market data, kept in sync with the engine's from a snapshot and the event stream.

The engine publishes each command's market events with the market's update id after them;
they go up by exactly one per command that touched the book. The mirror applies a message
whose id is the next one, skips one it already has (it came with the snapshot), and treats a
jump as lost messages: it stops applying, fetches a fresh snapshot of the engine's market data
(``fetch``, a query over the bus), restores it and replays what arrived meanwhile. The bus also
asks for a resync after every (re)connection, since pub/sub keeps nothing for an absent reader.
Until the first snapshot arrives the mirror holds messages back; ``ready`` says whether it has.

WebSocket subscribers of a market that resyncs see its update ids jump, which is what tells
an exact client (exchange/wsclient.py) to take a new depth snapshot.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

from exchange.bus.base import Backoff, Listener
from exchange.domain.events import Event
from exchange.service.marketdata import MarketData, MarketDataSnapshot

log = logging.getLogger(__name__)


class MarketMirror:
    def __init__(
        self,
        marketdata: MarketData,
        listeners: Sequence[Listener],
        fetch: Callable[[], Awaitable[MarketDataSnapshot]],
    ) -> None:
        self.md = marketdata
        self.listeners = list(listeners)
        self.fetch = fetch
        self.ready = False
        self.resyncs = 0
        self._held: list[tuple[str, int, list[Event]]] = []
        self._task: asyncio.Task[None] | None = None

    def on_market(self, symbol: str, uid: int, events: list[Event]) -> None:
        """One command's events for ``symbol``, ``uid`` the update id after them."""
        if not self.ready:
            self._held.append((symbol, uid, events))
            return
        have = self.md.last_update_id(symbol)
        if uid <= have:
            return  # already in the snapshot
        if uid != have + 1:
            log.warning("market %s: update %d after %d, messages lost; resyncing", symbol, uid, have)
            self._held.append((symbol, uid, events))
            self.resync()
            return
        for listener in self.listeners:
            listener(events)

    def resync(self) -> None:
        """Start again from a fresh snapshot (idempotent while one is on its way)."""
        self.ready = False
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._resync(), name="mirror-resync")

    async def _resync(self) -> None:
        while not self.ready:  # a gap found while replaying what was held starts it over
            self.md.restore(await self._fetch())
            self.resyncs += 1
            held, self._held = self._held, []
            self.ready = True
            for symbol, uid, events in held:
                self.on_market(symbol, uid, events)

    async def _fetch(self) -> MarketDataSnapshot:
        backoff = Backoff()
        while True:
            try:
                return await self.fetch()
            except Exception as exc:  # engine down or restarting: keep asking
                log.warning("market data snapshot failed (%s); retrying in %.2f s", exc, backoff.delay)
                await backoff.wait()

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
