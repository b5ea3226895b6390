"""A local cluster: one engine process and N gateway processes on one Redis.

``python -m exchange.devtools.cluster`` (``make run-cluster``) uses the Redis at ``--redis`` (default
redis://127.0.0.1:6379), starting a ``redis-server`` there if none answers, then runs
``serve --role engine`` (operator routes on ``--engine-port``) and ``serve --role gateway`` on
each ``--gateway-port`` (default 8081 and 8082), all on the same data directory, until Ctrl-C.
Tests and benchmarks drive the same ``Cluster`` class (kill or restart any process).
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit


def redis_answers(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 6379), 0.5) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def wait_healthy(url: str, timeout: float = 30.0, proc: subprocess.Popen[bytes] | None = None) -> None:
    """Until ``url`` answers 200 (a gateway: only once it reaches the engine through Redis)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the process for {url} exited with {proc.returncode}")
        with (
            contextlib.suppress(urllib.error.URLError, OSError),
            urllib.request.urlopen(url + "/healthz", timeout=2) as r,
        ):
            if r.status == 200:
                return
        time.sleep(0.05)
    raise RuntimeError(f"{url} did not become healthy in {timeout:g} s")


def serve_command(port: int, data_dir: Path | str, *options: str) -> list[str]:
    """``python -m exchange serve`` on ``port`` with ``data_dir``, then ``options``."""
    return [
        sys.executable,
        "-m",
        "exchange",
        "serve",
        "--port",
        str(port),
        "--data-dir",
        str(data_dir),
        *options,
    ]


class Cluster:
    def __init__(
        self,
        redis_url: str,
        data_dir: Path,
        gateway_ports: Sequence[int],
        engine_port: int,
        *,
        prefix: str = "ex",
        args: Sequence[str] = ("--no-bot",),
        log_dir: Path | None = None,
    ) -> None:
        self.redis_url, self.data_dir, self.prefix, self.args = redis_url, data_dir, prefix, list(args)
        self.gateway_ports, self.engine_port = list(gateway_ports), engine_port
        self.log_dir = log_dir or data_dir
        self.engine: subprocess.Popen[bytes] | None = None
        self.gateways: list[subprocess.Popen[bytes] | None] = [None] * len(self.gateway_ports)

    def url(self, gateway: int = 0) -> str:
        return f"http://127.0.0.1:{self.gateway_ports[gateway]}"

    @property
    def engine_url(self) -> str:
        return f"http://127.0.0.1:{self.engine_port}"

    def _spawn(self, role: str, port: int) -> subprocess.Popen[bytes]:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        # One demo bot per cluster at most (its users and keys are shared): the first gateway's.
        only_first = ["--no-bot"] if role == "gateway" and port != self.gateway_ports[0] else []
        cmd = serve_command(port, self.data_dir, "--role", role, "--bus", self.redis_url,
                            "--bus-prefix", self.prefix, *self.args, *only_first)  # fmt: skip
        with (self.log_dir / f"{role}-{port}.log").open("ab") as log:  # the child keeps its copy
            return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)

    def start(self, timeout: float = 60.0) -> None:
        """The engine, then every gateway (in parallel); all stopped again if one fails."""
        try:
            self.start_engine(timeout)
            for i in range(len(self.gateway_ports)):
                self.gateways[i] = self._spawn("gateway", self.gateway_ports[i])
            for i in range(len(self.gateway_ports)):
                wait_healthy(self.url(i), timeout, self.gateways[i])
        except BaseException:
            self.stop()
            raise

    def start_engine(self, timeout: float = 60.0) -> None:
        self.engine = self._spawn("engine", self.engine_port)
        wait_healthy(self.engine_url, timeout, self.engine)

    def start_gateway(self, i: int, timeout: float = 60.0, *, wait: bool = True) -> None:
        """Start gateway ``i``; with ``wait``, until it is healthy (which needs the engine)."""
        self.gateways[i] = self._spawn("gateway", self.gateway_ports[i])
        if wait:
            wait_healthy(self.url(i), timeout, self.gateways[i])

    def stop_engine(self, sig: int = signal.SIGTERM) -> None:
        _stop(self.engine, sig)
        self.engine = None

    def stop_gateway(self, i: int, sig: int = signal.SIGTERM) -> None:
        _stop(self.gateways[i], sig)
        self.gateways[i] = None

    def stop(self) -> None:
        for i in range(len(self.gateways)):
            self.stop_gateway(i)
        self.stop_engine()


def _stop(proc: subprocess.Popen[bytes] | None, sig: int) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m exchange.devtools.cluster")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379")
    parser.add_argument("--data-dir", default="data")
    parser.add_argument("--engine-port", type=int, default=8090)
    parser.add_argument("--gateway-port", type=int, action="append", help="repeat per gateway (8081, 8082)")
    args, serve_args = parser.parse_known_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)  # SIGTERM stops the cluster as Ctrl-C does
    signal.signal(signal.SIGINT, _interrupt)  # also when started in the background (SIGINT ignored)
    data = Path(args.data_dir)
    redis = None
    if not redis_answers(args.redis):
        port = urlsplit(args.redis).port or 6379
        (data / "redis").mkdir(parents=True, exist_ok=True)
        print(f"no Redis answers at {args.redis}: starting redis-server on port {port}", flush=True)
        redis = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                  "--appendonly", "no", "--dir", str(data / "redis")])  # fmt: skip
        deadline = time.monotonic() + 10
        while not redis_answers(args.redis) and time.monotonic() < deadline:
            time.sleep(0.05)
    cluster = Cluster(
        args.redis, data, args.gateway_port or [8081, 8082], args.engine_port, args=serve_args
    )  # the demo bot runs on the first gateway unless --no-bot
    try:
        cluster.start()
        gateways = ", ".join(cluster.url(i) for i in range(len(cluster.gateway_ports)))
        print(f"engine on {cluster.engine_url}; gateways on {gateways}; Ctrl-C stops", flush=True)
        while all(p is not None and p.poll() is None for p in (cluster.engine, *cluster.gateways)):
            time.sleep(0.5)
        print("a process of the cluster exited; stopping the others", flush=True)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        cluster.stop()
        if redis is not None:
            _stop(redis, signal.SIGTERM)


if __name__ == "__main__":
    sys.exit(main())
