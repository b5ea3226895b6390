"""What stopped the engine, and what to do about it: the CLI's process stops (SIGTERM to
itself, so shutdown runs as for Ctrl-C) and exits non-zero; a test's app just records it."""

from __future__ import annotations

import os
import signal


class Crashes:
    def __init__(self, *, stop_process: bool) -> None:
        self.stop_process = stop_process
        self.errors: list[BaseException] = []

    def __bool__(self) -> bool:
        return bool(self.errors)

    def record(self, exc: BaseException) -> None:
        self.errors.append(exc)
        if self.stop_process:
            os.kill(os.getpid(), signal.SIGTERM)
