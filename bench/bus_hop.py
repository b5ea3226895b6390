"""One command hop over Redis, measured: a list against a stream, replies on pub/sub.

``python -m bench.bus_hop --json`` starts its own redis-server (``exchange.devtools.redis_server``) and an
"engine" process that takes commands and publishes each reply on the requester's channel,
as the Redis bus does, with redis.asyncio + hiredis on uvloop:
- ``list``: RPUSH; the engine BLPOPs one, then LPOPs up to ``COUNT`` more (one round trip each);
- ``stream``: XADD; the engine XREADGROUPs up to ``COUNT`` (BLOCK), replies, then XACKs them.
Each is measured as a sequential round trip (p50/p99, one requester) and as closed-loop
throughput (``--clients`` requesters, each waiting for its reply before the next command).
An asyncio.Queue hop in one process is the floor. JSON on stdout, progress on stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import statistics
import sys
import time
from typing import Any

import msgspec
import uvloop
from redis import asyncio as aioredis

from exchange.devtools.redis_server import running

COUNT = 512
KEY, GROUP, REPLIES = "hop:cmds", "engine", "hop:replies"
_enc = msgspec.msgpack.Encoder()
_dec = msgspec.msgpack.Decoder(tuple[int, bytes])


def _log(msg: str) -> None:
    print(f"[bench.bus_hop] {msg}", file=sys.stderr, flush=True)


# -- the engine side -------------------------------------------------------------------------
async def _engine(url: str, kind: str) -> None:
    r: Any = aioredis.from_url(url)  # redis-py's response unions say less than the protocol
    if kind == "stream":
        await r.xgroup_create(KEY, GROUP, id="0", mkstream=True)
    while True:
        if kind == "list":
            first = await r.blpop([KEY], timeout=0)
            more = await r.lpop(KEY, COUNT - 1) or []
            payloads, ids = [first[1], *more], []
        else:
            got = await r.xreadgroup(GROUP, "e1", {KEY: ">"}, count=COUNT, block=0)
            entries = got[0][1]
            payloads, ids = [fields[b"m"] for _, fields in entries], [i for i, _ in entries]
        pipe = r.pipeline(transaction=False)
        for raw in payloads:
            if raw == b"stop":
                return
            pipe.publish(REPLIES, raw)  # the reply carries the request id back
        if ids:
            pipe.xack(KEY, GROUP, *ids)
        await pipe.execute()


def _engine_main(url: str, kind: str) -> None:
    uvloop.run(_engine(url, kind))


# -- the requester side ----------------------------------------------------------------------
class Requester:
    def __init__(self, url: str, kind: str) -> None:
        self.r: Any = aioredis.from_url(url)
        self.kind = kind
        self.waiting: dict[int, asyncio.Future[None]] = {}
        self.next_id = 0

    async def start(self) -> None:
        self.pubsub: Any = self.r.pubsub()
        await self.pubsub.subscribe(REPLIES)
        await self.pubsub.get_message(timeout=1)  # the subscribe confirmation
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for msg in self.pubsub.listen():
            if msg["type"] == "message":
                rid, _ = _dec.decode(msg["data"])
                fut = self.waiting.pop(rid, None)
                if fut is not None:
                    fut.set_result(None)

    async def call(self) -> None:
        self.next_id += 1
        rid = self.next_id
        fut = self.waiting[rid] = asyncio.get_running_loop().create_future()
        raw = _enc.encode((rid, b"x" * 120))  # about the size of an encoded PlaceOrder
        if self.kind == "list":
            await self.r.rpush(KEY, raw)
        else:
            await self.r.xadd(KEY, {"m": raw})
        await fut

    async def stop(self) -> None:
        await (self.r.rpush(KEY, b"stop") if self.kind == "list" else self.r.xadd(KEY, {"m": b"stop"}))
        self.reader.cancel()
        await self.pubsub.aclose()
        await self.r.aclose()


def _quantiles(samples: list[float]) -> dict[str, float]:
    samples.sort()
    return {
        "p50_ms": round(statistics.median(samples) * 1000, 3),
        "p99_ms": round(samples[int(len(samples) * 0.99)] * 1000, 3),
    }


async def _measure(url: str, kind: str, rounds: int, clients: int, total: int) -> dict[str, Any]:
    await aioredis.from_url(url).delete(KEY)
    engine = multiprocessing.get_context("spawn").Process(target=_engine_main, args=(url, kind))
    engine.start()
    req = Requester(url, kind)
    await req.start()
    await asyncio.sleep(0.3)  # the engine process is up and blocked on its first read
    for _ in range(200):
        await req.call()
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        await req.call()
        samples.append(time.perf_counter() - started)

    async def client(n: int) -> None:
        for _ in range(n):
            await req.call()

    started = time.perf_counter()
    await asyncio.gather(*(client(total // clients) for _ in range(clients)))
    rate = (total // clients * clients) / (time.perf_counter() - started)
    await req.stop()
    engine.join(10)
    return {**_quantiles(samples), f"msgs_per_s_{clients}_clients": round(rate)}


async def _queue_floor(rounds: int) -> dict[str, Any]:
    queue: asyncio.Queue[asyncio.Future[None]] = asyncio.Queue()

    async def engine() -> None:
        while True:
            (await queue.get()).set_result(None)

    task = asyncio.create_task(engine())
    samples = []
    loop = asyncio.get_running_loop()
    for _ in range(rounds):
        started = time.perf_counter()
        fut = loop.create_future()
        queue.put_nowait(fut)
        await fut
        samples.append(time.perf_counter() - started)
    task.cancel()
    return _quantiles(samples)


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    result: dict[str, Any] = {"bench": "bus_hop", "rounds": args.rounds, "clients": args.clients}
    result["asyncio_queue"] = await _queue_floor(args.rounds)
    with running() as server:
        for kind in ("list", "stream"):
            _log(f"{kind}: {args.rounds} round trips, then {args.total} messages from {args.clients} clients")
            result[kind] = await _measure(server.url, kind, args.rounds, args.clients, args.total)
            _log(f"{kind}: {result[kind]}")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.bus_hop")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--rounds", type=int, default=3000)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--total", type=int, default=30_000)
    args = parser.parse_args()
    result = uvloop.run(main_async(args))
    print(json.dumps(result, indent=None if args.json else 2))


if __name__ == "__main__":
    main()
