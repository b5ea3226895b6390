"""A crowd of WebSocket subscribers in its own process, for ``bench.ws``.

``python -m bench.ws_subscribers --port P --n 1000 --streams depth@SOL_USDC@100ms,trade@SOL_USDC``
opens N connections to ``/ws``, subscribes each to the streams, prints ``{"ready": n, ...}`` on
stdout once every SUBSCRIBE is answered, then records until SIGTERM (or ``--duration``) and
prints one JSON summary line. For every ``trade`` frame: lag = local wall clock (ms) - the
trade's ``T`` (server ms; same machine, same clock; ``T`` is truncated to the ms, so a lag
reads up to 1 ms high). For ``depth`` frames, the docs/API.md recipe: after the ``depthSnapshot``
a diff with ``u <= `` the last id is stale (already in it: dropped, counted), a gap is ``U >
last id + 1``. ``--count-only`` skips JSON decoding and just counts frames (saturation).

The client is a lean ``asyncio.Protocol`` (handshake written by hand, frames parsed from the
byte stream, pings answered) rather than aiohttp's ``ws.receive()``: one callback per read, no
task wake-up per message, so the crowd measures the server, not its own reader.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import resource
import signal
import sys
import time
from pathlib import Path
from typing import Any

import orjson

TEXT, CLOSE, PING, PONG = 1, 8, 9, 10


def _frame(op: int, payload: bytes) -> bytes:
    """A client frame: FIN, masked with the all-zero key (valid, and the payload stays as is)."""
    n = len(payload)
    if n < 126:
        head = bytes((0x80 | op, 0x80 | n))
    elif n < 65536:
        head = bytes((0x80 | op, 0x80 | 126)) + n.to_bytes(2, "big")
    else:
        head = bytes((0x80 | op, 0x80 | 127)) + n.to_bytes(8, "big")
    return head + b"\0\0\0\0" + payload


class Sub(asyncio.Protocol):
    def __init__(
        self, host: str, port: int, streams: list[str], count_only: bool, ready: asyncio.Event
    ) -> None:
        key = base64.b64encode(os.urandom(16)).decode()
        self.hello = (
            f"GET /ws HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
        self.subscribe = _frame(TEXT, orjson.dumps({"method": "SUBSCRIBE", "params": streams, "id": 1}))
        self.count_only, self.ready = count_only, ready
        self.transport: asyncio.Transport | None = None
        self.buf, self.upgraded, self.answered = bytearray(), False, False
        self.lags: list[float] = []
        self.trades = self.depth = self.gaps = self.stale = self.frames = 0
        self.last_u: int | None = None
        self.first_ms = self.last_ms = 0.0
        self.close_code: int | None = None
        self.lost = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(self.hello)

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self.ready.set()

    def data_received(self, data: bytes) -> None:
        now = time.time() * 1000.0
        self.buf += data
        if not self.upgraded:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            if not self.buf.startswith(b"HTTP/1.1 101"):
                raise ConnectionError(bytes(self.buf[:200]).decode(errors="replace"))
            del self.buf[: end + 4]
            self.upgraded = True
            assert self.transport is not None
            self.transport.write(self.subscribe)
        self._frames(now)

    def _frames(self, now: float) -> None:
        buf, off, size = self.buf, 0, len(self.buf)
        while size - off >= 2:
            length, pos = buf[off + 1] & 0x7F, off + 2
            if length >= 126:
                width = 2 if length == 126 else 8
                if size - pos < width:
                    break
                length, pos = int.from_bytes(buf[pos : pos + width], "big"), pos + width
            if size - pos < length:
                break
            self._on_frame(buf[off] & 0x0F, bytes(buf[pos : pos + length]), now)
            off = pos + length
        del buf[:off]

    def _on_frame(self, op: int, payload: bytes, now: float) -> None:
        if op == TEXT:
            if payload.startswith(b'{"stream"'):
                self._on_stream(payload, now)
            elif not self.answered:
                self.answered = True
                self.ready.set()
        elif op == PING and self.transport is not None:
            self.transport.write(_frame(PONG, payload))
        elif op == CLOSE:
            self.close_code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
            if self.transport is not None:
                self.transport.close()

    def _on_stream(self, payload: bytes, now: float) -> None:
        if payload.find(b'"depthSnapshot"', 0, 100) >= 0:
            self.last_u = None if self.count_only else orjson.loads(payload)["data"]["u"]
            return
        self.frames += 1
        self.first_ms = self.first_ms or now
        self.last_ms = now
        if self.count_only:
            return
        data = orjson.loads(payload)["data"]
        kind = data["e"]
        if kind == "trade":
            self.trades += 1
            self.lags.append(now - data["T"])
        elif kind == "depth":
            if self.last_u is not None and data["u"] <= self.last_u:
                self.stale += 1  # already in the snapshot (docs/API.md: drop it)
                return
            self.depth += 1
            self.gaps += self.last_u is not None and data["U"] > self.last_u + 1
            self.last_u = data["u"]


def _at(values: list[float], q: float) -> float:
    return round(values[min(len(values) - 1, int(q * len(values)))], 3) if values else 0.0


def summary(subs: list[Sub], cpu_s: float, wall_s: float) -> dict[str, Any]:
    lags = sorted(lag for s in subs for lag in s.lags)
    p99s = sorted(_at(sorted(s.lags), 0.99) for s in subs if s.lags)
    codes: dict[str, int] = {}
    for s in subs:
        if s.close_code is not None or s.lost:
            codes[str(s.close_code)] = codes.get(str(s.close_code), 0) + 1
    frames = sum(s.frames for s in subs)
    first = min((s.first_ms for s in subs if s.frames), default=0.0)
    last = max((s.last_ms for s in subs), default=0.0)
    lag = {"p50": _at(lags, 0.5), "p99": _at(lags, 0.99), "p999": _at(lags, 0.999), "max": _at(lags, 1.0)}
    return {
        "n": len(subs), "closed": codes, "frames": frames, "first_ms": first, "last_ms": last,
        "frames_per_s": round(frames / ((last - first) / 1000), 1) if last > first else 0.0,
        "lag_ms": lag, "lag_samples": len(lags),
        "per_sub_p99_ms": {"median": _at(p99s, 0.5), "max": _at(p99s, 1.0)},
        "trades_per_sub": [s.trades for s in subs], "depth_per_sub": [s.depth for s in subs],
        "last_u_per_sub": [s.last_u for s in subs], "open_per_sub": [not s.lost for s in subs],
        "gaps": sum(s.gaps for s in subs), "stale": sum(s.stale for s in subs), "cpu_s": round(cpu_s, 3),
        "wall_s": round(wall_s, 3), "cpu_share": round(cpu_s / wall_s, 3) if wall_s else 0.0,
    }  # fmt: skip


async def _open(args: argparse.Namespace, streams: list[str]) -> list[Sub]:
    loop, gate = asyncio.get_running_loop(), asyncio.Semaphore(64)

    async def one() -> Sub:
        ready = asyncio.Event()
        async with gate:
            _, sub = await loop.create_connection(
                lambda: Sub(args.host, args.port, streams, args.count_only, ready), args.host, args.port
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(ready.wait(), 30.0)
        return sub

    return list(await asyncio.gather(*(one() for _ in range(args.n))))


async def run(args: argparse.Namespace) -> dict[str, Any]:
    subs = await _open(args, args.streams.split(","))
    loop, stop = asyncio.get_running_loop(), asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    ready = sum(s.answered and not s.lost for s in subs)
    print(json.dumps({"ready": ready, "n": len(subs)}), flush=True)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), args.duration or None)
    result = summary(subs, time.process_time() - cpu0, time.perf_counter() - wall0)
    for s in subs:
        if s.transport is not None:
            s.transport.close()
    return result


# -- the benchmark's side --------------------------------------------------------------------
class Crowd:
    """This script as a subprocess of ``bench.ws``: ``start`` returns once it is ready."""

    def __init__(self, proc: asyncio.subprocess.Process, ready: int) -> None:
        self.proc, self.ready = proc, ready

    @classmethod
    async def start(cls, port: int, n: int, streams: str, *extra: str) -> Crowd:
        args = ["-m", "bench.ws_subscribers", "--port", str(port), "--n", str(n), "--streams", streams]
        proc = await asyncio.create_subprocess_exec(
            sys.executable, *args, *extra, stdout=asyncio.subprocess.PIPE, cwd=Path(__file__).parents[1]
        )
        assert proc.stdout is not None
        return cls(proc, json.loads(await proc.stdout.readline())["ready"])

    async def stop(self) -> dict[str, Any]:
        """SIGTERM, then the summary it prints."""
        assert self.proc.stdout is not None
        self.proc.send_signal(signal.SIGTERM)
        line = await self.proc.stdout.readline()
        await self.proc.wait()
        return dict(json.loads(line))


def delivery(s: dict[str, Any], trades: int, final_u: int) -> dict[str, Any]:
    """A summary against what every open reader should have got: ``trades`` trade frames, and
    depth diffs without a gap up to update id ``final_u`` (as many as the best-served reader)."""
    open_ = [i for i, ok in enumerate(s["open_per_sub"]) if ok]
    depth = max((s["depth_per_sub"][i] for i in open_), default=0)
    return {
        "subscribers": s["n"], "open_at_end": len(open_), "closed": s["closed"], "lag_ms": s["lag_ms"],
        "per_sub_p99_ms": s["per_sub_p99_ms"], "trades_expected_per_sub": trades,
        "trade_msgs_received": sum(s["trades_per_sub"]), "trade_msgs_expected": trades * s["n"],
        "dropped": sum(trades - s["trades_per_sub"][i] for i in open_), "depth_msgs_per_sub": depth,
        "depth_dropped": sum(depth - s["depth_per_sub"][i] for i in open_), "gaps": s["gaps"],
        "stale_dropped": s["stale"], "depth_complete": all(s["last_u_per_sub"][i] == final_u for i in open_),
        "subscriber_cpu": s["cpu_share"],
    }  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.ws_subscribers", description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--n", type=int, default=1000)
    p.add_argument("--streams", default="depth@SOL_USDC@100ms,trade@SOL_USDC")
    p.add_argument("--duration", type=float, default=0.0, help="stop after S seconds (0: on SIGTERM only)")
    p.add_argument("--count-only", action="store_true", help="count frames, decode nothing")
    args = p.parse_args(argv)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, args.n + 256)), hard))
    print(json.dumps(asyncio.run(run(args))), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
