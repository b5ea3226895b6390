"""What durability costs: REST with and without the journal, snapshots of big books, restart time.

``python -m bench.durability --json``, one run, progress on stderr, one JSON object on stdout:
1. ``rest``: bench.rest's 1-client place + cancel round trips and 32-client req/s against servers
   started one after another with ``--fsync batch``, ``--fsync off``, ``--no-journal`` (fresh data
   dir each, ``--no-bot``), ``--rounds`` times in rotated order; medians and ratios to no-journal.
2. ``snapshot``: in a child process of its own (its RSS is the engine's), N resting orders on both
   sides of SOL_USDC and ETH_USDC: RSS, the fork pause and the forked child's snapshot write (as
   the snapshotter does), then the snapshot built, encoded, written, read back and restored here.
3. ``restart``: a journal of N commands (onramps, then place + cancel pairs with one place in ten
   left resting), ``exchange serve`` on it timed from spawn to /healthz 200; SIGTERM (a final
   snapshot), then a second start from that snapshot.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import gc
import itertools
import json
import os
import platform
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec

from bench import rest
from bench.floor import command as floor_command
from bench.lean_http import Connection, Signer, plain_request, wait_ready
from bench.workload import FUNDING, START
from exchange.client import Client, ExchangeError
from exchange.config import load_venue
from exchange.devtools import build
from exchange.devtools.cluster import serve_command
from exchange.devtools.redis_server import free_port
from exchange.domain.commands import AnyCommand, CancelOrder, Onramp, OrderType, PlaceOrder, Side
from exchange.domain.engine import Engine
from exchange.domain.markets import Market
from exchange.service.marketdata import MarketData
from exchange.service.snapshotter import Snapshot
from exchange.service.userdata import UserData
from exchange.store import snapshot as snapfile
from exchange.store.journal import Journal

Result = dict[str, Any]
HOST = rest.HOST
HEALTHZ = plain_request("GET", "/healthz", HOST)
FLOOR_PROBE = plain_request("POST", rest.ORDER_PATH, HOST, b"{}")
MODES = {"batch": ["--fsync", "batch"], "off": ["--fsync", "off"], "no_journal": ["--no-journal"]}
VS = ("batch", "off")  # the modes compared with no_journal
SYMBOLS = ("SOL_USDC", "ETH_USDC")
LEVELS = 2_000  # price levels per side and market the resting orders spread over
USERS = 300
REST_FLAGS = (
    ("--pairs", 2000),
    ("--warmup", 200),
    ("--clients", 32),
    ("--duration", 5.0),
    ("--warmup-s", 1.0),
)
BATCH = 500  # commands per journal record
REPLAYED = re.compile(r"replayed (\d+) journaled commands in ([\d.]+) s \((\d+)/s\)")
RESTORED = re.compile(r"restored the snapshot at seq (\d+) in ([\d.]+) s")


def _log(msg: str) -> None:
    print(f"[bench.durability] {msg}", file=sys.stderr, flush=True)


def _status(pid: int | str = "self") -> dict[str, float]:
    """VmRSS and VmHWM (peak) of a process in MB, from /proc/PID/status."""
    fields = (line.split() for line in Path(f"/proc/{pid}/status").read_text().splitlines())
    return {f[0][:-1]: round(int(f[1]) / 1024, 1) for f in fields if f[0] in ("VmRSS:", "VmHWM:")}


# -- command streams -----------------------------------------------------------------------
def _onramps(users: int) -> list[AnyCommand]:
    assets = ("USDC", "SOL", "ETH")
    return [Onramp(user_id=u, asset=a, amount=FUNDING[a]) for u in range(1, users + 1) for a in assets]


def _places(users: int, seed: int) -> Iterator[PlaceOrder]:
    """Endless non-crossing GTC limits: buys under the start mid, sells above it, 1..LEVELS ticks."""
    rng = random.Random(seed)
    while True:
        symbol = SYMBOLS[rng.getrandbits(1)]
        mid, lo, hi = START[symbol]
        buy, offset = rng.random() < 0.5, rng.randint(1, LEVELS)
        yield PlaceOrder(
            user_id=rng.randint(1, users), symbol=symbol, side=Side.BUY if buy else Side.SELL,
            type=OrderType.LIMIT, price=mid - offset if buy else mid + offset, quantity=rng.randint(lo, hi),
        )  # fmt: skip


def _journal_stream(users: int) -> Iterator[AnyCommand]:
    """Onramps, then each place followed by its cancel, but every tenth place stays resting.
    Every place is valid and funded, so the k-th one gets order id k."""
    yield from _onramps(users)
    for k, place in enumerate(_places(users, seed=2), 1):
        yield place
        if k % 10:
            yield CancelOrder(user_id=place.user_id, symbol=place.symbol, order_id=k)


def _stamped(cmds: Iterator[AnyCommand], ts: int) -> Iterator[AnyCommand]:
    """seq 1, 2, ... and a ts that advances 1 ms per 1,000 commands."""
    replace = msgspec.structs.replace
    return (replace(cmd, seq=seq, ts=ts + seq // 1000) for seq, cmd in enumerate(cmds, 1))


# -- 2. snapshots of a big book (in a child process of its own) ----------------------------
def _filled_engine(n: int, markets: dict[str, Market]) -> tuple[Engine, float]:
    engine = Engine(load_venue().assets, markets)
    cmds = itertools.chain(_onramps(USERS), itertools.islice(_places(USERS, seed=1), n))
    started = time.perf_counter()
    for cmd in _stamped(cmds, time.time_ns() // 1_000_000):
        engine.handle(cmd)
    if len(engine.orders) != n:
        raise RuntimeError(f"{len(engine.orders)} orders rest, expected {n}")
    return engine, time.perf_counter() - started


def _take(engine: Engine, markets: dict[str, Market]) -> Snapshot:
    """As app._take_snapshot (state hash included), with empty market and user data (no server here)."""
    state, data = engine.snapshot(), (MarketData(markets).snapshot(), UserData().snapshot())
    return Snapshot(engine.last_seq, 0, state, *data, engine_hash=snapfile.state_hash(state))


def _fork_once(engine: Engine, markets: dict[str, Market], directory: Path) -> Result:
    """What Snapshotter._fork does: the parent's pause is fork() itself; the child writes and exits."""
    started = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            snapfile.write(directory, _take(engine, markets))
            code = 0
        finally:
            os._exit(code)
    paused = time.perf_counter() - started
    _, status, usage = os.wait4(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"the snapshot child failed (status {status})")
    child_s, peak = time.perf_counter() - started, usage.ru_maxrss >> 10
    return {"fork_ms": round(paused * 1e3, 2), "child_s": round(child_s, 2), "child_peak_rss_mb": peak}


