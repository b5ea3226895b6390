"""Reads of engine-side state, wherever the engine is: in this process or behind the bus.

Handlers ask ``Reads`` for balances, open orders, an order with its fills, closed orders,
fills, trades older than memory, a user's deposits and withdrawals, the pending withdrawals,
the engine's status and its state hash. ``LocalReads`` answers from the engine, the recent
per-user history (memory) and the SQLite history, in the process that runs the engine
(``--role all`` and ``--role engine``, where it also answers the gateways' queries through
``answer``). ``RemoteReads`` asks the engine process over the bus
(``--role gateway``): a gateway keeps no copy of balances or orders, so what it answers is
exactly the engine's state, never a replica that may lag; market data, which every gateway
serves at a far higher rate, is mirrored instead (service/mirror.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Protocol

import msgspec

from exchange.domain.engine import Engine
from exchange.domain.events import DepositState, OrderFilled, OrderState, TradeExecuted, WithdrawalState
from exchange.service.marketdata import MarketData, MarketDataSnapshot
from exchange.service.userdata import UserData
from exchange.store.history import History
from exchange.store.snapshot import state_hash

#: {asset: (available, locked, withdrawing)}
Balances = dict[str, tuple[int, int, int]]
OrderWithFills = tuple[OrderState, list[OrderFilled]]


class EngineStatus(msgspec.Struct, frozen=True):
    running: bool
    queue: int
    last_seq: int


class Reads(Protocol):
    async def balances(self, user: int) -> Balances: ...
    async def open_orders(self, user: int, symbol: str | None) -> list[OrderState]: ...
    async def order(
        self, user: int, symbol: str, oid: int | None, coid: str | None
    ) -> OrderWithFills | None: ...
    async def closed_orders(
        self, user: int, symbol: str | None, limit: int, start: int | None, end: int | None
    ) -> list[OrderState]: ...
    async def fills(
        self, user: int, symbol: str | None, limit: int, start: int | None, end: int | None
    ) -> list[OrderFilled]: ...
    async def trades_before(self, symbol: str, limit: int, end: int) -> list[TradeExecuted]: ...
    async def trades_between(self, symbol: str, first: int, until: int) -> list[TradeExecuted]: ...
    async def deposits(self, user: int) -> list[DepositState]: ...
    async def withdrawals(self, user: int) -> list[WithdrawalState]: ...
    async def pending_withdrawals(self) -> list[WithdrawalState]: ...
    async def status(self) -> EngineStatus: ...
    async def state(self) -> tuple[int, str]: ...
    async def marketdata(self) -> MarketDataSnapshot: ...


#: What each read returns, so the gateway decodes the engine's answer into the same types.
RESULTS: dict[str, Any] = {
    "balances": Balances,
    "open_orders": list[OrderState],
    "order": OrderWithFills | None,
    "closed_orders": list[OrderState],
    "fills": list[OrderFilled],
    "trades_before": list[TradeExecuted],
    "trades_between": list[TradeExecuted],
    "deposits": list[DepositState],
    "withdrawals": list[WithdrawalState],
    "pending_withdrawals": list[WithdrawalState],
    "status": EngineStatus,
    "state": tuple[int, str],
    "marketdata": MarketDataSnapshot,
}


class LocalReads:
    def __init__(
        self,
        engine: Engine,
        userdata: UserData,
        marketdata: MarketData,
        history: Callable[[], History],
        status: Callable[[], EngineStatus],
    ) -> None:
        self.engine, self.userdata, self.md = engine, userdata, marketdata
        self._history, self._status = history, status

    async def balances(self, user: int) -> Balances:
        return self.engine.balances(user)

    async def open_orders(self, user: int, symbol: str | None) -> list[OrderState]:
        return self.engine.open_orders(user, symbol)

    async def order(self, user: int, symbol: str, oid: int | None, coid: str | None) -> OrderWithFills | None:
        if coid is not None:
            oid = self.engine.coids.get((user, coid))
        state = self.engine.order(oid) if oid is not None else None
        if state is None or state.user_id != user or state.symbol != symbol:
            return None
        return state, self.userdata.order_fills(state.order_id)

    async def closed_orders(
        self, user: int, symbol: str | None, limit: int, start: int | None, end: int | None
    ) -> list[OrderState]:
        """Newest first: the recent ones from memory (exact to the last command), older ones
        and ``end`` pages from the SQLite history (read off the event loop)."""
        found = [] if end is not None else self.userdata.closed_orders(user, symbol, limit)
        if len(found) < limit:
            before = found[-1].updated_at if found else end
            older = await asyncio.to_thread(self._history().closed_orders, user, symbol, limit, before)
            seen = {s.order_id for s in found}
            found += [s for s in older if s.order_id not in seen][: limit - len(found)]
        return [s for s in found if start is None or s.updated_at >= start]

    async def fills(
        self, user: int, symbol: str | None, limit: int, start: int | None, end: int | None
    ) -> list[OrderFilled]:
        """Newest first; memory first, then the SQLite history (as above)."""
        found = [] if end is not None else self.userdata.fills(user, symbol, limit)
        if len(found) < limit:
            before = found[-1].ts if found else end
            older = await asyncio.to_thread(self._history().fills, user, symbol, limit, before)
            seen = {(f.trade_id, f.role) for f in found}
            found += [f for f in older if (f.trade_id, f.role) not in seen][: limit - len(found)]
        return [f for f in found if start is None or f.ts >= start]

    async def trades_before(self, symbol: str, limit: int, end: int) -> list[TradeExecuted]:
        return await asyncio.to_thread(self._history().trades, symbol, limit, end)

    async def trades_between(self, symbol: str, first: int, until: int) -> list[TradeExecuted]:
        return await asyncio.to_thread(self._history().trades_between, symbol, first, until)

    async def deposits(self, user: int) -> list[DepositState]:
        """Newest first (the engine keeps every one: a reference credits once)."""
        return self.engine.funding.deposits_of(user)

    async def withdrawals(self, user: int) -> list[WithdrawalState]:
        """Newest first, each as it stands."""
        return self.engine.funding.withdrawals_of(user)

    async def pending_withdrawals(self) -> list[WithdrawalState]:
        """Oldest first: the operators' queue."""
        return self.engine.funding.pending()

    async def status(self) -> EngineStatus:
        return self._status()

    async def state(self) -> tuple[int, str]:
        """The engine's sequence and a hash of its state but for the sequence (O(state): for
        operators): every command advances the sequence, a refused one changes nothing else, so
        an equal hash says a refusal left books, balances and ids as they were."""
        snap = self.engine.snapshot()
        return snap.last_seq, state_hash(msgspec.structs.replace(snap, last_seq=0))

    async def marketdata(self) -> MarketDataSnapshot:
        return self.md.snapshot()

    async def answer(self, kind: str, args: bytes) -> Any:
        """A gateway's query (bus/redis_engine.py): ``kind`` names a read, ``args`` its arguments."""
        if kind not in RESULTS:
            raise ValueError(f"unknown query {kind!r}")
        return await getattr(self, kind)(*msgspec.msgpack.decode(args))


