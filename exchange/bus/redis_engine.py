"""The Redis bus, engine side: ``CommandSource`` over the command stream, ``EventSink`` onto
the event channels, and the answers to gateways' read-only queries (see bus/redis.py for the
layout and the reasons).

The runner takes a batch with ``next_batch`` (one XREADGROUP of up to ``limit`` entries, each a
gateway's list of commands; what is over ``limit`` waits for the next call), stamps and
journals it, applies it, publishes events and resolves each command's future. Once every
command of an entry is resolved, its replies and its XACK + XDEL are queued, so an entry is
acknowledged only after it was journaled; a flusher task sends what is queued (events first,
then the replies grouped per gateway, then the acknowledgements) as ONE script call (EVALSHA)
per loop turn, so a gateway hears a command's market events before its reply. At start the
engine first takes the entries it read in an earlier life but never acknowledged (stream id
``0``): those it had not journaled run now; those it had come back as duplicates, which the
engine does not apply again (``DUPLICATE_REQUEST``, the request-id window in its state), and
their gateway gets the original answer (kept here for the last ``ANSWERS_KEPT`` request ids,
refilled by the journal replay). Commands whose gateway is about to give up are dropped
unapplied.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any, cast

import msgspec

from exchange.bus.base import Backoff, Listener, Pending, QueryAnswer
from exchange.bus.messages import (
    CommandReply,
    Envelope,
    Names,
    Published,
    QueryReply,
    Reply,
    decode_envelopes,
    decode_query,
    encoder,
)
from exchange.bus.redis import close_quietly, connect, connection_errors, stop_tasks
from exchange.bus.redis_lock import EngineLease
from exchange.clock import now_ms
from exchange.domain.events import (
    FUNDING_EVENTS,
    ORDER_EVENTS,
    BalanceChanged,
    BookChanged,
    Event,
    FundingEvent,
    OrderEvent,
    OrderRejected,
    TradeExecuted,
    funding_user,
)
from exchange.domain.reasons import Reason

log = logging.getLogger(__name__)
DUPLICATE = Reason.DUPLICATE_REQUEST

#: One flush: ARGV = group, n, n (channel, message) pairs to publish, then the entry ids to
#: acknowledge and delete (acknowledged entries have no further use: the journal has them).
_FLUSH = """
local n = tonumber(ARGV[2])
for i = 1, n do
  redis.call('PUBLISH', ARGV[1 + 2 * i], ARGV[2 + 2 * i])
end
local first = 3 + 2 * n
if #ARGV >= first then
  local ids = {unpack(ARGV, first)}
  redis.call('XACK', KEYS[1], ARGV[1], unpack(ids))
  redis.call('XDEL', KEYS[1], unpack(ids))
end
return n
"""


class _Taken:
    """One stream entry's commands handed to the runner, and their futures."""

    __slots__ = ("entry_id", "envelopes", "futures", "_left", "_done")

    def __init__(self, entry_id: bytes, envelopes: list[Envelope], done: Callable[[_Taken], None]) -> None:
        self.entry_id, self.envelopes, self._done = entry_id, envelopes, done
        self.futures: list[asyncio.Future[list[Event]]] = []
        self._left = len(envelopes)

    def one_done(self, _: asyncio.Future[list[Event]]) -> None:
        self._left -= 1
        if not self._left:
            self._done(self)


#: Answers kept by request id, for redelivered commands (see ``RedisEngine.remember``).
ANSWERS_KEPT = 10_000


def _duplicate(events: list[Event]) -> bool:
    return len(events) == 1 and isinstance(events[0], OrderRejected) and events[0].reason is DUPLICATE


#: How long one XREADGROUP blocks, so that ``close`` is noticed soon.
BLOCK_MS = 200


# Where publish sends each event, by exact type (final classes; every command passes here):
# per market, per user by its order, per user by its account. OrderRejected goes nowhere.
_MARKET_EVENTS = frozenset((BookChanged, TradeExecuted))
_ACCOUNT_EVENTS = frozenset((BalanceChanged,))


