"""REST order round trips of the real server against a bare aiohttp floor, in the same run.

``python -m bench.rest --json`` starts ``python -m exchange serve --no-bot`` and ``python -m
bench.floor`` as subprocesses, signs users up and funds them through ``exchange.client``, then
drives both servers with ``bench.lean_http`` (raw-socket keep-alive client, pre-built signed
requests): one sequential client (place + cancel pairs, each a timed round trip), then N
concurrent clients for a fixed duration. Progress goes to stderr, one JSON object to stdout.
The client's cyclic GC is off while timing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import gc
import json
import math
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import aiohttp
import orjson

from bench.floor import command as floor_command
from bench.lean_http import BinanceSigner, Connection, Signer, plain_request, wait_ready
from exchange.client import Client, ExchangeError
from exchange.devtools.cluster import serve_command
from exchange.devtools.redis_server import free_port as _free_port

HOST = "127.0.0.1"
ORDER_PATH = "/api/v1/order"  # the floor serves it too: it gets the very same request bytes
# A non-crossing limit buy far below any SOL_USDC book (no bot runs): it rests until cancelled.
PLACE_BODY = (
    b'{"symbol":"SOL_USDC","side":"buy","type":"limit","price":"10.00","quantity":"1.00","timeInForce":"GTC"}'
)
PASSWORD = "bench-password-123"
#: ``--api binance``: the same order through the Binance face (docs/BINANCE.md), form body,
#: Binance signing, ccxt's answer type; its cancel by orderId in the signed query string.
BINANCE_PATH = "/api/v3/order"
BINANCE_PLACE = (
    "symbol=SOLUSDC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1.00&price=10.00&newOrderRespType=FULL"
)
#: Every server a benchmark starts runs with every rate limit lifted (both faces'), so the
#: server, not its limiter, is what is measured.
SERVER_ARGS = ("--no-bot", "--bench-limits")
#: Users per client: from when the per-user limit had to be spread over users; kept so the
#: workload (and its results) stay comparable with the recorded runs.
USERS_PER_CLIENT = 4
ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"

Result = dict[str, Any]
Span = tuple[int, int]  # (start, end) of one round trip, perf_counter_ns
AnySigner = Signer | BinanceSigner


class Samples(NamedTuple):
    place: list[int]
    cancel: list[int]
    floor: list[int]
    req_per_s: float
    floor_req_per_s: float


def _log(msg: str) -> None:
    print(f"[bench.rest] {msg}", file=sys.stderr, flush=True)


# -- processes -------------------------------------------------------------------------------
def _spawn(argv: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(argv, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)


async def _ready(port: int, proc: subprocess.Popen[bytes], probe: bytes, log: Path) -> None:
    if not await wait_ready(HOST, port, probe, lambda: proc.poll() is None, 30.0):
        raise RuntimeError(f"{log.name}: not ready (exit code {proc.poll()}):\n{log.read_text()[-2000:]}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _proc(pid: int, name: str) -> str:
    """A /proc file of ``pid`` (Linux); "" where it cannot be read."""
    try:
        return Path(f"/proc/{pid}/{name}").read_text()
    except OSError:
        return ""


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process; 0.0 where /proc cannot be read."""
    fields = _proc(pid, "stat").rsplit(")", 1)[-1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK") if len(fields) > 12 else 0.0


async def _cpu_shares(pid: int, delay_s: float, duration_s: float) -> tuple[float, float]:
    """Cores used by the server ``pid`` and by this client over the timed window."""
    await asyncio.sleep(delay_s)
    s0, c0, w0 = _cpu_s(pid), time.process_time(), time.perf_counter()
    await asyncio.sleep(duration_s)
    wall = time.perf_counter() - w0
    return round((_cpu_s(pid) - s0) / wall, 3), round((time.process_time() - c0) / wall, 3)


# -- setup through exchange.client ----------------------------------------------------------
def _local_host(i: int) -> str | None:
    """Signup is limited per client address (burst 10): 8 users per loopback address, if bindable."""
    host = f"127.0.0.{2 + i // 8}"
    with socket.socket() as s, contextlib.suppress(OSError):
        s.bind((host, 0))
        return host
    return None


async def _signup(client: Client, name: str) -> None:
    while True:
        try:
            await client.signup(name, PASSWORD)
            return
        except ExchangeError as exc:
            if exc.status != 429:
                raise
            await asyncio.sleep(float(exc.retry_after or 1))


async def _make_user(url: str, i: int) -> tuple[str, str]:
    host = _local_host(i)
    connector = aiohttp.TCPConnector(local_addr=(host, 0)) if host else None
    async with (
        aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.CookieJar(unsafe=True)) as session,
        Client(url, session=session) as client,
    ):
        await _signup(client, f"bench_{i}")
        key = await client.create_api_key()
        client.use_key(key["apiKey"], key["secret"])
        await client.onramp("USDC", "1000000")
        await client.onramp("SOL", "10000")
    return key["apiKey"], key["secret"]


