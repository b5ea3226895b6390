"""WebSocket benchmarks of the real server against a bare aiohttp echo, in one run.

``python -m bench.ws --json`` starts ``python -m exchange serve --no-bot`` and ``python -m
bench.ws_floor``, funds users (``bench.rest.setup_users``) and measures: (1) WS order entry round
trips against the echo; (2) taker ack -> trade event at another connection; (3) a crowd of
subscribers in another process (``bench.ws_subscribers``) at 100 orders/s, with a REST probe
(``bench.ws_probe``, a process of its own) with and without it; (4) delivered frames/s at
saturation. Progress on stderr, JSON on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import gc
import json
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from bench.lean_http import Connection, plain_request, wait_ready
from bench.rest import SERVER_ARGS, setup_users
from bench.ws_probe import paced
from bench.ws_subscribers import Crowd, delivery
from exchange.devtools.cluster import serve_command
from exchange.devtools.redis_server import free_port as _free_port
from exchange.signing import ws_auth_signature

HOST, SYMBOL, PRICE, QTY = "127.0.0.1", "SOL_USDC", "100.00", "0.10"
ROOT = Path(__file__).resolve().parents[1]
QUANTILES = {"p50_ms": 0.5, "p99_ms": 0.99, "max_ms": 1.0}
CANCEL = '{"method":"ORDER.CANCEL","id":2,"params":{"symbol":"SOL_USDC","orderId":"%s"}}'
FRAMES_METRIC = "exchange_ws_frames_total"  # not exported yet: "server counter pending"
Result = dict[str, Any]
Ws = aiohttp.ClientWebSocketResponse


def _log(msg: str) -> None:
    print(f"[bench.ws] {msg}", file=sys.stderr, flush=True)


def _order(side: str, price: str = PRICE, qty: str = QTY) -> str:
    body = {"symbol": SYMBOL, "side": side, "type": "limit", "price": price, "quantity": qty}
    return orjson.dumps({"method": "ORDER.PLACE", "id": 1, "params": body}).decode()


PUMP = (_order("sell"), _order("buy"))  # maker, taker: each a trade at PRICE


# -- processes -------------------------------------------------------------------------------
async def _start(args: list[str], port: int, log: Path) -> subprocess.Popen[bytes]:
    """The process ``args`` serving on ``port``, once its /healthz answers."""
    with log.open("wb") as out:
        proc = subprocess.Popen(args, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    probe = plain_request("GET", "/healthz", HOST)
    if not await wait_ready(HOST, port, probe, lambda: proc.poll() is None, 30.0):
        raise RuntimeError(f"{log.name}: not ready (exit {proc.poll()}):\n{log.read_text()[-2000:]}")
    return proc


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()


def _sched(pid: int) -> tuple[float, float, float]:
    """(wall, on a CPU, runnable but waiting for a CPU) seconds of ``pid``'s main thread."""
    try:
        run, wait = Path(f"/proc/{pid}/schedstat").read_text().split()[:2]
    except OSError:
        run = wait = "0"
    return time.perf_counter(), int(run) / 1e9, int(wait) / 1e9


def _shares(pid: int, t0: tuple[float, float, float]) -> Result:
    """Since ``t0`` (a ``_sched``): the cores used, and the share of the time it waited for one."""
    t1 = _sched(pid)
    wall = t1[0] - t0[0]
    return {"cores": round((t1[1] - t0[1]) / wall, 3), "waiting_for_cpu": round((t1[2] - t0[2]) / wall, 3)}


def _pct(values_ns: list[int]) -> Result:
    s = sorted(values_ns) or [0]
    out = {k: round(s[min(len(s) - 1, int(q * len(s)))] / 1e6, 4) for k, q in QUANTILES.items()}
    return out | {"n": len(values_ns)}


def _median_of(values: list[Any]) -> Any:
    first = values[0]
    if isinstance(first, dict):
        return {k: _median_of([v.get(k, first[k]) for v in values]) for k in first}
    if isinstance(first, bool) or not isinstance(first, int | float):
        return first
    return round(statistics.median(values), 4)


