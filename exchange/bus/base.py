"""The bus port: how the gateway reaches the engine and how events reach their readers.

Two sides, so that an adapter can put a process boundary between them:
- gateway side, ``CommandBus.submit(command)`` -> the engine's events for that command;
  fails fast with ``Overloaded`` when the engine's queue is full (never an unbounded wait);
- engine side, ``CommandSource.next_batch(limit)`` hands the runner what was submitted, and
  ``EventSink.publish(events)`` fans one command's events out to whoever listens.
Nothing above this port knows whether a queue, or Redis, carries the messages.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

from exchange.domain.commands import AnyCommand
from exchange.domain.events import Event


class Overloaded(Exception):
    """The engine's command queue is full; the caller should answer 503 OVERLOADED."""


class Closed(Exception):
    """The bus no longer takes commands (shutting down, or the engine stopped)."""


class Unavailable(Exception):
    """The bus cannot reach the engine now (Redis down or the connection lost): 503 UNAVAILABLE.
    A command in flight when the connection dropped may or may not have been applied."""


class EngineTimeout(Exception):
    """No answer in time: 503 ENGINE_TIMEOUT. The engine drops a command it reads after its
    gateway gave up on it, so such a command is normally not applied (see bus/redis.py)."""


class Backoff:
    """Delays between reconnection attempts: 50 ms doubling up to 2 s; reset once connected."""

    def __init__(self, first: float = 0.05, cap: float = 2.0) -> None:
        self.first, self.cap, self.delay = first, cap, first

    async def wait(self) -> None:
        await asyncio.sleep(self.delay)
        self.delay = min(self.delay * 2, self.cap)

    def reset(self) -> None:
        self.delay = self.first


#: One submitted command and the future its events resolve.
Pending = tuple[AnyCommand, "asyncio.Future[list[Event]]"]
Listener = Callable[[Sequence[Event]], None]


class CommandBus(Protocol):
    def submit(self, command: AnyCommand) -> asyncio.Future[list[Event]]:
        """Queue ``command``; raises Overloaded or Closed at once instead of waiting."""
        ...

    def depth(self) -> int:
        """Commands waiting for the engine (for metrics and health)."""
        ...


class CommandSource(Protocol):
    async def next_batch(self, limit: int) -> list[Pending]:
        """Wait for at least one command, then take up to ``limit``; [] once closed and drained."""
        ...


class EventSink(Protocol):
    def publish(self, events: Sequence[Event]) -> None:
        """Deliver one command's events to every listener; never awaits a reader."""
        ...

    def add_listener(self, listener: Listener) -> None: ...


#: Answers a gateway's read-only query (kind, msgpack args) from the engine process's state.
QueryAnswer = Callable[[str, bytes], Awaitable[Any]]


class EngineSide(CommandSource, EventSink, Protocol):
    """The engine's end of the bus, with one lifetime whatever carries it (memory or Redis), so
    the code that runs the engine never asks which adapter it has. In order:
    ``claim`` -> (recovery, which calls ``remember`` per replayed command) -> ``start`` ->
    the runner drains ``next_batch`` -> ``close`` -> ``aclose`` -> (final snapshot, files
    closed) -> ``release``; ``abandon`` if the engine dies."""

    async def claim(self) -> None:
        """Before recovery: become the only engine this bus feeds (Redis: a lease; waits while
        another engine holds it)."""
        ...

    def remember(self, request_id: str | None, events: list[Event]) -> None:
        """The replay's answer to a journaled request, for a redelivered duplicate of it."""
        ...

    async def start(self, answer_query: QueryAnswer) -> None:
        """After recovery: begin taking commands (none is taken from an unrecovered state) and
        answer gateways' queries with ``answer_query``."""
        ...

    def close(self) -> None:
        """Stop taking commands; ``next_batch`` drains what was taken, then returns []."""
        ...

    def abandon(self, exc: BaseException) -> None:
        """The engine died: what still waits for it gets ``exc`` now, or is left for the next
        engine where the bus keeps it (Redis)."""
        ...

    async def aclose(self) -> None:
        """After the runner drained: send the last answers, then disconnect."""
        ...

    async def release(self) -> None:
        """Last: give up the claim (a standby engine must not read files this one still writes)."""
        ...

    def depth(self) -> int:
        """Commands waiting for the engine (for metrics and health)."""
        ...