async def setup_users(url: str, n: int) -> list[tuple[str, str]]:
    return list(await asyncio.gather(*(_make_user(url, i) for i in range(n))))


# -- round trips ----------------------------------------------------------------------------
async def _call(conn: Connection, raw: bytes) -> tuple[int, int, bytes]:
    t0 = time.perf_counter_ns()
    status, body = await conn.roundtrip(raw)
    t1 = time.perf_counter_ns()
    if status != 200:
        raise RuntimeError(f"HTTP {status}: {body[:300]!r}")
    return t0, t1, body


async def _pair(conn: Connection, signer: AnySigner, places: list[Span], cancels: list[Span]) -> None:
    """Place a resting buy, then cancel it by orderId: two timed round trips."""
    if isinstance(signer, BinanceSigner):
        await _binance_pair(conn, signer, places, cancels)
        return
    t0, t1, body = await _call(conn, signer.request("POST", ORDER_PATH, PLACE_BODY))
    oid = orjson.loads(body)["orderId"]
    cancel = b'{"symbol":"SOL_USDC","orderId":"' + oid.encode() + b'"}'
    t2, t3, _ = await _call(conn, signer.request("DELETE", ORDER_PATH, cancel))
    places.append((t0, t1))
    cancels.append((t2, t3))


async def _binance_pair(
    conn: Connection, signer: BinanceSigner, places: list[Span], cancels: list[Span]
) -> None:
    t0, t1, body = await _call(conn, signer.request("POST", BINANCE_PATH, BINANCE_PLACE))
    oid = orjson.loads(body)["orderId"]
    t2, t3, _ = await _call(conn, signer.request("DELETE", BINANCE_PATH, f"symbol=SOLUSDC&orderId={oid}"))
    places.append((t0, t1))
    cancels.append((t2, t3))


async def _floor_call(conn: Connection, signer: Signer, spans: list[Span]) -> None:
    t0, t1, body = await _call(conn, signer.request("POST", ORDER_PATH, PLACE_BODY))
    orjson.loads(body)
    spans.append((t0, t1))


def _lat(spans: Iterable[Span]) -> list[int]:
    return sorted(end - start for start, end in spans)


async def one_client(port: int, floor_port: int, signers: list[Signer], pairs: int, warmup: int) -> Samples:
    """Sequential: ``pairs`` place+cancel pairs on ours (users in turn), as many requests on the floor."""
    place, cancel = await sequential(port, signers, pairs, warmup)
    spans: list[Span] = []
    conn = await Connection.open(HOST, floor_port)
    for _ in range(warmup + pairs):
        await _floor_call(conn, signers[0], spans)
    await conn.close()
    return Samples(place, cancel, _lat(spans[warmup:]), 0.0, 0.0)


