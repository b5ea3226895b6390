"""The in-process bus: a bounded asyncio.Queue of commands and synchronous fan-out of events.

On one node this replaces Redis: submit is a ``put_nowait`` (about 10 us end to end), a full
queue fails fast with ``Overloaded``, and listeners are plain callables run by the engine task
right after each command (they must not block; the WebSocket hub only enqueues).

Idle fast path: when the queue is empty the engine task is parked in ``get()`` with nothing in
flight, so a command can be processed at once in the caller's own turn (``attach_inline``)
without changing the order of anything: that saves two event-loop turns per request when the
exchange is not busy. Under load the queue is not empty and commands batch as usual.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from exchange.bus.base import Closed, Listener, Overloaded, Pending
from exchange.domain.commands import AnyCommand
from exchange.domain.events import Event


class MemoryBus:
    """Both sides of the bus port in one object; also the test double for other adapters."""

    def __init__(self, maxsize: int = 10_000) -> None:
        # One slot above the bound is kept for the end-of-stream sentinel that close() puts.
        self._queue: asyncio.Queue[Pending | None] = asyncio.Queue(maxsize + 1)
        self._maxsize = maxsize
        self._listeners: list[Listener] = []
        self._closed = False
        self._ended = False
        self._inline: Callable[[list[Pending]], None] | None = None

    def attach_inline(self, process: Callable[[list[Pending]], None] | None) -> None:
        """Let ``submit`` hand a command straight to ``process`` while the queue is empty."""
        self._inline = process

    # -- gateway side ----------------------------------------------------------------------
    def submit(self, command: AnyCommand) -> asyncio.Future[list[Event]]:
        if self._closed:
            raise Closed("the exchange is shutting down")
        future: asyncio.Future[list[Event]] = asyncio.get_running_loop().create_future()
        queue = self._queue
        if self._inline is not None and queue.empty():
            try:
                self._inline([(command, future)])
            except BaseException:
                self.close()  # the engine is broken: refuse everything from now on
                if future.done() and not future.cancelled():
                    future.exception()  # the caller gets the exception itself, not the future
                raise
            return future
        if queue.qsize() >= self._maxsize:
            raise Overloaded("the engine queue is full")
        queue.put_nowait((command, future))
        return future

    def depth(self) -> int:
        return self._queue.qsize()

    def close(self) -> None:
        """Stop taking commands; the runner drains what is queued, then sees the end."""
        if not self._closed:
            self._closed = True
            self._inline = None
            self._queue.put_nowait(None)

    def fail_queued(self, exc: BaseException) -> None:
        """The engine died: every command still queued gets ``exc`` instead of waiting forever."""
        queue = self._queue
        while not queue.empty():
            item = queue.get_nowait()
            if item is not None and not item[1].done():
                item[1].set_exception(exc)

    # -- engine side -----------------------------------------------------------------------
    async def next_batch(self, limit: int) -> list[Pending]:
        if self._ended:
            return []
        queue = self._queue
        item = await queue.get()
        batch: list[Pending] = []
        while item is not None:
            batch.append(item)
            if len(batch) >= limit or queue.empty():
                return batch
            item = queue.get_nowait()
        self._ended = True
        return batch

    def publish(self, events: Sequence[Event]) -> None:
        for listener in self._listeners:
            listener(events)

    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)
