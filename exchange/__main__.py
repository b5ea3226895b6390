"""Command line: ``python -m exchange demo`` (the server's ``serve`` lands with the gateway)."""

from __future__ import annotations

import argparse
import sys

from exchange.config import ConfigError, load_venue


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m exchange")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="run simulated traders through the engine and print the result")
    demo.add_argument("--config", help="markets and assets TOML (default: the demo config)")
    demo.add_argument("--seed", type=int, default=7)
    demo.add_argument("--orders", type=int, default=400)
    args = parser.parse_args(argv)
    try:
        venue = load_venue(args.config)
    except ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        return 2
    from exchange.engine_demo import run

    run(venue, seed=args.seed, orders=args.orders)
    return 0


if __name__ == "__main__":
    sys.exit(main())