async def sequential(
    port: int, signers: Sequence[AnySigner], pairs: int, warmup: int
) -> tuple[list[int], list[int]]:
    """``pairs`` timed place+cancel pairs on one connection, users in turn: sorted latencies."""
    places: list[Span] = []
    cancels: list[Span] = []
    conn = await Connection.open(HOST, port)
    for i in range(warmup + pairs):
        await _pair(conn, signers[i % len(signers)], places, cancels)
    await conn.close()
    return _lat(places[warmup:]), _lat(cancels[warmup:])


async def _worker(
    port: int, signers: Sequence[AnySigner], stop_at: int, floor: bool, out: list[list[Span]]
) -> None:
    """One client on its own connection until ``stop_at``; ``out`` = [places, cancels] or [floor calls]."""
    conn, i = await Connection.open(HOST, port), 0
    while time.perf_counter_ns() < stop_at:
        if floor:
            await _floor_call(conn, signers[0], out[0])  # type: ignore[arg-type]
        else:
            await _pair(conn, signers[i % len(signers)], out[0], out[1])
        i += 1
    await conn.close()


async def concurrent(
    port: int,
    pid: int,
    groups: Sequence[Sequence[AnySigner]],
    warmup_s: float,
    duration_s: float,
    floor: bool,
) -> Result:
    """Every group is one client; round trips that end inside the timed window are counted."""
    t0 = time.perf_counter_ns() + int(warmup_s * 1e9)
    t1 = t0 + int(duration_s * 1e9)
    outs: list[list[list[Span]]] = [[[], []] for _ in groups]
    cpu = asyncio.create_task(_cpu_shares(pid, warmup_s, duration_s))
    await asyncio.gather(*(_worker(port, g, t1, floor, out) for g, out in zip(groups, outs, strict=True)))
    server_cpu, client_cpu = await cpu
    inside = [[s for s in spans if t0 <= s[1] <= t1] for out in outs for spans in out]
    lat = _lat(s for spans in inside for s in spans)
    cancels = sum(len(spans) for spans in inside[1::2])  # inside = [places, cancels] per client
    return {
        "req_per_s": round(len(lat) / duration_s, 1),
        "pairs_per_s": round(cancels / duration_s, 1),
        "p50_ms": _at(lat, 0.50),
        "p99_ms": _at(lat, 0.99),
        "server_cpu": server_cpu,
        "cpu_us_per_req": round(server_cpu * 1e6 * duration_s / max(len(lat), 1), 1),
        "client_cpu": client_cpu,
    }


# -- statistics and report ------------------------------------------------------------------
def _at(sorted_ns: list[int], q: float) -> float:
    return round(sorted_ns[min(len(sorted_ns) - 1, int(q * len(sorted_ns)))] / 1e6, 4)


def _pct(sorted_ns: list[int]) -> Result:
    pct = {f"p{round(q * 100)}_ms": _at(sorted_ns, q) for q in (0.50, 0.90, 0.99)}
    return pct | {"max_ms": round(sorted_ns[-1] / 1e6, 4)}


def _report(args: argparse.Namespace, seq: Samples, ours: Result, flo: Result, uv: bool) -> Result:
    place, cancel, floor = _pct(seq.place), _pct(seq.cancel), _pct(seq.floor)
    one = {"pairs": args.pairs, "warmup": args.warmup, "users": args.seq_users} | {"place": place}
    one |= {"cancel": cancel, "floor": floor}
    one["place_p50_vs_floor"] = round(place["p50_ms"] / floor["p50_ms"], 3)
    one["cancel_p50_vs_floor"] = round(cancel["p50_ms"] / floor["p50_ms"], 3)
    conc = {"clients": args.clients, "users_per_client": args.users_per_client, "duration_s": args.duration}
    conc |= ours | {f"floor_{k}": v for k, v in flo.items() if k != "pairs_per_s"}
    conc["ratio"] = round(ours["req_per_s"] / flo["req_per_s"], 3)
    conc["cpu_ratio"] = round(flo["cpu_us_per_req"] / max(ours["cpu_us_per_req"], 0.1), 3)  # contention-proof
    extra = {"python": platform.python_version(), "uvloop": uv, "loadavg_1m": round(os.getloadavg()[0], 2)}
    return {"one_client": one, "concurrent": conc} | extra


