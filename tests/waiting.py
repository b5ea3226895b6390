"""Waiting for a condition, not for a time: ``until`` (async) and ``until_sync`` check a
condition every ``interval`` s and fail after ``timeout`` s, saying what never came true.

A condition is a callable that returns something true once the wait is over; for ``until`` it
may also return an awaitable (an ``async def``, or a lambda calling one), awaited at each check.
Both return the condition's first true value. ``message`` (text, or a callable giving it when
the wait fails) says what was awaited; by default the condition's name.

A fixed sleep in a test is either a condition waited for badly (slow when the machine is fast,
flaky when it is slow) or a time the behaviour needs; only the latter stays, with its reason.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any

Message = str | Callable[[], str] | None


async def until(
    condition: Callable[[], Any | Awaitable[Any]],
    timeout: float = 5.0,
    interval: float = 0.005,
    message: Message = None,
) -> Any:
    """Check ``condition`` until it is true (awaiting what it returns if that is awaitable)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = condition()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        if loop.time() >= deadline:
            raise TimeoutError(_failure(condition, timeout, message))
        await asyncio.sleep(interval)


def until_sync(
    condition: Callable[[], Any], timeout: float = 5.0, interval: float = 0.005, message: Message = None
) -> Any:
    """``until`` for code without an event loop (threads, processes, Playwright's sync API)."""
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() >= deadline:
            raise TimeoutError(_failure(condition, timeout, message))
        time.sleep(interval)
    return value


def _failure(condition: Callable[[], Any], timeout: float, message: Message) -> str:
    what = message() if callable(message) else message
    return f"not true after {timeout:g} s: {what or getattr(condition, '__qualname__', condition)}"
