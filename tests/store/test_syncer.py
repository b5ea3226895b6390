"""The journal's sync child process: answers in order, survives a roll, fails loudly."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from exchange.store.journal import JournalError
from exchange.store.syncer import SyncProcess
from tests.waiting import until_sync


@pytest.fixture
async def syncer() -> AsyncIterator[SyncProcess]:
    process = SyncProcess.start()
    yield process
    process.close()


def _append(path: Path, data: bytes) -> None:
    with path.open("ab") as f:
        f.write(data)


async def test_syncs_answer_in_order_across_segments(syncer: SyncProcess, tmp_path: Path) -> None:
    first, second = tmp_path / "journal-1.log", tmp_path / "journal-2.log"
    _append(first, b"a" * 100)
    await asyncio.wait_for(syncer.sync(first), 5)
    _append(second, b"b" * 100)
    futures = [syncer.sync(second) for _ in range(3)]  # more than one in flight still pairs up
    answered: list[int] = []
    for i, future in enumerate(futures):
        future.add_done_callback(lambda _, i=i: answered.append(i))
    await asyncio.wait_for(asyncio.gather(*futures), 5)
    await asyncio.sleep(0)  # done callbacks run one turn after the results are set
    assert answered == [0, 1, 2]


async def test_a_failed_sync_fails_the_waiter_and_every_later_sync(
    syncer: SyncProcess, tmp_path: Path
) -> None:
    missing = tmp_path / "not-there.log"
    with pytest.raises(JournalError, match=r"not-there\.log"):
        await asyncio.wait_for(syncer.sync(missing), 5)
    with pytest.raises(JournalError):
        syncer.sync(tmp_path)


async def test_a_dead_child_fails_what_waits_instead_of_hanging(syncer: SyncProcess, tmp_path: Path) -> None:
    path = tmp_path / "journal-1.log"
    _append(path, b"x")
    await asyncio.wait_for(syncer.sync(path), 5)
    os.kill(syncer._proc.pid, signal.SIGKILL)
    with pytest.raises(JournalError, match="the sync process is gone"):
        await asyncio.wait_for(syncer.sync(path), 5)


async def test_ctrl_c_leaves_the_child_to_the_servers_shutdown(syncer: SyncProcess, tmp_path: Path) -> None:
    path = tmp_path / "journal-1.log"
    _append(path, b"x")
    await asyncio.wait_for(syncer.sync(path), 5)  # the child is up and has set its handlers
    os.kill(syncer._proc.pid, signal.SIGINT)
    await asyncio.wait_for(syncer.sync(path), 5)


async def test_close_ends_the_child(tmp_path: Path) -> None:
    process = SyncProcess.start()
    process.close()
    assert process._proc.returncode == 0
    with pytest.raises(JournalError, match="closed"):
        process.sync(tmp_path / "journal-1.log")


def test_the_child_leaves_when_the_server_dies() -> None:
    """A killed server leaves no sync process behind: the child ends with its stdin."""
    code = (
        "import asyncio, os\n"
        "from exchange.store.syncer import SyncProcess\n"
        "async def main():\n"
        "    print(SyncProcess.start()._proc.pid, flush=True)\n"
        "    os._exit(0)  # no close(), like a SIGKILL\n"
        "asyncio.run(main())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=30, check=True)
    pid = int(out.stdout)
    until_sync(
        lambda: not _running(pid), timeout=10, interval=0.02, message="the sync child outlived the server"
    )


def _running(pid: int) -> bool:
    """Alive and not a zombie (in a container PID 1 may never reap an orphan that exited)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1][0]
    except FileNotFoundError:
        return False
    return state != "Z"
