"""The tests' one wait (tests/waiting.py): it returns only once the condition holds, awaits an
async condition, and fails in time naming what never came."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from tests.waiting import until, until_sync


async def test_until_returns_the_first_true_value_once_the_condition_holds() -> None:
    checks = itertools.count(1)
    assert await until(lambda: (n := next(checks)) >= 3 and n) == 3


async def test_until_awaits_an_async_condition() -> None:
    ready = asyncio.Event()
    asyncio.get_running_loop().call_later(0.02, ready.set)

    async def is_set() -> bool:
        await asyncio.sleep(0)
        return ready.is_set()

    assert await until(is_set) is True


async def test_until_fails_after_the_timeout_with_its_message() -> None:
    with pytest.raises(TimeoutError, match=r"not true after 0\.05 s: the thing never came"):
        await until(lambda: False, timeout=0.05, message=lambda: "the thing never came")


def test_until_sync_polls_then_fails_naming_the_condition() -> None:
    checks = itertools.count(1)
    assert until_sync(lambda: next(checks) >= 3) is True

    def never() -> bool:
        return False

    with pytest.raises(TimeoutError, match="never"):
        until_sync(never, timeout=0.02)