def _in_process(engine: Engine, markets: dict[str, Market], directory: Path) -> Result:
    """Build (with its hash), write (encode, write, fsync, rename), decode, restore + check (app._restore)."""
    t0 = time.perf_counter()
    snap = _take(engine, markets)
    t1 = time.perf_counter()
    size = snapfile.write(directory, snap).stat().st_size
    t2 = time.perf_counter()
    del snap
    loaded = snapfile.load_latest(directory, Snapshot)
    t3 = time.perf_counter()
    assert loaded is not None
    fresh = Engine(engine.assets, engine.markets)
    fresh.restore(loaded.engine)
    if snapfile.state_hash(fresh.snapshot()) != loaded.engine_hash:
        raise RuntimeError("the restored engine does not hash as the snapshot")
    seconds = {"build_s": t1 - t0, "write_s": t2 - t1, "total_s": t2 - t0, "decode_s": t3 - t2}
    seconds["restore_s"] = time.perf_counter() - t3
    return {k: round(v, 3) for k, v in seconds.items()} | {"file_mb": round(size / 2**20, 1)}


def snapshot_child(n: int) -> Result:
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)  # as `serve` sets it
    base = _status()["VmRSS"]
    markets = load_venue().markets
    engine, place_s = _filled_engine(n, markets)
    gc.collect()
    rss = _status()["VmRSS"]
    out: Result = {"orders": n, "place_s": round(place_s, 2), "rss_base_mb": base, "rss_mb": rss}
    out["rss_per_order_bytes"] = round((rss - base) * 2**20 / n)
    with tempfile.TemporaryDirectory(prefix="bench-snap-") as tmp:
        forks = [_fork_once(engine, markets, Path(tmp)) for _ in range(3)]
        out |= {"fork": forks, "fork_ms_median": statistics.median(f["fork_ms"] for f in forks)}
        out["in_process"] = _in_process(engine, markets, Path(tmp))
    out["rss_peak_mb"] = _status()["VmHWM"]
    return out


def snapshot_part(n: int) -> Result:
    _log(f"snapshot: {n:,} resting orders, in a child process ...")
    cmd = [sys.executable, "-m", "bench.durability", "--snapshot-child", str(n)]
    done = subprocess.run(cmd, cwd=rest.ROOT, stdout=subprocess.PIPE, check=True)
    result: Result = json.loads(done.stdout)
    _log(f"snapshot {n:,}: {result}")
    return result


