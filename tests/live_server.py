"""A real server process for a test module: ``python -m exchange serve`` on a free port with its
own data directory, exactly as a trader who ran `make run` gets it (journal fsync off)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from exchange.devtools.cluster import serve_command, wait_healthy
from exchange.devtools.redis_server import free_port

ROOT = Path(__file__).resolve().parents[1]


class LiveServer:
    """``python -m exchange serve`` on a free port; stop() sends SIGTERM and expects exit 0."""

    def __init__(self, data_dir: Path, *extra: str, port: int | None = None) -> None:
        self.data_dir, self.extra = data_dir, extra
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = data_dir.parent / f"server-{self.port}.log"

    def start(self) -> LiveServer:
        env = {**os.environ, "EXCHANGE_UI_DEV": "1"}
        cmd = serve_command(self.port, self.data_dir, "--fsync", "off", *self.extra)
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_healthy(self.url, 30, self.proc)
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}: {self.log.read_text()}") from None
        return self

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        code = self.proc.wait(timeout=30)
        assert code == 0, f"the server exited with {code} on SIGTERM: {self.log.read_text()}"