async def _call(ws: Ws, text: str) -> tuple[int, int, Any]:
    """One request on a connection with nothing else in flight: (t_send, t_answer, result)."""
    t0 = time.perf_counter_ns()
    await ws.send_str(text)
    msg = await ws.receive()
    t1 = time.perf_counter_ns()
    answer = orjson.loads(msg.data)
    if "error" in answer:
        raise RuntimeError(f"{text[:80]} -> {answer['error']}")
    return t0, t1, answer.get("result")


async def _authed(session: aiohttp.ClientSession, url: str, key: str, secret: str) -> Ws:
    ws = await session.ws_connect(url)
    ts = time.time_ns() // 1_000_000
    params = {"apiKey": key, "timestamp": ts, "signature": ws_auth_signature(secret, ts)}
    await _call(ws, orjson.dumps({"method": "AUTH", "params": params, "id": 0}).decode())
    return ws


async def _subscribed(session: aiohttp.ClientSession, url: str, *streams: str) -> Ws:
    ws = await session.ws_connect(url)
    await _call(ws, orjson.dumps({"method": "SUBSCRIBE", "params": list(streams), "id": 0}).decode())
    return ws


# -- 1. order entry round trip ---------------------------------------------------------------
async def order_entry(session: aiohttp.ClientSession, url: str, floor: str, creds: list[tuple[str, str]],
                      pairs: int, warmup: int) -> Result:  # fmt: skip
    """Place (resting buy far below the book) + cancel by id, sequentially; the same texts echoed."""
    conns = [await _authed(session, url, *creds[k % 16]) for k in range(64)]
    echo = await session.ws_connect(floor)
    place, lat = _order("buy", "10.00", "1.00"), {"place": [], "cancel": [], "echo": []}  # type: str, dict[str, list[int]]
    for i in range(warmup + pairs):
        ws = conns[(i // 30) % len(conns)]  # 60 messages a block: inside the burst of 100
        t0, t1, res = await _call(ws, place)
        cancel = CANCEL % res["orderId"]
        t2, t3, _ = await _call(ws, cancel)
        e0, e1, _ = await _call(echo, place)
        e2, e3, _ = await _call(echo, cancel)
        if i >= warmup:
            lat["place"].append(t1 - t0)
            lat["cancel"].append(t3 - t2)
            lat["echo"] += [e1 - e0, e3 - e2]
    await asyncio.gather(*(ws.close() for ws in [*conns, echo]))
    out: Result = {"pairs": pairs} | {k: _pct(v) for k, v in lat.items()}
    return out | {"place_p50_vs_echo": round(out["place"]["p50_ms"] / out["echo"]["p50_ms"], 3)}


# -- 2. ack -> trade event --------------------------------------------------------------------
async def _trade_events(ws: Ws, out: asyncio.Queue[tuple[int, int]]) -> None:
    async for msg in ws:
        data = orjson.loads(msg.data).get("data")
        if data and data.get("e") == "trade":
            out.put_nowait((time.perf_counter_ns(), data["t"]))


async def ack_to_trade(session: aiohttp.ClientSession, url: str, creds: list[tuple[str, str]],
                       trades: int, warmup: int) -> Result:  # fmt: skip
    """A maker rests one big ask; each taker buy takes a slice; a third connection sees the trade."""
    listener, events = await _subscribed(session, url, f"trade@{SYMBOL}"), asyncio.Queue[tuple[int, int]]()
    reader = asyncio.create_task(_trade_events(listener, events))
    maker = await _authed(session, url, *creds[0])
    await _call(maker, _order("sell", PRICE, f"{(trades + warmup) * 0.1:.2f}"))
    takers = [await _authed(session, url, *c) for c in creds[1:9]]
    ack_ev, send_ev, send_ack, mismatched = [], [], [], 0  # type: list[int], list[int], list[int], int
    for i in range(warmup + trades):
        t0, t1, res = await _call(takers[i % len(takers)], _order("buy"))
        t_ev, trade_id = await asyncio.wait_for(events.get(), 5.0)
        mismatched += [str(trade_id)] != [f["tradeId"] for f in res["fills"]]
        if i >= warmup:
            ack_ev.append(t_ev - t1)
            send_ev.append(t_ev - t0)
            send_ack.append(t1 - t0)
    reader.cancel()
    await asyncio.gather(*(ws.close() for ws in [listener, maker, *takers]))
    return {
        "trades": trades, "ack_to_event": _pct([max(0, d) for d in ack_ev]),
        "ack_to_event_signed": _pct(ack_ev) | {"min_ms": round(min(ack_ev) / 1e6, 4)},
        "event_before_ack_share": round(sum(d < 0 for d in ack_ev) / len(ack_ev), 3),
        "send_to_event": _pct(send_ev), "send_to_ack": _pct(send_ack), "trade_id_mismatches": mismatched,
    }  # fmt: skip


# -- 3. a crowd at a fixed order rate, with a REST probe ------------------------------------
async def _answers(ws: Ws, counts: list[int]) -> None:
    """Reads a pipelined order connection: counts[0] answers, [1] trades made, [2] errors."""
    async for msg in ws:
        answer = orjson.loads(msg.data)
        counts[0], counts[2] = counts[0] + 1, counts[2] + ("error" in answer)
        counts[1] += len((answer.get("result") or {}).get("fills", ()))


async def _probe(port: int, seconds: float) -> list[int]:
    """``bench.ws_probe`` in its own process: a GET /depth every 5 ms; its round trips (ns)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.ws_probe", "--port", str(port), "--seconds", str(seconds),
        stdout=asyncio.subprocess.PIPE, cwd=ROOT,
    )  # fmt: skip
    out, _ = await proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"bench.ws_probe exited with {proc.returncode}")
    return list(orjson.loads(out)["ns"])


async def _pump_and_probe(port: int, pid: int, conns: list[Ws], seconds: float, rate: float) -> Result:
    """Open loop: a sell (maker) then a buy (taker) on WS at ``rate`` orders/s in all, each on
    the next of ``conns`` (maker, taker, maker, ...) without waiting; meanwhile the probe."""
    c0, counts = _sched(pid), [0, 0, 0]
    readers = [asyncio.create_task(_answers(ws, counts)) for ws in conns]

    async def order(i: int) -> None:
        await conns[i % len(conns)].send_str(PUMP[i % 2])

    orders, lat = await asyncio.gather(paced(seconds, rate, order), _probe(port, seconds))
    cpu = _shares(pid, c0)
    for _ in range(200):  # until every answer is in (at most 20 s)
        if counts[0] < orders:
            await asyncio.sleep(0.1)
    for task in readers:
        task.cancel()
    return {"orders": orders, "trades": counts[1], "errors": counts[2], "probe": _pct(lat), "server": cpu}


async def _get(port: int, path: str) -> bytes:
    conn = await Connection.open(HOST, port)
    _, body = await conn.roundtrip(plain_request("GET", path, HOST))
    await conn.close()
    return body


async def crowd(session: aiohttp.ClientSession, port: int, pid: int, creds: list[tuple[str, str]],
                n: int, seconds: float) -> Result:  # fmt: skip
    streams, url = f"depth@{SYMBOL}@100ms,trade@{SYMBOL}", f"ws://{HOST}:{port}/ws"
    conns = [await _authed(session, url, *creds[k % 2]) for k in range(4)]  # 25 messages/s each
    idle = await _pump_and_probe(port, pid, conns, seconds, 100.0)
    _log(f"crowd: probe without subscribers {idle['probe']}; starting {n} subscribers")
    subs = await Crowd.start(port, n, streams)
    await asyncio.sleep(0.5)
    _log(f"crowd: {subs.ready} subscribers ready; 100 orders/s for {seconds:g} s")
    loaded = await _pump_and_probe(port, pid, conns, seconds, 100.0)
    await asyncio.sleep(1.5)  # the last 100 ms flush and any backlog
    final_u = orjson.loads(await _get(port, f"/api/v1/depth?symbol={SYMBOL}&limit=1"))["lastUpdateId"]
    summary = await subs.stop()
    await asyncio.gather(*(ws.close() for ws in conns))
    report = delivery(summary, loaded["trades"], final_u)
    ratio = round(loaded["probe"]["p99_ms"] / idle["probe"]["p99_ms"], 3)
    return report | {
        "orders_per_s": round(loaded["orders"] / seconds, 1), "order_errors": loaded["errors"],
        "probe_idle": idle["probe"], "probe_loaded": loaded["probe"], "probe_p99_ratio": ratio,
        "server_without": idle["server"], "server_with": loaded["server"],
    }  # fmt: skip


# -- 4. saturation ---------------------------------------------------------------------------
async def _metric(port: int, name: str) -> float | None:
    found = re.findall(rf"^{name}(?:{{[^}}]*}})? (\S+)$", (await _get(port, "/metrics")).decode(), re.M)
    return sum(map(float, found)) if found else None  # every labelled series summed


async def _pump_ws(maker: Ws, taker: Ws, until: float, counts: list[int]) -> None:
    """Sell then buy, as fast as answers come, at most 45 a second per connection (the socket's
    limit was 50/s when this was recorded; kept so the results stay comparable)."""
    (sell, buy), i, start = PUMP, 0, time.perf_counter()
    while (now := time.perf_counter()) < until:
        await asyncio.sleep(max(0.0, start + i / 45.0 - now))
        _, _, a = await _call(maker, sell)
        _, _, b = await _call(taker, buy)
        counts[0], counts[1], i = counts[0] + 2, counts[1] + len(a["fills"]) + len(b["fills"]), i + 1


async def saturation(session: aiohttp.ClientSession, port: int, pid: int, creds: list[tuple[str, str]],
                     n: int, seconds: float, workers: int) -> Result:  # fmt: skip
    streams = f"trade@{SYMBOL},depth@{SYMBOL}"
    subs, url = await Crowd.start(port, n, streams, "--count-only"), f"ws://{HOST}:{port}/ws"
    conns = [await _authed(session, url, *creds[k % len(creds)]) for k in range(2 * workers)]
    counts, m0 = [0, 0], await _metric(port, FRAMES_METRIC)
    _log(f"saturation: {subs.ready} subscribers ({streams}); {workers} maker/taker pairs for {seconds:g} s")
    until, c0, t0 = time.perf_counter() + seconds, _sched(pid), time.perf_counter()
    await asyncio.gather(*(_pump_ws(conns[2 * k], conns[2 * k + 1], until, counts) for k in range(workers)))
    wall, cpu, m1 = time.perf_counter() - t0, _shares(pid, c0), await _metric(port, FRAMES_METRIC)
    await asyncio.sleep(1.0)
    s = await subs.stop()
    await asyncio.gather(*(ws.close() for ws in conns))
    server = "server counter pending" if m0 is None or m1 is None else round((m1 - m0) / wall, 1)
    still = sum(s["open_per_sub"])
    return {
        "subscribers": n, "pairs": workers, "open_at_end": still, "closed": s["closed"],
        "orders_per_s": round(counts[0] / wall, 1), "trades_per_s": round(counts[1] / wall, 1),
        "client_frames_per_s": s["frames_per_s"], "client_frames": s["frames"],
        "offered_estimate_per_s": round(still * (counts[0] + counts[1]) / wall, 1),
        "server_frames_per_s": server, "server": cpu, "subscriber_cpu": s["cpu_share"],
    }  # fmt: skip


# -- one run ---------------------------------------------------------------------------------
async def _measure(args: argparse.Namespace, port: int, floor_port: int, pid: int) -> Result:
    _log("setup: 32 users signed up, keyed and funded ...")
    creds, out, a = await setup_users(f"http://{HOST}:{port}", 32), {}, args
    async with aiohttp.ClientSession() as s:
        url, floor = f"ws://{HOST}:{port}/ws", f"ws://{HOST}:{floor_port}/ws"
        gc.collect()
        gc.disable()  # for the two latency tests only
        out["order_entry"] = await order_entry(s, url, floor, creds, a.pairs, a.warmup)
        _log(f"order entry: {out['order_entry']}")
        out["ack_to_trade"] = await ack_to_trade(s, url, creds, a.trades, 50)
        _log(f"ack -> trade: {out['ack_to_trade']}")
        gc.enable()
        out["crowd"] = await crowd(s, port, pid, creds, a.subscribers, a.seconds)
        _log(f"crowd: {out['crowd']}")
        out["saturation"] = await saturation(
            s, port, pid, creds, a.sat_subscribers, a.sat_seconds, a.sat_pairs
        )
        _log(f"saturation: {out['saturation']}")
    return out | {"python": platform.python_version(), "loadavg_1m": round(os.getloadavg()[0], 2)}


async def run_once(args: argparse.Namespace) -> Result:
    with tempfile.TemporaryDirectory(prefix="bench-ws-") as tmp:
        port, floor_port, logs = _free_port(), _free_port(), Path(tmp)
        cmd = serve_command(port, logs / "data", *SERVER_ARGS, *args.server_args.split())
        server = await _start(cmd, port, logs / "server.log")
        fcmd = [sys.executable, "-m", "bench.ws_floor", "--port", str(floor_port)]
        floor = await _start(fcmd, floor_port, logs / "floor.log")
        try:
            _log(f"exchange pid {server.pid} port {port}; echo floor pid {floor.pid} port {floor_port}")
            return await _measure(args, port, floor_port, server.pid)
        finally:
            _stop(floor)
            _stop(server)


def _targets(r: Result) -> Result:
    c = r["crowd"]
    return {
        "ws_place_p50_le_2.5x_echo": r["order_entry"]["place_p50_vs_echo"] <= 2.5,
        "ack_to_trade_p99_lt_5ms": r["ack_to_trade"]["ack_to_event"]["p99_ms"] < 5.0,
        "crowd_lag_p99_lt_100ms": c["lag_ms"]["p99"] < 100.0,
        "crowd_no_drops_no_gaps": c["dropped"] == 0 and c["depth_dropped"] == 0 and c["gaps"] == 0,
        "crowd_probe_p99_le_2x_idle": c["probe_p99_ratio"] <= 2.0,
    }


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench.ws", description=__doc__.splitlines()[0])
    p.add_argument("--json", action="store_true", help="one JSON object on stdout")
    p.add_argument("--repeat", type=int, default=1, help="whole runs; the report gives medians")
    p.add_argument("--server-args", default="", help='extra server options, e.g. "--fsync off"')
    p.add_argument("--pairs", type=int, default=2000, help="timed place+cancel pairs on the socket")
    p.add_argument("--warmup", type=int, default=200, help="untimed pairs first")
    p.add_argument("--trades", type=int, default=500, help="timed taker orders, ack -> trade event")
    p.add_argument("--subscribers", type=int, default=1000, help="the crowd at 100 orders/s")
    p.add_argument("--seconds", type=float, default=10.0, help="crowd: seconds with and without it")
    p.add_argument("--sat-subscribers", type=int, default=200)
    p.add_argument("--sat-seconds", type=float, default=5.0)
    p.add_argument("--sat-pairs", type=int, default=32, help="maker/taker connection pairs pumping")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)  # children inherit it
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4 * args.subscribers + 1024)), hard))
    runs: list[Result] = []
    for i in range(args.repeat):
        _log(f"run {i + 1}/{args.repeat}")
        runs.append(asyncio.run(run_once(args)))
    report: Result = _median_of(runs)
    report["targets"] = _targets(report)
    report["date"] = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    if args.repeat > 1:
        report["runs"] = runs
    print(json.dumps(report, indent=None if args.json else 2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
