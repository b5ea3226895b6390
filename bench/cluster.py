"""The Redis cluster against one process, in the same run: REST round trips, orders/s and
WebSocket fan-out.

``python -m bench.cluster --json`` starts its own redis-server, then measures two deployments
in turn, each with the journal on (``--fsync batch``, as ``make run``):
- ``all``: ``serve --role all --bus memory`` (one process);
- ``cluster``: ``serve --role engine`` + two ``serve --role gateway`` on the Redis bus.
For each: (1) one client, sequential place + cancel pairs (``bench.lean_http``, signed), the
round trip p50/p99; (2) ``--clients`` clients for ``--duration`` s through one gateway and, in
the cluster, the same clients split over both gateways: requests/s and the CPU share of every
server process (the engine's at one gateway's saturation is the number that says whether
gateways are what to add); (3) ``--subscribers`` WebSocket subscribers (``depth@S@100ms`` +
``trade@S``, ``bench.ws_subscribers``), split over the gateways, while 100 orders/s trade on
the socket: trade lag p99 and what was dropped. Progress on stderr, one JSON object on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import gc
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from bench.lean_http import Connection, Signer
from bench.rest import SERVER_ARGS, USERS_PER_CLIENT, _at, _cpu_s, _lat, _pair, _worker, setup_users
from bench.ws import _authed, _get, _pump_and_probe
from bench.ws_subscribers import Crowd, delivery
from exchange.devtools.cluster import Cluster, serve_command, wait_healthy
from exchange.devtools.redis_server import RedisServer, free_port, running

HOST, SYMBOL = "127.0.0.1", "SOL_USDC"
Result = dict[str, Any]


def _log(msg: str) -> None:
    print(f"[bench.cluster] {msg}", file=sys.stderr, flush=True)


class Deployment:
    """What a measurement needs of a deployment: gateway ports, and the pids to watch."""

    def __init__(self, name: str, ports: list[int], pids: dict[str, int]) -> None:
        self.name, self.ports, self.pids = name, ports, pids


async def _sequential(port: int, signers: list[Signer], pairs: int, warmup: int) -> Result:
    places: list[tuple[int, int]] = []
    cancels: list[tuple[int, int]] = []
    conn = await Connection.open(HOST, port)
    for i in range(warmup + pairs):
        await _pair(conn, signers[i % len(signers)], places, cancels)
    await conn.close()
    place, cancel = _lat(places[warmup:]), _lat(cancels[warmup:])
    return {
        "place_p50_ms": _at(place, 0.5),
        "place_p99_ms": _at(place, 0.99),
        "cancel_p50_ms": _at(cancel, 0.5),
        "cancel_p99_ms": _at(cancel, 0.99),
    }


async def _cpu_shares(pids: dict[str, int], delay_s: float, duration_s: float) -> dict[str, float]:
    await asyncio.sleep(delay_s)
    s0, w0 = {k: _cpu_s(p) for k, p in pids.items()}, time.perf_counter()
    c0 = time.process_time()
    await asyncio.sleep(duration_s)
    wall = time.perf_counter() - w0
    shares = {k: round((_cpu_s(p) - s0[k]) / wall, 3) for k, p in pids.items()}
    return shares | {"load_generator": round((time.process_time() - c0) / wall, 3)}


async def _throughput(
    dep: Deployment, groups: list[list[Signer]], ports: list[int], args: argparse.Namespace
) -> Result:
    """Every group is one client on its own connection, spread over ``ports`` in turn."""
    t0 = time.perf_counter_ns() + int(args.warmup_s * 1e9)
    t1 = t0 + int(args.duration * 1e9)
    outs: list[list[list[tuple[int, int]]]] = [[[], []] for _ in groups]
    cpu = asyncio.create_task(_cpu_shares(dep.pids, args.warmup_s, args.duration))
    pairs = enumerate(zip(groups, outs, strict=True))
    await asyncio.gather(*(_worker(ports[i % len(ports)], g, t1, False, out) for i, (g, out) in pairs))
    inside = [s for out in outs for spans in out for s in spans if t0 <= s[1] <= t1]
    lat = _lat(inside)
    rate = round(len(lat) / args.duration, 1)
    return {"req_per_s": rate, "p50_ms": _at(lat, 0.5), "p99_ms": _at(lat, 0.99), "cpu_share": await cpu}


async def _fanout(dep: Deployment, creds: list[tuple[str, str]], args: argparse.Namespace) -> Result:
    streams, engine_pid = f"depth@{SYMBOL}@100ms,trade@{SYMBOL}", dep.pids["engine"]
    async with aiohttp.ClientSession() as session:
        url = f"ws://{HOST}:{dep.ports[0]}/ws"
        conns = [await _authed(session, url, *creds[k % 2]) for k in range(4)]
        per = args.subscribers // len(dep.ports)
        crowds = [await Crowd.start(port, per, streams) for port in dep.ports]
        await asyncio.sleep(0.5)
        _log(f"{dep.name}: {sum(c.ready for c in crowds)} subscribers ready on {len(dep.ports)} gateway(s)")
        cpu = asyncio.create_task(
            _cpu_shares(dep.pids | {"crowd0": crowds[0].proc.pid}, 0.5, args.fanout_s - 1)
        )
        loaded = await _pump_and_probe(dep.ports[0], engine_pid, conns, args.fanout_s, 100.0)
        await asyncio.sleep(1.5)  # the last 100 ms flush and any backlog
        depth = f"/api/v1/depth?symbol={SYMBOL}&limit=1"
        final_u = [orjson.loads(await _get(port, depth))["lastUpdateId"] for port in dep.ports]
        summaries = [await c.stop() for c in crowds]
        await asyncio.gather(*(ws.close() for ws in conns))
    parts = [delivery(s, loaded["trades"], u) for s, u in zip(summaries, final_u, strict=True)]
    return {
        "subscribers": sum(p["subscribers"] for p in parts),
        "open_at_end": sum(p["open_at_end"] for p in parts),
        "lag_p50_ms": max(p["lag_ms"]["p50"] for p in parts),
        "lag_p99_ms": max(p["lag_ms"]["p99"] for p in parts),
        "dropped": sum(p["dropped"] for p in parts),
        "depth_gaps": sum(p["gaps"] for p in parts),
        "depth_complete": all(p["depth_complete"] for p in parts),
        "orders_per_s": round(loaded["orders"] / args.fanout_s, 1),
        "trades": loaded["trades"],
        "order_errors": loaded["errors"],
        "cpu_share": await cpu,
    }


async def _measure(dep: Deployment, args: argparse.Namespace) -> Result:
    n, k = args.clients, USERS_PER_CLIENT
    _log(f"{dep.name}: setting up {n * k} users")
    creds = await setup_users(f"http://{HOST}:{dep.ports[0]}", n * k)
    signers = {port: [Signer(f"{HOST}:{port}", key, secret) for key, secret in creds] for port in dep.ports}
    gc.collect()
    gc.disable()
    try:
        # 16 users in turn, as bench.rest: at ~0.4 ms per request one user's 200/s limit would cap it
        seq = await _sequential(dep.ports[0], signers[dep.ports[0]][:16], args.pairs, args.warmup)
        _log(f"{dep.name}: 1 client {seq}")
        first = signers[dep.ports[0]]
        one = await _throughput(dep, [first[i * k : (i + 1) * k] for i in range(n)], dep.ports[:1], args)
        _log(f"{dep.name}: {n} clients, one gateway: {one['req_per_s']:.0f} req/s, cpu {one['cpu_share']}")
        result: Result = {"one_client": seq, "clients_one_gateway": one}
        if len(dep.ports) > 1:
            groups = [signers[dep.ports[i % 2]][i * k : (i + 1) * k] for i in range(n)]
            two = await _throughput(dep, groups, dep.ports, args)
            _log(
                f"{dep.name}: {n} clients, two gateways: {two['req_per_s']:.0f} req/s, cpu {two['cpu_share']}"
            )
            result["clients_two_gateways"] = two
    finally:
        gc.enable()
    result["fanout"] = await _fanout(dep, creds, args)
    _log(f"{dep.name}: fan-out {result['fanout']}")
    return result


async def _all(args: argparse.Namespace, tmp: Path) -> Result:
    port = free_port()
    cmd = serve_command(port, tmp / "all", *SERVER_ARGS)
    with (tmp / "all.log").open("ab") as log:
        proc = await asyncio.create_subprocess_exec(*cmd, stdout=log, stderr=log)
    try:
        await asyncio.to_thread(wait_healthy, f"http://{HOST}:{port}")
        return await _measure(Deployment("all", [port], {"engine": proc.pid}), args)
    finally:
        proc.terminate()
        await proc.wait()


async def _cluster(args: argparse.Namespace, tmp: Path, redis: RedisServer) -> Result:
    ports = [free_port() for _ in range(3)]
    cluster = Cluster(redis.url, tmp / "cluster", ports[:2], ports[2], args=SERVER_ARGS)
    await asyncio.to_thread(cluster.start)
    try:
        assert cluster.engine is not None and all(g is not None for g in cluster.gateways)
        pids = {"engine": cluster.engine.pid} | {
            f"gateway{i}": g.pid for i, g in enumerate(cluster.gateways) if g
        }
        if redis.proc is not None:  # Redis's share of the cores is part of the price
            pids["redis"] = redis.proc.pid
        return await _measure(Deployment("cluster", ports[:2], pids), args)
    finally:
        await asyncio.to_thread(cluster.stop)


def _targets(r: Result) -> Result:
    a, c = r["all"], r["cluster"]
    added = round(c["one_client"]["place_p50_ms"] - a["one_client"]["place_p50_ms"], 3)
    engine = c["clients_one_gateway"]["cpu_share"]["engine"]
    one, two = c["clients_one_gateway"]["req_per_s"], c["clients_two_gateways"]["req_per_s"]
    lag = c["fanout"]["lag_p99_ms"]
    return {
        "redis_adds_to_p50_ms": added,
        "redis_adds_lt_1ms": added < 1.0,
        "engine_cpu_at_one_gateway_saturation": engine,
        "engine_cpu_lt_half_core": engine < 0.5,
        "fanout_lag_p99_ms": lag,
        "fanout_lag_p99_lt_100ms": lag < 100,
        "two_gateways_vs_one": round(two / one, 3),
        "cluster_vs_all_req_per_s": round(one / a["clients_one_gateway"]["req_per_s"], 3),
    }


async def main_async(args: argparse.Namespace) -> Result:
    result: Result = {
        "bench": "cluster",
        "when": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "params": {k: v for k, v in vars(args).items() if k != "json"},
    }
    with tempfile.TemporaryDirectory(prefix="bench-cluster-") as tmp, running() as redis:
        result["all"] = await _all(args, Path(tmp))
        result["cluster"] = await _cluster(args, Path(tmp), redis)
    result["targets"] = _targets(result)
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.cluster")
    p.add_argument("--json", action="store_true")
    p.add_argument("--clients", type=int, default=32)
    p.add_argument("--pairs", type=int, default=1000)
    p.add_argument("--warmup", type=int, default=200)
    p.add_argument("--duration", type=float, default=5.0)
    p.add_argument("--warmup-s", type=float, default=1.0)
    p.add_argument("--subscribers", type=int, default=2000)
    p.add_argument("--fanout-s", type=float, default=8.0)
    args = p.parse_args(argv)
    result = asyncio.run(main_async(args))
    out = Path(__file__).parent / "results" / "cluster.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=None if args.json else 2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
