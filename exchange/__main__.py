"""Command line: ``python -m exchange serve`` runs the exchange; ``demo`` runs the engine alone;
``operator add|list|remove`` manages the operator role (exchange/app/operators.py).

Nothing happens at import time; ``main`` parses options into ``Settings`` and hands them to
the composition root.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import orjson

from exchange.config import ConfigError, Limits, Settings, limits_table, load_venue, read_limits
from exchange.limits import bench_limits, describe, limits_json, replace_table


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m exchange")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the exchange: REST API, WebSocket feed and engine")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument("--config", help="markets and assets TOML (default: the demo config)")
    serve.add_argument("--data-dir", default="data", help="journal, snapshots, SQLite (created if missing)")
    serve.add_argument("--fsync", choices=["batch", "off"], default="batch")
    serve.add_argument(
        "--no-journal", action="store_true", help="benchmarks only: keep nothing across restarts"
    )
    serve.add_argument("--bus", default="memory", help="memory, or redis://HOST:PORT")
    serve.add_argument("--role", choices=["all", "engine", "gateway"], default="all",
                       help="all: one process; engine: the engine alone; gateway: HTTP/WS")  # fmt: skip
    serve.add_argument("--bus-timeout", type=float, default=5.0, help="seconds a gateway waits")
    serve.add_argument("--bus-prefix", default="ex", help="Redis key and channel prefix of this cluster")
    serve.add_argument("--demo", action=argparse.BooleanOptionalAction, default=True,
                       help="self-service onramp and the liquidity bot")  # fmt: skip
    serve.add_argument("--no-bot", action="store_true", help="demo onramp without the liquidity bot")
    serve.add_argument("--admin", action="append", default=[], help="username allowed to onramp freely")
    serve.add_argument("--queue-size", type=int, default=10_000)
    serve.add_argument("--snapshot-every", type=int, default=100_000, help="commands between snapshots")
    serve.add_argument("--snapshot-seconds", type=float, default=300.0, help="seconds between snapshots")
    _limit_options(serve)
    limits = sub.add_parser("limits", help="print the limits (defaults, or as --config and options set them)")
    limits.add_argument("--config", help="a venue TOML whose [limits] table applies")
    limits.add_argument("--json", action="store_true", help="as GET /api/v1/limits answers them")
    limits.add_argument("--write", metavar="FILE", help="rewrite the Limits table in FILE (docs/API.md)")
    _limit_options(limits)
    op = sub.add_parser("operator", help="add, list or remove operators (docs/API.md#operators)")
    op_sub = op.add_subparsers(dest="action", required=True)
    add = op_sub.add_parser("add", help="a new operator account; prints its first API key and secret once")
    add.add_argument("name")
    add.add_argument("--promote", action="store_true", help="make an existing user an operator instead")
    add.add_argument("--password-stdin", action="store_true",
                     help="read a password from stdin (to sign in on pages); default: random")  # fmt: skip
    op_sub.add_parser("list", help="every operator")
    remove = op_sub.add_parser("remove", help="make an operator a user again")
    remove.add_argument("name")
    for each in (add, op_sub.choices["list"], remove):
        each.add_argument("--data-dir", default="data", help="the server's data directory")
    demo = sub.add_parser("demo", help="run simulated traders through the engine alone and print the result")
    demo.add_argument("--config", help="markets and assets TOML (default: the demo config)")
    demo.add_argument("--seed", type=int, default=7)
    demo.add_argument("--orders", type=int, default=400)
    return parser


def _limit_options(parser: argparse.ArgumentParser) -> None:
    """One option per field of ``Limits`` (generated: the CLI cannot drift from the struct)."""
    group = parser.add_argument_group(
        "limits", "each overrides the config file's [limits] table; what each means: docs/API.md#limits"
    )
    lifts = "benchmarks: lift every per-user, per-address and per-connection rate"
    group.add_argument("--bench-limits", action="store_true", help=lifts)
    for lim in describe():
        group.add_argument(f"--{lim.name.replace('_', '-')}", type=lim.type, metavar="N",
                           help=f"{lim.unit}, default {lim.default:g}")  # fmt: skip


def _limits(args: argparse.Namespace) -> Limits:
    given = {lim.name: getattr(args, lim.name) for lim in describe() if getattr(args, lim.name) is not None}
    return read_limits(args.config, {**(bench_limits() if args.bench_limits else {}), **given})


def _settings(args: argparse.Namespace) -> Settings:
    return Settings(
        host=args.host, port=args.port, config=args.config, data_dir=args.data_dir, fsync=args.fsync,
        journal=not args.no_journal,
        bus=args.bus, role=args.role, demo=args.demo, bot=args.demo and not args.no_bot,
        admins=tuple(args.admin), queue_size=args.queue_size, snapshot_every=args.snapshot_every,
        snapshot_seconds=args.snapshot_seconds, bus_timeout=args.bus_timeout, bus_prefix=args.bus_prefix,
        limits=_limits(args),
    )  # fmt: skip


def serve(settings: Settings) -> int:
    import gc

    import uvloop
    from aiohttp import web

    from exchange.app import create_app
    from exchange.web.keys import CRASHED

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = create_app(settings, load_venue(settings.config), stop_on_crash=True)
    # Start-up objects never die: move them out of the collector's sight, and collect the
    # young generation less often (requests allocate many short-lived, acyclic objects).
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)
    loop = uvloop.new_event_loop()  # 10-30% less per request than the default loop here
    web.run_app(app, host=settings.host, port=settings.port, shutdown_timeout=10, access_log=None, loop=loop)
    return 70 if app[CRASHED] else 0


def show_limits(args: argparse.Namespace) -> int:
    if args.write:
        path = Path(args.write)
        path.write_text(replace_table(path.read_text(encoding="utf-8"), limits_table()), encoding="utf-8")
        return 0
    limits = _limits(args)
    json = orjson.dumps(limits_json(limits), option=orjson.OPT_INDENT_2).decode() if args.json else None
    print(json or limits_table(limits, args.config), end="\n" if json else "")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "serve":
            return serve(_settings(args))
        if args.command == "limits":
            return show_limits(args)
        if args.command == "operator":
            from exchange.app.operators import operator

            return operator(args.action, args.data_dir, getattr(args, "name", None),
                            promote=getattr(args, "promote", False),
                            password_stdin=getattr(args, "password_stdin", False))  # fmt: skip
        venue = load_venue(args.config)
    except ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        return 2
    from exchange.demo.engine_tour import run

    run(venue, seed=args.seed, orders=args.orders)
    return 0


if __name__ == "__main__":
    sys.exit(main())
