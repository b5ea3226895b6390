"""Binance's symbol names: ``SOLUSDC`` for the venue's ``SOL_USDC``, built once per app.

``config.compact_symbol`` is one to one over a loaded venue (collisions are refused at load), so
the reverse map is exact. An unknown name is Binance's -1121 "Invalid symbol.".
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from exchange.config import compact_symbol
from exchange.domain.markets import Market
from exchange.domain.reasons import Reason
from exchange.web.errors import ApiError


class Symbols:
    """Both directions between Binance's names and the venue's markets."""

    __slots__ = ("_by_compact", "_compact")

    def __init__(self, markets: Mapping[str, Market]) -> None:
        self._by_compact = {compact_symbol(s): m for s, m in markets.items()}
        self._compact = {s: compact_symbol(s) for s in markets}

    def market(self, name: str) -> Market:
        """The market Binance calls ``name`` (upper case, as Binance takes it); -1121 if none."""
        found = self._by_compact.get(name)
        if found is None:
            raise ApiError.of(Reason.UNKNOWN_SYMBOL, f"unknown symbol {name[:40]!r}")
        return found

    def compact(self, symbol: str) -> str:
        """The Binance name of the venue's market ``symbol``."""
        return self._compact[symbol]

    def __iter__(self) -> Iterator[Market]:
        return iter(self._by_compact.values())
