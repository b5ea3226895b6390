"""The floor: a bare aiohttp app with one JSON POST handler, ``python -m bench.floor --port P``.

It decodes the JSON body and answers a small JSON object; no middleware, no access log (as the
exchange runs). ``--uvloop`` runs it on uvloop, to match a server that does.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

import orjson
from aiohttp import web

PATH = "/api/v1/order"


def command(port: int, *, uvloop: bool) -> list[str]:
    """The argv that runs the floor on ``port``."""
    return [sys.executable, "-m", "bench.floor", "--port", str(port), *(["--uvloop"] if uvloop else [])]


async def handle(request: web.Request) -> web.Response:
    data = orjson.loads(await request.read())
    return web.Response(body=orjson.dumps({"ok": True, "fields": len(data)}), content_type="application/json")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.floor")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--uvloop", action="store_true")
    args = parser.parse_args(argv)
    app = web.Application()
    app.router.add_post(PATH, handle)
    loop: asyncio.AbstractEventLoop | None = None
    if args.uvloop:
        import uvloop

        loop = uvloop.new_event_loop()
    web.run_app(app, host=args.host, port=args.port, access_log=None, print=None, loop=loop)


if __name__ == "__main__":
    main()
