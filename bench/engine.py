"""Engine throughput and latency on a mixed workload, against a minimal reference matcher.

``python -m bench.engine --json`` prints one JSON object on stdout; progress goes to stderr.
Each run does two passes per side on a fresh book with the same prebuilt stream: a bare loop
timed as a whole (throughput, no per-command timers) and a loop with ``perf_counter_ns``
around every call (latency percentiles). The cyclic GC is off inside both timed loops.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import exchange.domain
from bench import workload
from bench.reference import ReferenceExchange
from exchange.config import Venue, load_venue
from exchange.devtools import build
from exchange.domain.commands import AnyCommand
from exchange.domain.engine import Engine
from exchange.domain.events import OrderRejected

Result = dict[str, Any]


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _timed_loop(fn: Callable[[], None]) -> float:
    """Seconds ``fn`` takes with the cyclic GC off: collected first so no pass pays for another."""
    gc.collect()
    gc.disable()
    try:
        t0 = time.perf_counter_ns()
        fn()
        return (time.perf_counter_ns() - t0) / 1e9
    finally:
        gc.enable()


def _percentiles(lat_ns: list[int]) -> Result:
    lat_ns.sort()
    n = len(lat_ns)

    def at(q: float) -> float:
        return round(lat_ns[min(n - 1, int(q * n))] / 1000, 2)

    return {
        "p50_us": at(0.50),
        "p99_us": at(0.99),
        "p999_us": at(0.999),
        "max_us": round(lat_ns[-1] / 1000, 2),
    }


# -- engine --------------------------------------------------------------------------------
def _fresh_engine(venue: Venue, setup: Sequence[AnyCommand]) -> Engine:
    engine = Engine(venue.assets, venue.markets)
    for cmd in setup:
        engine.handle(cmd)
    return engine


def _engine_throughput(venue: Venue, setup: Sequence[AnyCommand], cmds: Sequence[AnyCommand]) -> float:
    engine = _fresh_engine(venue, setup)
    handle = engine.handle

    def loop() -> None:
        for cmd in cmds:
            handle(cmd)

    seconds = _timed_loop(loop)
    engine.check_integrity()
    return seconds


def _engine_latency(venue: Venue, setup: Sequence[AnyCommand], cmds: Sequence[AnyCommand]) -> Result:
    engine = _fresh_engine(venue, setup)
    handle, clock = engine.handle, time.perf_counter_ns
    lat = [0] * len(cmds)
    counts = {"events": 0}
    reasons: dict[str, int] = {}

    def loop() -> None:
        events = 0
        for i, cmd in enumerate(cmds):
            t0 = clock()
            out = handle(cmd)
            lat[i] = clock() - t0
            events += len(out)
            first = out[0]
            if type(first) is OrderRejected:
                reasons[first.reason.value] = reasons.get(first.reason.value, 0) + 1
        counts["events"] = events

    _timed_loop(loop)
    engine.check_integrity()
    return {
        **_percentiles(lat), "events": counts["events"], "rejected": sum(reasons.values()),
        "rejected_by_reason": dict(sorted(reasons.items())), "trades": engine.next_trade_id - 1,
        "resting_orders": len(engine.orders), "integrity": "ok",
    }  # fmt: skip


def run_engine(venue: Venue, wl: workload.Workload, repeat: int) -> Result:
    setup = workload.to_commands(wl.setup, 1)
    cmds = workload.to_commands(wl.timed, len(setup) + 1)
    runs = []
    for r in range(repeat):
        _log(f"engine run {r + 1}/{repeat}: throughput pass")
        seconds = _engine_throughput(venue, setup, cmds)
        _log(f"engine run {r + 1}/{repeat}: latency pass")
        runs.append({"seconds": seconds, **_engine_latency(venue, setup, cmds)})
    return _summary(len(cmds), runs)


# -- reference -----------------------------------------------------------------------------
def _fresh_reference(wl: workload.Workload) -> tuple[ReferenceExchange, list[workload.Call]]:
    ref = ReferenceExchange(list(workload.SYMBOLS))
    for fn, args in workload.to_calls(wl.setup, ref):
        fn(*args)
    return ref, workload.to_calls(wl.timed, ref)


def _reference_throughput(wl: workload.Workload) -> float:
    _, calls = _fresh_reference(wl)

    def loop() -> None:
        for fn, args in calls:
            fn(*args)

    return _timed_loop(loop)


def _reference_latency(wl: workload.Workload) -> Result:
    ref, calls = _fresh_reference(wl)
    clock = time.perf_counter_ns
    lat = [0] * len(calls)

    def loop() -> None:
        for i, (fn, args) in enumerate(calls):
            t0 = clock()
            fn(*args)
            lat[i] = clock() - t0

    _timed_loop(loop)
    return {
        **_percentiles(lat), "trades": ref.trades, "resting_orders": len(ref.orders),
        "not_found": ref.not_found,
    }  # fmt: skip


def run_reference(wl: workload.Workload, repeat: int) -> Result:
    runs = []
    for r in range(repeat):
        _log(f"reference run {r + 1}/{repeat}: throughput pass")
        seconds = _reference_throughput(wl)
        _log(f"reference run {r + 1}/{repeat}: latency pass")
        runs.append({"seconds": seconds, **_reference_latency(wl)})
    return _summary(len(wl.timed), runs)


# -- report --------------------------------------------------------------------------------
def _summary(n: int, runs: list[Result]) -> Result:
    """Medians over the runs of every timing; counts are the same in every run (same stream)."""
    out: Result = {"commands": n}
    seconds = statistics.median(r["seconds"] for r in runs)
    out["seconds"] = round(seconds, 4)
    out["commands_per_sec"] = round(statistics.median(n / r["seconds"] for r in runs))
    for key, value in runs[0].items():
        if key.endswith("_us"):
            out[key] = round(statistics.median(r[key] for r in runs), 2)
        elif key != "seconds":
            out[key] = value
    return out


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.engine", description=__doc__.split("\n")[0])
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.add_argument("--workload", choices=("engine", "reference", "both"), default="both")
    p.add_argument("--commands", type=int, default=200_000, help="timed commands (default 200000)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--users", type=int, default=300)
    p.add_argument("--prefill", type=int, default=5_000, help="resting orders placed before timing")
    p.add_argument("--repeat", type=int, default=1, help="runs; timings reported as medians")
    args = p.parse_args(argv)
    if args.commands < 1 or args.repeat < 1 or args.users < 1:
        p.error("--commands, --repeat and --users must be at least 1")
    return args


def _source_digest() -> str:
    """Short hash of the engine's source: the domain code changes often, so results name it."""
    digest = hashlib.sha256()
    for path in sorted(Path(exchange.domain.__file__).parent.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def _report(args: argparse.Namespace, venue: Venue) -> Result:
    _log(f"building workload: {args.commands} commands, seed {args.seed}")
    wl = workload.build(venue.assets, venue.markets, args.commands, args.seed, args.users, args.prefill)
    python = sys.version.replace("\n", " ")
    meta = {
        "domain_sha": _source_digest(),
        "engine_build": "compiled" if build.check() else "interpreted",
        "seed": args.seed,
        "users": args.users,
        "prefill": args.prefill,
        "mix": wl.mix,
    }
    engine = run_engine(venue, wl, args.repeat) if args.workload != "reference" else None
    ref = run_reference(wl, args.repeat) if args.workload != "engine" else None
    if engine is not None and ref is not None:
        same = _same_matching(engine, ref)
        ratio = round(engine["commands_per_sec"] / ref["commands_per_sec"], 3)
        return {
            "engine": engine,
            "reference": ref,
            "ratio": ratio,
            "same_matching": same,
            "python": python,
            **meta,
        }
    return {**(engine or ref or {}), "python": python, **meta}


def _same_matching(engine: Result, ref: Result) -> bool:
    """Both books made the same trades, missed the same cancels and ended with the same orders."""
    not_found = engine["rejected_by_reason"].get("ORDER_NOT_FOUND", 0)
    keys = ("trades", "resting_orders")
    return not_found == ref["not_found"] and all(engine[k] == ref[k] for k in keys)


def _print_text(report: Result) -> None:
    for side in ("engine", "reference"):
        r = report.get(side, report)
        if "commands_per_sec" in r:
            print(f"{side:9} {r['commands_per_sec']:>9,} cmd/s  p50 {r['p50_us']} us  p99 {r['p99_us']} us")
        if side not in report:
            break
    if "ratio" in report:
        print(f"ratio engine/reference: {report['ratio']}")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(argv)
    report = _report(args, load_venue())
    if args.json:
        print(json.dumps(report))
    else:
        _print_text(report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