class Querier(Protocol):
    async def query(self, kind: str, args: list[Any], result_type: Any) -> Any: ...


class RemoteReads:
    """The same reads, asked of the engine process over the bus."""

    def __init__(self, bus: Querier) -> None:
        self.bus = bus

    async def _ask(self, kind: str, *args: Any) -> Any:
        return await self.bus.query(kind, list(args), RESULTS[kind])

    async def balances(self, user: int) -> Balances:
        return await self._ask("balances", user)  # type: ignore[no-any-return]

    async def open_orders(self, user: int, symbol: str | None) -> list[OrderState]:
        return await self._ask("open_orders", user, symbol)  # type: ignore[no-any-return]

    async def order(self, user: int, symbol: str, oid: int | None, coid: str | None) -> OrderWithFills | None:
        return await self._ask("order", user, symbol, oid, coid)  # type: ignore[no-any-return]

    async def closed_orders(
        self, user: int, symbol: str | None, limit: int, start: int | None, end: int | None
    ) -> list[OrderState]:
        return await self._ask("closed_orders", user, symbol, limit, start, end)  # type: ignore[no-any-return]

    async def fills(
        self, user: int, symbol: str | None, limit: int, start: int | None, end: int | None
    ) -> list[OrderFilled]:
        return await self._ask("fills", user, symbol, limit, start, end)  # type: ignore[no-any-return]

    async def trades_before(self, symbol: str, limit: int, end: int) -> list[TradeExecuted]:
        return await self._ask("trades_before", symbol, limit, end)  # type: ignore[no-any-return]

    async def trades_between(self, symbol: str, first: int, until: int) -> list[TradeExecuted]:
        return await self._ask("trades_between", symbol, first, until)  # type: ignore[no-any-return]

    async def deposits(self, user: int) -> list[DepositState]:
        return await self._ask("deposits", user)  # type: ignore[no-any-return]

    async def withdrawals(self, user: int) -> list[WithdrawalState]:
        return await self._ask("withdrawals", user)  # type: ignore[no-any-return]

    async def pending_withdrawals(self) -> list[WithdrawalState]:
        return await self._ask("pending_withdrawals")  # type: ignore[no-any-return]

    async def status(self) -> EngineStatus:
        return await self._ask("status")  # type: ignore[no-any-return]

    async def state(self) -> tuple[int, str]:
        return await self._ask("state")  # type: ignore[no-any-return]

    async def marketdata(self) -> MarketDataSnapshot:
        return await self._ask("marketdata")  # type: ignore[no-any-return]
