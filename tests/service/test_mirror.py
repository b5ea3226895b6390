"""A gateway's market-data mirror: in-order messages apply, old ones are skipped, a gap or a
reconnection starts again from a snapshot and replays what arrived meanwhile."""

from __future__ import annotations

import asyncio

from exchange.config import load_venue
from exchange.domain.events import BookChanged, Event
from exchange.service.marketdata import MarketData, MarketDataSnapshot
from exchange.service.mirror import MarketMirror

VENUE = load_venue()
SOL = "SOL_USDC"


def _book(seq: int, price: int, qty: int) -> list[Event]:
    return [BookChanged(seq, 1000 + seq, SOL, [(price, qty)], [])]


class Source:
    """The engine's market data, and the messages it published for a mirror."""

    def __init__(self) -> None:
        self.md = MarketData(VENUE.markets)
        self.messages: list[tuple[int, list[Event]]] = []
        self.fetched = 0

    def command(self, seq: int, price: int, qty: int) -> tuple[int, list[Event]]:
        events = _book(seq, price, qty)
        self.md.apply(events)
        message = (self.md.last_update_id(SOL), events)
        self.messages.append(message)
        return message

    async def fetch(self) -> MarketDataSnapshot:
        self.fetched += 1
        return self.md.snapshot()


def _mirror(source: Source) -> tuple[MarketMirror, MarketData]:
    md = MarketData(VENUE.markets)
    return MarketMirror(md, [md.apply], source.fetch), md


async def _settle(mirror: MarketMirror) -> None:
    async with asyncio.timeout(5):
        while not mirror.ready:
            await asyncio.sleep(0)


async def test_messages_before_the_first_snapshot_are_held_then_applied_once() -> None:
    source = Source()
    mirror, md = _mirror(source)
    source.command(1, 100, 5)
    mirror.resync()
    mirror.on_market(SOL, *source.command(2, 101, 3))  # arrives while the snapshot is on its way
    await _settle(mirror)
    mirror.on_market(SOL, *source.command(3, 100, 0))
    assert md.snapshot() == source.md.snapshot()
    assert source.fetched == 1


async def test_a_gap_fetches_a_new_snapshot_and_the_mirror_ends_equal() -> None:
    source = Source()
    mirror, md = _mirror(source)
    mirror.resync()
    await _settle(mirror)
    mirror.on_market(SOL, *source.command(1, 100, 5))
    source.command(2, 99, 4)  # lost on the way
    mirror.on_market(SOL, *source.command(3, 98, 1))
    assert not mirror.ready  # stopped applying at the gap
    await _settle(mirror)
    assert source.fetched == 2 and mirror.resyncs == 2
    mirror.on_market(SOL, *source.command(4, 97, 2))
    assert md.snapshot() == source.md.snapshot()


async def test_an_old_message_is_skipped() -> None:
    source = Source()
    mirror, md = _mirror(source)
    first = source.command(1, 100, 5)
    mirror.resync()
    await _settle(mirror)
    mirror.on_market(SOL, *first)  # already in the snapshot: applying it again would be wrong
    assert md.last_update_id(SOL) == 1 and md.depth(SOL, 10).bids == [(100, 5)]