# -- 3. restart from a journal, then from the final snapshot -------------------------------
def _write_journal(directory: Path, n: int) -> Result:
    started = time.perf_counter()
    stream = _stamped(itertools.islice(_journal_stream(USERS), n), time.time_ns() // 1_000_000)
    with Journal.open(directory, fsync=False) as journal:
        while batch := list(itertools.islice(stream, BATCH)):
            journal.append(batch)
    size = sum(p.stat().st_size for p in directory.iterdir())
    return {"commands": n, "write_s": round(time.perf_counter() - started, 2), "mb": round(size / 2**20, 1)}


async def _serve_timed(data: Path, log: Path) -> tuple[subprocess.Popen[bytes], int, float]:
    """Spawn the server on ``data``; seconds from spawn until /healthz answers 200."""
    port = free_port()
    cmd = serve_command(port, data, *rest.SERVER_ARGS)
    started = time.perf_counter()
    proc = rest._spawn([*cmd, "--snapshot-every", "100000000"], log)
    if not await wait_ready(HOST, port, HEALTHZ, lambda: proc.poll() is None, 900.0):
        rest._stop(proc)
        raise RuntimeError(f"{log}: not ready:\n{log.read_text()[-2000:]}")
    return proc, port, time.perf_counter() - started


async def _one_command(port: int) -> None:
    """Shutdown snapshots only what came after the start (replayed commands are not): send one."""
    async with Client(f"http://{HOST}:{port}") as c:
        await c.signup("bench_restart", rest.PASSWORD)
        key = await c.create_api_key()
        c.use_key(key["apiKey"], key["secret"])
        with contextlib.suppress(ExchangeError):
            await c.cancel_all("BTC_USDC")


async def _start_stop(data: Path, log: Path, pattern: re.Pattern[str], poke: bool) -> Result:
    """A start timed until /healthz, its log line and RSS, then SIGTERM (``poke``: one command first)."""
    proc, port, start_s = await _serve_timed(data, log)
    try:
        if poke:
            await _one_command(port)
        rss = _status(proc.pid)["VmRSS"]
    finally:
        stopping = time.perf_counter()
        proc.send_signal(signal.SIGTERM)  # shutdown writes the final snapshot
        proc.wait(timeout=600)
    stop_s = round(time.perf_counter() - stopping, 2)
    found = pattern.search(log.read_text())
    out = {"start_s": round(start_s, 2), "log": found.groups() if found else None}
    return out | {"rss_mb": rss, "stop_s": stop_s}


async def restart_part(n: int, tmp: Path) -> Result:
    data = tmp / "restart"
    _log(f"restart: writing a journal of {n:,} commands ...")
    out: Result = {"journal": _write_journal(data / "journal", n)}
    out["replay"] = await _start_stop(data, tmp / "replay.log", REPLAYED, poke=True)
    snaps = snapfile.snapshots(data / "snapshots")
    out["final_snapshot_mb"] = round(snaps[-1].stat().st_size / 2**20, 1) if snaps else None
    out["from_snapshot"] = await _start_stop(data, tmp / "restore.log", RESTORED, poke=False)
    _log(f"restart: {out}")
    return out


# -- 1. REST with and without the journal --------------------------------------------------
async def _batches(port: int) -> float | None:
    """Commands per engine batch so far, from /metrics."""
    conn = await Connection.open(HOST, port)
    _, body = await conn.roundtrip(plain_request("GET", "/metrics", HOST))
    await conn.close()
    found = dict(re.findall(r"^exchange_(commands|batches)_total ([\d.e+]+)$", body.decode(), re.M))
    return round(float(found["commands"]) / float(found["batches"]), 2) if len(found) == 2 else None


async def _rest_load(port: int, pid: int, floor_port: int, args: argparse.Namespace) -> Result:
    k = rest.USERS_PER_CLIENT
    creds = await rest.setup_users(f"http://{HOST}:{port}", args.clients * k)
    signers = [Signer(f"{HOST}:{port}", key, secret) for key, secret in creds]
    gc.collect()
    gc.disable()
    try:
        seq = await rest.one_client(port, floor_port, signers[:16], args.pairs, args.warmup)
        groups = [signers[k * i : k * (i + 1)] for i in range(args.clients)]
        conc = await rest.concurrent(port, pid, groups, args.warmup_s, args.duration, floor=False)
    finally:
        gc.enable()
    one = {"place": rest._pct(seq.place), "cancel": rest._pct(seq.cancel), "floor": rest._pct(seq.floor)}
    return {"one_client": one, "concurrent": conc, "commands_per_batch": await _batches(port)}


async def _rest_mode(mode: str, floor_port: int, args: argparse.Namespace, tmp: Path) -> Result:
    port, work = free_port(), Path(tempfile.mkdtemp(prefix=f"{mode}-", dir=tmp))
    cmd = serve_command(port, work / "data", *rest.SERVER_ARGS)
    started = time.perf_counter()
    proc = rest._spawn([*cmd, *MODES[mode]], work / "server.log")
    try:
        await rest._ready(port, proc, HEALTHZ, work / "server.log")
        start_s, rss = round(time.perf_counter() - started, 2), _status(proc.pid)["VmRSS"]
        result = await _rest_load(port, proc.pid, floor_port, args) | {
            "start_s": start_s,
            "start_rss_mb": rss,
        }
    finally:
        rest._stop(proc)
    _log(f"{mode}: {result['concurrent']} ({result['commands_per_batch']} commands per batch)")
    return result


def _ratios(modes: dict[str, Result]) -> Result:
    rps = {m: r["concurrent"]["req_per_s"] for m, r in modes.items()}
    p50 = {m: r["one_client"]["place"]["p50_ms"] for m, r in modes.items()}
    out = {f"{m}_vs_no_journal_req_per_s": round(rps[m] / rps["no_journal"], 3) for m in VS}
    return out | {f"{m}_vs_no_journal_place_p50": round(p50[m] / p50["no_journal"], 3) for m in VS}


async def rest_part(args: argparse.Namespace, tmp: Path) -> Result:
    floor_port = free_port()
    floor = rest._spawn(floor_command(floor_port, uvloop=True), tmp / "floor.log")
    rounds: list[dict[str, Result]] = []
    try:
        await rest._ready(floor_port, floor, FLOOR_PROBE, tmp / "floor.log")
        for r in range(args.rounds):
            order = list(MODES)[r % 3 :] + list(MODES)[: r % 3]  # rotated: drift hits every mode
            _log(f"rest round {r + 1}/{args.rounds}: {', '.join(order)}")
            rounds.append({mode: await _rest_mode(mode, floor_port, args, tmp) for mode in order})
    finally:
        rest._stop(floor)
    modes = {mode: rest._median_of([rnd[mode] for rnd in rounds]) for mode in MODES}
    per_round = [_ratios(rnd) for rnd in rounds]
    return modes | {"ratios": _ratios(modes), "ratios_per_round": per_round, "rounds": args.rounds}


# -- report --------------------------------------------------------------------------------
def _targets(report: Result) -> Result:
    out: Result = {}
    if "rest" in report:
        ratio = report["rest"]["ratios"]["batch_vs_no_journal_req_per_s"]
        out["fsync_batch_costs_lt_15pct_of_32c_req_per_s"] = ratio > 0.85
    if "snapshot" in report:
        big = max(report["snapshot"].values(), key=lambda r: r["orders"])
        out[f"rss_{big['orders']}_resting_lt_600mb"] = big["rss_mb"] < 600
    if "restart" in report:
        restart = report["restart"]
        out[f"restart_{restart['journal']['commands']}_journaled_lt_10s"] = restart["replay"]["start_s"] < 10
        out["restart_from_its_snapshot_lt_10s"] = restart["from_snapshot"]["start_s"] < 10
    return out


async def _run(args: argparse.Namespace) -> Result:
    report: Result = {}
    with tempfile.TemporaryDirectory(prefix="bench-durability-") as name:
        tmp = Path(name)
        if "rest" in args.parts:
            report["rest"] = await rest_part(args, tmp)
        if "snapshot" in args.parts:
            report["snapshot"] = {str(n): snapshot_part(n) for n in args.orders}
        if "restart" in args.parts:
            report["restart"] = await restart_part(args.commands, tmp)
    return report


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench.durability", description=__doc__.splitlines()[0])
    p.add_argument("--json", action="store_true", help="indented (else on one line)")
    p.add_argument("--quick", action="store_true", help="100k orders/commands, 1 round, shorter phases")
    p.add_argument("--parts", nargs="+", default=["rest", "snapshot", "restart"])
    p.add_argument("--rounds", type=int, default=3, help="REST: rounds of the three servers")
    for flag, default in REST_FLAGS:
        p.add_argument(flag, type=type(default), default=default, help="REST: as in bench.rest")
    p.add_argument("--orders", type=int, nargs="+", default=[100_000, 1_000_000], help="resting orders")
    p.add_argument("--commands", type=int, default=1_000_000, help="journaled commands to restart from")
    p.add_argument("--snapshot-child", type=int, help=argparse.SUPPRESS)
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.snapshot_child:
        print(json.dumps(snapshot_child(args.snapshot_child)))
        return 0
    if args.quick:
        args.rounds, args.pairs, args.duration, args.orders, args.commands = 1, 500, 2.0, [100_000], 100_000
    report = asyncio.run(_run(args))
    report["targets"] = _targets(report)
    report |= {"python": platform.python_version(), "engine_build": "compiled" if build.check() else "py"}
    report["loadavg_1m"] = round(os.getloadavg()[0], 2)
    git = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=rest.ROOT, capture_output=True)
    report["commit"] = git.stdout.decode().strip()
    report["date"] = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    print(json.dumps(report, indent=2 if args.json else None))
    return 0


if __name__ == "__main__":
    sys.exit(main())