class RedisEngine:
    """The engine side of the port (``bus.base.EngineSide``) on Redis. ``market_uid(symbol)`` is
    the market-data update id after the events just published (the gateways' mirrors check
    their sequence with it); ``on_lost`` runs if another engine process takes the lease."""

    def __init__(
        self,
        url: str,
        *,
        market_uid: Callable[[str], int],
        on_lost: Callable[[], None],
        names: Names | None = None,
    ) -> None:
        self.url, self.names, self.market_uid = url, names or Names(), market_uid
        self.lease = EngineLease(url, self.names, on_lost=self._lost(on_lost))
        self._listeners: list[Listener] = []
        self._events: dict[str, list[tuple[int, list[Event]]]] = {}
        self._replies: dict[str, list[Reply]] = {}  # per gateway reply channel
        self._script: Any = None
        self._ready: list[Pending] = []  # taken from the stream, beyond the last batch's limit
        self._answers: OrderedDict[str, list[Event]] = OrderedDict()  # the oldest goes first
        self._acks: list[bytes] = []
        self._wake = asyncio.Event()
        self._queries_ready = asyncio.Event()  # Redis confirmed the SUBSCRIBE to the queries
        self._client: Any = None
        #: Entries read by an earlier life of the engine but not acknowledged come first: the
        #: stream id to read the pending list after, or None once it is done.
        self._backlog: str | None = "0"
        self._closed = False
        self._tasks: list[asyncio.Task[None]] = []

    def _lost(self, on_lost: Callable[[], None]) -> Callable[[], None]:
        def lost() -> None:
            self.close()  # before two engines apply the same stream
            on_lost()

        return lost

    async def claim(self) -> None:
        """Exactly one engine per cluster: wait for the lease (bus/redis_lock.py)."""
        await self.lease.acquire()

    async def start(self, answer_query: QueryAnswer) -> None:
        """Connect (retrying with backoff until Redis answers) and create the consumer group;
        from then on gateways' queries are answered with ``answer_query``."""
        backoff = Backoff()
        while True:
            try:
                await self._connect()
                break
            except connection_errors() as exc:
                log.warning("Redis at %s does not answer (%s); retrying", self.url, exc)
                await backoff.wait()
        self._tasks = [
            asyncio.create_task(self._flush_loop(), name="redis-engine-flush"),
            asyncio.create_task(self._query_loop(answer_query), name="redis-engine-queries"),
        ]

    async def _connect(self) -> None:
        client = connect(self.url)
        try:
            await client.xgroup_create(self.names.commands, self.names.group, id="0", mkstream=True)
        except connection_errors():
            await client.aclose()
            raise
        except Exception as exc:  # BUSYGROUP: it exists already (the usual case after a restart)
            if "BUSYGROUP" not in str(exc):
                raise
        self._client = client
        self._script = client.register_script(_FLUSH)

    def close(self) -> None:
        """Stop taking commands: ``next_batch`` returns [] within ``BLOCK_MS``."""
        self._closed = True

    def abandon(self, exc: BaseException) -> None:
        """Nothing to fail here: unread commands stay in the stream for the next engine."""

    async def aclose(self) -> None:
        """After the runner has drained: send what is queued, then disconnect."""
        self._closed = True
        await self._flush()
        await stop_tasks(self._tasks)
        if self._client is not None:
            await self._client.aclose()

    async def release(self) -> None:
        """Give up the lease, last (a standby engine must not read files this one still writes)."""
        await self.lease.release()

    def depth(self) -> int:
        return 0  # commands wait in the Redis stream, not here

    # -- CommandSource ---------------------------------------------------------------------
    async def next_batch(self, limit: int) -> list[Pending]:
        """Up to ``limit`` commands; an entry holds a gateway's whole write, so what is over the
        limit waits here for the next call (in order)."""
        backoff = Backoff()
        while not self._ready and not self._closed:
            try:
                entries = await self._read(limit)
            except connection_errors() as exc:
                log.warning("engine lost Redis (%s); reconnecting", exc)
                await backoff.wait()
                await self._reconnect()
                continue
            self._ready = self._batch(entries)
        batch, self._ready = self._ready[:limit], self._ready[limit:]
        return batch

    async def _read(self, limit: int) -> list[tuple[bytes, dict[bytes, bytes]]]:
        names, backlog = self.names, self._backlog
        try:
            got = await self._client.xreadgroup(
                names.group, "engine", {names.commands: backlog or ">"}, count=limit,
                block=None if backlog else BLOCK_MS,
            )  # fmt: skip
        except Exception as exc:
            if "NOGROUP" not in str(exc):
                raise
            await self._reconnect()  # Redis restarted empty: the group is gone with the stream
            return []
        entries: list[tuple[bytes, dict[bytes, bytes]]] = got[0][1] if got else []
        if backlog is not None:
            self._backlog = entries[-1][0].decode() if entries else None
            if entries:
                log.warning("taking %d commands read but not acknowledged before a restart", len(entries))
        return entries

    async def _reconnect(self) -> None:
        old, self._client = self._client, None
        await close_quietly(old)
        try:
            await self._connect()
        except connection_errors():
            self._client = connect(self.url)  # the next read fails fast and backs off again

    def _batch(self, entries: list[tuple[bytes, dict[bytes, bytes]]]) -> list[Pending]:
        """The commands of ``entries`` still worth running, each with the future it resolves."""
        loop = asyncio.get_running_loop()
        now = now_ms()
        batch: list[Pending] = []
        for entry_id, fields in entries:
            try:
                envelopes = decode_envelopes(fields[b"m"])
            except (KeyError, msgspec.DecodeError):
                log.error("dropping an undecodable command entry %r", entry_id)
                envelopes = []
            # A command its gateway has given up on (answered 503 ENGINE_TIMEOUT) is not run.
            taken = _Taken(entry_id, [env for env in envelopes if now <= env.expires_ms], self._answered)
            for env in taken.envelopes:
                future: asyncio.Future[list[Event]] = loop.create_future()
                future.add_done_callback(taken.one_done)
                taken.futures.append(future)
                batch.append((env.command, future))
            if not taken.futures:
                self._answered(taken)
        return batch

    def _answered(self, taken: _Taken) -> None:
        """Every command of one entry is answered, which the runner does only after journaling
        them: queue the answers and the entry's acknowledgement."""
        replies = self._replies
        for env, future in zip(taken.envelopes, taken.futures, strict=True):
            replies.setdefault(env.reply_to, []).append(self._reply(env, future))
        self._acks.append(taken.entry_id)
        self._wake.set()

    def _reply(self, env: Envelope, future: asyncio.Future[list[Event]]) -> CommandReply:
        rid = env.command.request_id or ""
        if future.cancelled() or not future.done():
            return CommandReply(rid, [], "the engine stopped")
        exc = future.exception()
        if exc is not None:
            return CommandReply(rid, [], str(exc) or "the engine stopped")
        events = future.result()
        if _duplicate(events):
            # Redelivered after a crash between journaling it and answering: its gateway may
            # still be waiting, and deserves the answer the command had, not "duplicate".
            events = self._answers.get(rid, events)
        else:
            self.remember(rid, events)
        return CommandReply(rid, events)  # type: ignore[arg-type]

    def remember(self, request_id: str | None, events: list[Event]) -> None:
        """Keep the answer of a request id (the last ``ANSWERS_KEPT``); the journal replay at
        start calls this too, so the commands an engine journaled but died before answering,
        redelivered to the next engine, get their original answer."""
        if request_id is None:
            return
        answers = self._answers
        answers[request_id] = events
        if len(answers) > ANSWERS_KEPT:
            answers.popitem(last=False)

    # -- EventSink -------------------------------------------------------------------------
    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def publish(self, events: Sequence[Event]) -> None:
        for listener in self._listeners:  # the engine's own projections come first
            listener(events)
        by_market: dict[str, list[Event]] = {}
        by_user: dict[int, list[Event]] = {}
        for e in events:
            kind = type(e)
            if kind in _MARKET_EVENTS:
                by_market.setdefault(cast(BookChanged, e).symbol, []).append(e)
            elif kind in ORDER_EVENTS:
                by_user.setdefault(cast(OrderEvent, e).order.user_id, []).append(e)
            elif kind in _ACCOUNT_EVENTS:
                by_user.setdefault(cast(BalanceChanged, e).user_id, []).append(e)
            elif kind in FUNDING_EVENTS:
                by_user.setdefault(funding_user(cast(FundingEvent, e)), []).append(e)
        queued, names = self._events, self.names
        for symbol, mine in by_market.items():
            queued.setdefault(names.market(symbol), []).append((self.market_uid(symbol), mine))
        for user, mine in by_user.items():
            queued.setdefault(names.user(user), []).append((0, mine))
        if by_market or by_user:
            self._wake.set()

    # -- flushing --------------------------------------------------------------------------
    async def _flush_loop(self) -> None:
        while True:
            await self._wake.wait()
            # The first event of a batch wakes this task; the batch's answers are queued by
            # done-callbacks scheduled after that wake-up: one more turn lets them all join.
            await asyncio.sleep(0)
            self._wake.clear()
            await self._flush()

    async def _flush(self) -> None:
        """Everything queued in ONE command (a Lua script): the event messages, then the
        replies, then XACK + XDEL of the answered entries. One script call costs the client a
        fraction of a pipeline of one command per channel (redis-py packs each in Python)."""
        events, self._events = self._events, {}
        replies, self._replies = self._replies, {}
        acks, self._acks = self._acks, []
        if not (events or replies or acks) or self._client is None:
            return
        args: list[bytes | str] = []
        for channel, items in events.items():
            args += (channel, encoder.encode(Published(items)))  # type: ignore[arg-type]
        for channel, answers in replies.items():
            args += (channel, encoder.encode(answers))
        args = [str(len(args) // 2), *args, *acks]
        try:
            await self._script(keys=[self.names.commands], args=[self.names.group, *args])
        except connection_errors() as exc:
            # Gateways lose these (they re-snapshot on reconnecting; their requests fail 503);
            # unacknowledged entries come back as duplicates at the next start.
            log.warning("could not publish %d replies to Redis (%s)", len(replies), exc)

    # -- queries ---------------------------------------------------------------------------
    async def queries_ready(self) -> None:
        """Until Redis has confirmed this engine's subscription to the query channel: a query
        a gateway publishes after this returns is answered (before, it may find no receiver and
        fail with ``Unavailable``). Waits again while a lost connection is being restored."""
        await self._queries_ready.wait()

    async def _query_loop(self, answer: QueryAnswer) -> None:
        backoff = Backoff()
        while True:
            client = pubsub = None
            try:
                client = connect(self.url)
                pubsub = client.pubsub()
                await pubsub.subscribe(self.names.queries)
                backoff.reset()
                async for message in pubsub.listen():
                    if message["type"] == "message":
                        asyncio.get_running_loop().create_task(self._query(message["data"], answer))
                    elif message["type"] == "subscribe":
                        self._queries_ready.set()
            except connection_errors():
                pass
            finally:
                self._queries_ready.clear()
                await close_quietly(pubsub, client)
            await backoff.wait()

    async def _query(self, data: bytes, answer: QueryAnswer) -> None:
        try:
            q = decode_query(data)
        except msgspec.DecodeError:
            log.error("dropping an undecodable query")
            return
        try:
            result = await answer(q.kind, bytes(q.args))
            reply = QueryReply(q.request_id, msgspec.Raw(encoder.encode(result)))
        except Exception as exc:
            log.exception("query %s failed", q.kind)
            reply = QueryReply(q.request_id, msgspec.Raw(b"\xc0"), f"query failed: {exc}")
        self._replies.setdefault(q.reply_to, []).append(reply)
        self._wake.set()