def _targets(r: Result) -> Result:
    one, conc = r["one_client"], r["concurrent"]
    return {
        "one_client_p50_le_3x_floor": one["place_p50_vs_floor"] <= 3.0,
        "one_client_p99_lt_2ms": one["place"]["p99_ms"] < 2.0,
        "concurrent_ge_half_floor": conc["ratio"] >= 0.5,
    }


def _median_of(values: list[Any]) -> Any:
    first = values[0]
    if isinstance(first, dict):
        return {k: _median_of([v[k] for v in values]) for k in first}
    if isinstance(first, bool) or not isinstance(first, int | float):
        return first
    return round(statistics.median(values) if isinstance(first, float) else statistics.median_low(values), 4)


def _plot(s: Samples, path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        _log("matplotlib is not installed (pip install -e '.[bench]'): no plot")
        return
    fig, (curves, bars) = plt.subplots(1, 2, figsize=(12, 5), gridspec_kw={"width_ratios": [3, 1]})
    xs = [0.30103 + k * (4 - 0.30103) / 300 for k in range(301)]  # -log10(1 - q), q = 50% .. 99.99%
    for name, lat in (("place", s.place), ("cancel", s.cancel), ("floor", s.floor)):
        curves.plot(xs, [_at(lat, 1 - 10**-x) for x in xs], label=name)
    ticks = [50, 90, 99, 99.9, 99.99]
    curves.set_xticks([-math.log10(1 - q / 100) for q in ticks], [f"p{q:g}" for q in ticks])
    curves.set(xlabel="percentile", ylabel="round trip (ms, log)", title="1 client, keep-alive", yscale="log")
    curves.yaxis.set_major_formatter("{x:g}")
    curves.yaxis.set_minor_formatter("{x:g}")
    curves.grid(True, alpha=0.3)
    curves.legend()
    bars.bar(["exchange", "floor"], [s.req_per_s, s.floor_req_per_s], color=["tab:blue", "tab:green"])
    bars.set(ylabel="requests/s", title="32 clients")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    _log(f"plot written to {path}")


class Server(NamedTuple):
    port: int
    pid: int


async def _measure(args: argparse.Namespace, ex: Server, fl: Server, uv: bool) -> tuple[Result, Samples]:
    n_users = max(args.clients * args.users_per_client, args.seq_users)
    _log(f"setup: {n_users} users signed up, keyed and funded ...")
    t = time.perf_counter()
    creds = await setup_users(f"http://{HOST}:{ex.port}", n_users)
    _log(f"setup done in {time.perf_counter() - t:.1f} s")
    signers = [Signer(f"{HOST}:{ex.port}", key, secret) for key, secret in creds]
    fsigner = [Signer(f"{HOST}:{fl.port}", *creds[0])]
    gc.collect()
    gc.disable()
    try:
        seq = await one_client(ex.port, fl.port, signers[: args.seq_users], args.pairs, args.warmup)
        _log(f"1 client: {args.pairs} pairs + {args.pairs} floor calls (after {args.warmup} warm-up)")
        k, n, timing = args.users_per_client, args.clients, (args.warmup_s, args.duration)
        groups = [signers[i * k : (i + 1) * k] for i in range(n)]
        ours = await concurrent(ex.port, ex.pid, groups, *timing, floor=False)
        _log(f"{n} clients: {ours['req_per_s']:.0f} req/s on the exchange (server cpu {ours['server_cpu']})")
        flo = await concurrent(fl.port, fl.pid, [fsigner] * n, *timing, floor=True)
        _log(f"{n} clients: {flo['req_per_s']:.0f} req/s on the floor (server cpu {flo['server_cpu']})")
    finally:
        gc.enable()
    samples = seq._replace(req_per_s=ours["req_per_s"], floor_req_per_s=flo["req_per_s"])
    report = _report(args, seq, ours, flo, uv)
    if args.api == "binance":
        report["binance"] = await _binance(args, ex, creds)
    return report, samples


async def _binance(args: argparse.Namespace, ex: Server, creds: list[tuple[str, str]]) -> Result:
    """The same runs through /api/v3 against the native route, side by side so a shared machine's
    drift falls on both: 1 client alternates a native and a Binance pair (one connection each);
    the concurrent runs alternate Binance, native, ... (``--cpu-rounds`` each), each face pooled
    over its rounds, and each Binance round's CPU per request divided by the native round after it."""
    natives: list[AnySigner] = [Signer(f"{HOST}:{ex.port}", key, secret) for key, secret in creds]
    binances: list[AnySigner] = [BinanceSigner(f"{HOST}:{ex.port}", key, secret) for key, secret in creds]
    k, n, timing = args.users_per_client, args.clients, (args.warmup_s, args.duration)
    gc.collect()
    gc.disable()
    try:
        seq = await _alternating(ex.port, [natives[: args.seq_users], binances[: args.seq_users]], args)
        _log(f"binance and native alternating, 1 client: {args.pairs} pairs each")
        faces = [[group[i * k : (i + 1) * k] for i in range(n)] for group in (binances, natives)]
        rounds = [await concurrent(ex.port, ex.pid, g, *timing, floor=False)
                  for _ in range(args.cpu_rounds) for g in faces]  # fmt: skip
        conc, native = _pooled(rounds[0::2], args.duration), _pooled(rounds[1::2], args.duration)
        pairs = zip(rounds[0::2], rounds[1::2], strict=True)
        ratios = [b["cpu_us_per_req"] / max(n["cpu_us_per_req"], 0.1) for b, n in pairs]
        _log(f"{n} clients: binance {conc['req_per_s']:.0f} req/s, native {native['req_per_s']:.0f} req/s")
    finally:
        gc.enable()
    (n_place, n_cancel), (b_place, b_cancel) = seq
    return {
        "one_client": {"place": _pct(b_place), "cancel": _pct(b_cancel),
                       "native_place": _pct(n_place), "native_cancel": _pct(n_cancel)},
        "concurrent": conc,
        "native_concurrent": native,
        "place_p50_vs_native": round(_at(b_place, 0.5) / _at(n_place, 0.5), 3),
        "cancel_p50_vs_native": round(_at(b_cancel, 0.5) / _at(n_cancel, 0.5), 3),
        "cpu_us_per_req_vs_native": round(conc["cpu_us_per_req"] / max(native["cpu_us_per_req"], 0.1), 3),
        "cpu_ratio_by_round": [round(r, 3) for r in ratios],
        "cpu_ratio_median": round(statistics.median(ratios), 3),
    }  # fmt: skip


def _pooled(runs: list[Result], duration_s: float) -> Result:
    """Concurrent runs of one face as one: requests and server CPU added up, latencies' medians."""
    requests = sum(r["req_per_s"] for r in runs) * duration_s
    cpu_s = sum(r["server_cpu"] for r in runs) * duration_s
    return {
        "req_per_s": round(requests / (duration_s * len(runs)), 1),
        "p50_ms": statistics.median(r["p50_ms"] for r in runs),
        "p99_ms": statistics.median(r["p99_ms"] for r in runs),
        "server_cpu": round(cpu_s / (duration_s * len(runs)), 3),
        "cpu_us_per_req": round(cpu_s * 1e6 / max(requests, 1), 1),
    }


async def _alternating(
    port: int, apis: list[list[AnySigner]], args: argparse.Namespace
) -> list[tuple[list[int], list[int]]]:
    """One pair on each API's connection in turn: sorted (place, cancel) latencies per API."""
    conns = [await Connection.open(HOST, port) for _ in apis]
    spans: list[tuple[list[Span], list[Span]]] = [([], []) for _ in apis]
    for i in range(args.warmup + args.pairs):
        for conn, signers, (places, cancels) in zip(conns, apis, spans, strict=True):
            await _pair(conn, signers[i % len(signers)], places, cancels)
    for conn in conns:
        await conn.close()
    return [(_lat(p[args.warmup :]), _lat(c[args.warmup :])) for p, c in spans]


async def run_once(args: argparse.Namespace) -> tuple[Result, Samples]:
    with tempfile.TemporaryDirectory(prefix="bench-rest-") as tmp:
        port, floor_port, logs = _free_port(), _free_port(), Path(tmp)
        cmd = serve_command(port, logs / "data", *SERVER_ARGS, *args.server_args.split())
        server, floor = _spawn(cmd, logs / "server.log"), None
        try:
            await _ready(port, server, plain_request("GET", "/healthz", HOST), logs / "server.log")
            uv = "uvloop" in _proc(server.pid, "maps")  # its extension is mapped if the server runs it
            _log(f"exchange pid {server.pid} on port {port} (uvloop: {uv})")
            floor = _spawn(floor_command(floor_port, uvloop=uv), logs / "floor.log")
            probe = plain_request("POST", ORDER_PATH, HOST, PLACE_BODY)
            await _ready(floor_port, floor, probe, logs / "floor.log")
            _log(f"floor pid {floor.pid} on port {floor_port}")
            return await _measure(args, Server(port, server.pid), Server(floor_port, floor.pid), uv)
        finally:
            for proc in (floor, server):
                if proc is not None:
                    _stop(proc)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench.rest", description=__doc__.splitlines()[0])
    p.add_argument("--json", action="store_true", help="one JSON object on stdout")
    p.add_argument("--api", choices=["native", "binance"], default="native",
                   help="binance: also run both benches through /api/v3 and compare with native")  # fmt: skip
    p.add_argument("--repeat", type=int, default=1, help="whole runs; the report gives medians")
    p.add_argument("--pairs", type=int, default=2000, help="timed place+cancel pairs, 1 client")
    p.add_argument("--warmup", type=int, default=200, help="untimed pairs first, 1 client")
    p.add_argument("--seq-users", type=int, default=16, help="users the 1-client run takes in turn")
    p.add_argument("--clients", type=int, default=32)
    p.add_argument("--users-per-client", type=int, default=USERS_PER_CLIENT, help="200 req/s each")
    p.add_argument("--duration", type=float, default=5.0, help="timed seconds, concurrent")
    p.add_argument("--warmup-s", type=float, default=1.0, help="untimed seconds first, concurrent")
    p.add_argument("--cpu-rounds", type=int, default=4,
                   help="--api binance: concurrent rounds per face, alternating")  # fmt: skip
    p.add_argument("--server-args", default="", help='extra server options, e.g. "--fsync off"')
    p.add_argument("--plot", type=Path, default=RESULTS / "rest_latency.png")
    p.add_argument("--no-plot", action="store_true")
    return p


def _summary(r: Result) -> str:
    one, conc = r["one_client"], r["concurrent"]
    lines = [f"1 client {k}: {one[k]}" for k in ("place", "cancel", "floor")]
    lines += [f"place p50 / floor p50: {one['place_p50_vs_floor']}", f"concurrent: {conc}"]
    if "binance" in r:
        lines.append(f"binance: {r['binance']}")
    return "\n".join([*lines, f"targets: {r['targets']}"])


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    runs: list[Result] = []
    for i in range(args.repeat):
        _log(f"run {i + 1}/{args.repeat}")
        result, samples = asyncio.run(run_once(args))
        runs.append(result)
    report: Result = _median_of(runs)
    report["targets"] = _targets(report)
    report["date"] = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    if args.repeat > 1:
        report["runs"] = runs
    if not args.no_plot:
        _plot(samples, args.plot)
    print(json.dumps(report, indent=2) if args.json else _summary(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
