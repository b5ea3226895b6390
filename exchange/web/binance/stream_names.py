"""Binance market stream names (``solusdc@trade``) -> what to send and the hub topic it rides.

Names are Binance's: the compact symbol in lower case, then the kind: ``depth``,
``depth@100ms``, ``depth5``/``depth10``/``depth20`` (optionally ``@100ms``), ``trade``,
``aggTrade``, ``kline_<interval>``, ``ticker``, ``miniTicker``, ``bookTicker``; and the
all-market ``!ticker@arr`` and ``!miniTicker@arr``. Each stream has two hub topics, one per
frame form: ``bnr:`` for raw sockets (the event alone) and ``bnc:`` for combined ones
(``{"stream", "data"}``), so each form is encoded once per event whatever the crowd. A topic
names the venue's symbol right after its first ``@`` (``bnr:trade@SOL_USDC``), as the hub
counts subscribers per market by that, and the feed skips markets nobody watches.
"""

from __future__ import annotations

from typing import NamedTuple

from exchange.config import Venue, compact_symbol
from exchange.service.marketdata import INTERVALS

SIMPLE = frozenset({"trade", "aggTrade", "ticker", "miniTicker", "bookTicker", "depth"})
PARTIAL = {"depth5": 5, "depth10": 10, "depth20": 20}
ALL_MARKETS = frozenset({"!ticker@arr", "!miniTicker@arr"})


class Stream(NamedTuple):
    """``kind`` as Binance spells it (``kline_1m``, ``depth5``); ``symbol`` the venue's
    (``SOL_USDC``), None for an all-market stream; ``fast``: the ``@100ms`` variant."""

    name: str
    kind: str
    symbol: str | None
    fast: bool = False


def by_compact(venue: Venue) -> dict[str, str]:
    """``solusdc`` -> ``SOL_USDC`` for every market of the venue."""
    return {compact_symbol(s).lower(): s for s in venue.markets}


def parse(name: str, symbols: dict[str, str]) -> Stream | None:
    """The stream ``name`` means (its name spelled canonically: the symbol in lower case), or
    None if it is not one this venue has."""
    if name in ALL_MARKETS:
        return Stream(name, name, None)
    compact, _, rest = name.partition("@")
    symbol = symbols.get(compact.lower())
    kind, _, speed = rest.partition("@")
    if symbol is None or speed not in ("", "100ms"):
        return None
    fast = speed == "100ms"
    canonical = f"{compact.lower()}@{rest}"
    if kind in PARTIAL or kind == "depth":
        return Stream(canonical, kind, symbol, fast)
    if fast:
        return None
    if kind in SIMPLE or (kind.startswith("kline_") and kind[6:] in INTERVALS):
        return Stream(canonical, kind, symbol)
    return None


def topic(stream: Stream, combined: bool) -> str:
    return topic_of(stream.kind, stream.symbol, stream.fast, combined)


def topic_of(kind: str, symbol: str | None, fast: bool, combined: bool) -> str:
    form = "bnc:" if combined else "bnr:"
    if symbol is None:
        return form + kind
    return f"{form}{kind}@{symbol}{'@100ms' if fast else ''}"
