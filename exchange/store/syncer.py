"""The journal's group-commit sync, done by a child process instead of a thread.

Why a process: a sync thread needs the GIL twice per batch (to start, and to hand the result
back), and under load the event loop holds it: the thread waits for it (sync latency grew from
~0.1 to ~0.5 ms in a saturated loop) and every hand-over costs the loop a forced GIL switch.
bench.durability measured ``--fsync batch`` at 0.78x the throughput of no journal that way.
The child (``sync_child``) has its own interpreter: the loop writes the segment's path to a
pipe and is woken by the answer like by any socket, with no lock shared between them.

One sync per request, answered in order; the runner has one in flight at a time. If the child
dies or reports a failed sync, every waiting and later ``sync`` fails with ``JournalError``: the
runner then stops before acknowledging anything the journal may not hold.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import subprocess
import sys
from pathlib import Path

from exchange.store.journal import JournalError

_CHILD = [sys.executable, "-m", "exchange.store.sync_child"]


class SyncProcess:
    """Build it with ``SyncProcess.start()`` inside the running loop; ``close()`` when done."""

    def __init__(self, proc: subprocess.Popen[bytes], loop: asyncio.AbstractEventLoop) -> None:
        assert proc.stdin is not None and proc.stdout is not None
        self._proc, self._loop = proc, loop
        self._requests, self._answers = proc.stdin.fileno(), proc.stdout.fileno()
        self._waiting: collections.deque[asyncio.Future[None]] = collections.deque()
        self._partial = b""
        self._error: str | None = None
        os.set_blocking(self._answers, False)
        loop.add_reader(self._answers, self._on_answers)

    @classmethod
    def start(cls) -> SyncProcess:
        proc = subprocess.Popen(_CHILD, stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0)
        return cls(proc, asyncio.get_running_loop())

    def sync(self, path: Path) -> asyncio.Future[None]:
        """Resolves once every write made to ``path`` so far is on disk."""
        if self._error is not None:
            raise JournalError(self._error)
        name = os.fsencode(path)
        if b"\n" in name:
            raise JournalError(f"{path!r}: a journal path must not contain a newline")
        future = self._loop.create_future()
        self._waiting.append(future)
        try:
            os.write(self._requests, name + b"\n")  # a few bytes, one request in flight: never blocks
        except OSError as exc:
            self._fail(f"the sync process is gone ({exc})")
        return future

    def _on_answers(self) -> None:
        try:
            data = os.read(self._answers, 4096)
        except BlockingIOError:
            return
        except OSError as exc:
            data, why = b"", str(exc)
        else:
            code = self._proc.poll()
            why = "the sync process is gone" + (f" (exit code {code})" if code is not None else "")
        if not data:
            self._fail(why)
            return
        *lines, self._partial = (self._partial + data).split(b"\n")
        for line in lines:
            if line:  # the child's error text; it exits after it
                self._fail(line.decode(errors="replace"))
                return
            future = self._waiting.popleft()
            if not future.done():
                future.set_result(None)

    def _fail(self, why: str) -> None:
        if self._error is None:
            self._error = why
            self._loop.remove_reader(self._answers)
        while self._waiting:
            future = self._waiting.popleft()
            if not future.done():
                future.set_exception(JournalError(self._error))

    def close(self) -> None:
        """End the child (it exits when its stdin closes) and fail whatever still waits."""
        if self._error is None:
            self._loop.remove_reader(self._answers)
            self._error = "the journal's sync process is closed"
        self._fail(self._error)
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._proc.stdin.close()
        try:
            self._proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        with contextlib.suppress(OSError):
            self._proc.stdout.close()
