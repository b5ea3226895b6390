"""WebSocket fan-out: topic -> subscribers, each with a bounded outbox; slow readers evicted.

A message is encoded once per topic and the same bytes are offered to every subscriber.
``offer`` never awaits: it appends to the subscriber's outbox (a deque) and wakes its writer
task. A subscriber whose outbox reaches its bound is a slow consumer: it is dropped from every
topic at once and closed (1008 "slow consumer") by its own writer, so one slow reader never
delays the engine, the publisher or any other reader.

Complexity: publish O(subscribers of the topic); subscribe/unsubscribe O(1); drop O(topics of
the subscriber). Memory: topics x subscribers sets, plus at most ``bound`` frames per outbox.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable


class Outbox:
    """One connection's queue of encoded frames and the signal its writer waits on."""

    __slots__ = ("bound", "frames", "overflowed", "closed", "on_overflow", "_wake")

    def __init__(self, bound: int, on_overflow: Callable[[], None] | None = None) -> None:
        self.bound = bound
        self.frames: deque[bytes] = deque()
        self.overflowed = False
        self.closed = False
        #: Called once when the bound is hit; the owner closes the socket (its writer may be
        #: stuck in a send to the very reader that is too slow, so it cannot notice by itself).
        self.on_overflow = on_overflow
        self._wake = asyncio.Event()

    def offer(self, frame: bytes) -> bool:
        """Queue ``frame``; False (and the outbox marked overflowed) if it is full or closed."""
        if self.closed:
            return False
        if len(self.frames) >= self.bound:
            self.overflowed = self.closed = True
            self.frames.clear()
            self._wake.set()
            if self.on_overflow is not None:
                self.on_overflow()
            return False
        self.frames.append(frame)
        self._wake.set()
        return True

    def close(self) -> None:
        self.closed = True
        self._wake.set()

    async def drain(self, send: Callable[[bytes], Awaitable[None]]) -> None:
        """The writer loop: send frames in order until closed; returns on close/overflow."""
        frames = self.frames
        while True:
            await self._wake.wait()
            self._wake.clear()
            while frames and not self.overflowed:
                await send(frames.popleft())
            if self.closed:
                return


class Hub:
    def __init__(self) -> None:
        self._topics: dict[str, set[Outbox]] = {}
        self._subscriptions: dict[Outbox, set[str]] = {}
        #: Subscribed topics per market (``trade@SOL_USDC`` counts for ``SOL_USDC``), so a
        #: publisher can skip all work for a market nobody watches.
        self._markets: dict[str, int] = {}
        self.frames_offered = 0
        self.evicted = 0

    def has(self, topic: str) -> bool:
        return topic in self._topics

    def subscribers(self, topic: str) -> int:
        return len(self._topics.get(topic, ()))

    def watching(self, market: str) -> bool:
        return market in self._markets

    def subscribe(self, topic: str, outbox: Outbox) -> None:
        subs = self._topics.setdefault(topic, set())
        if outbox not in subs:
            subs.add(outbox)
            self._count(topic, 1)
        self._subscriptions.setdefault(outbox, set()).add(topic)

    def unsubscribe(self, topic: str, outbox: Outbox) -> None:
        subs = self._topics.get(topic)
        if subs is not None and outbox in subs:
            subs.discard(outbox)
            self._count(topic, -1)
            if not subs:
                del self._topics[topic]
        self._subscriptions.get(outbox, set()).discard(topic)

    def _count(self, topic: str, delta: int) -> None:
        _, at, rest = topic.partition("@")
        if not at:
            return  # a private topic
        market = rest.partition("@")[0]
        left = self._markets.get(market, 0) + delta
        if left:
            self._markets[market] = left
        else:
            self._markets.pop(market, None)

    def topics_of(self, outbox: Outbox) -> set[str]:
        return self._subscriptions.get(outbox, set())

    def drop(self, outbox: Outbox) -> None:
        for topic in list(self._subscriptions.get(outbox, ())):
            self.unsubscribe(topic, outbox)
        self._subscriptions.pop(outbox, None)

    def publish(self, topic: str, frame: bytes) -> None:
        subs = self._topics.get(topic)
        if not subs:
            return
        # A snapshot of the set: an overflow callback may change subscriptions mid-loop.
        slow = [outbox for outbox in tuple(subs) if not outbox.offer(frame)]
        self.frames_offered += len(subs) - len(slow)
        for outbox in slow:
            self.evicted += outbox.overflowed
            self.drop(outbox)
