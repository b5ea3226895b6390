"""A thin test harness over the pure engine: decimal text in, events out, integrity checked.

Amounts are written as the API would send them ("101.25") and converted with the market's
own grids, so the tests read like trading and exercise ``units`` on the way.
"""

from __future__ import annotations

from typing import Any

import msgspec

from exchange.config import load_venue
from exchange.domain.commands import (
    AmendOrder,
    AnyCommand,
    CancelAll,
    CancelOrder,
    Onramp,
    OrderType,
    PlaceOrder,
    Side,
)
from exchange.domain.engine import Engine
from exchange.domain.events import (
    Event,
    OrderAccepted,
    OrderAmended,
    OrderCanceled,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    OrderState,
    TradeExecuted,
)
from exchange.domain.markets import Market

VENUE = load_venue()
SOL = "SOL_USDC"


class Harness:
    def __init__(self) -> None:
        self.engine = Engine(VENUE.assets, VENUE.markets)
        self.seq = 0

    @classmethod
    def funded(cls, users: tuple[int, ...], **amounts: str) -> Harness:
        """A harness whose ``users`` each hold ``amounts`` (asset name -> decimal text)."""
        h = cls()
        for user in users:
            for asset, amount in amounts.items():
                h.fund(user, asset, amount)
        return h

    def market(self, symbol: str = SOL) -> Market:
        return VENUE.markets[symbol]

    def handle(self, cmd: AnyCommand) -> list[Event]:
        self.seq += 1
        events = self.engine.handle(msgspec.structs.replace(cmd, seq=self.seq, ts=1_000 + self.seq))
        self.engine.check_integrity()
        return events

    # -- commands in API terms --------------------------------------------------------------
    def fund(self, user: int, asset: str, amount: str, limit: int | None = None) -> list[Event]:
        atomic = VENUE.assets[asset].grid().parse(amount)
        return self.handle(Onramp(user_id=user, asset=asset, amount=atomic, limit=limit))

    def place(self, user: int, side: str, price: str | None, qty: str | None, symbol: str = SOL,
              **kw: Any) -> list[Event]:  # fmt: skip
        m = self.market(symbol)
        kw.setdefault("type", OrderType.LIMIT if price is not None else OrderType.MARKET)
        if "quote_quantity" in kw and isinstance(kw["quote_quantity"], str):
            kw["quote_quantity"] = m.quote.grid().parse(kw["quote_quantity"])
        return self.handle(PlaceOrder(
            user_id=user, symbol=symbol, side=Side(side),
            price=m.price.parse(price) if price is not None else None,
            quantity=m.qty.parse(qty) if qty is not None else None, **kw,
        ))  # fmt: skip

    def cancel(self, user: int, order_id: int | None = None, symbol: str = SOL, **kw: Any) -> list[Event]:
        return self.handle(CancelOrder(user_id=user, symbol=symbol, order_id=order_id, **kw))

    def amend(self, user: int, order_id: int, price: str | None = None, qty: str | None = None,
              symbol: str = SOL) -> list[Event]:  # fmt: skip
        m = self.market(symbol)
        return self.handle(AmendOrder(
            user_id=user, symbol=symbol, order_id=order_id,
            price=m.price.parse(price) if price is not None else None,
            quantity=m.qty.parse(qty) if qty is not None else None,
        ))  # fmt: skip

    def cancel_all(self, user: int, symbol: str | None = None) -> list[Event]:
        return self.handle(CancelAll(user_id=user, symbol=symbol))

    # -- reading results in API terms -------------------------------------------------------
    def balance(self, user: int, asset: str) -> tuple[str, str]:
        available, locked, _ = self.engine.balances(user).get(asset, (0, 0, 0))
        fmt = VENUE.assets[asset].format
        return fmt(available), fmt(locked)

    def withdrawing(self, user: int, asset: str) -> str:
        return VENUE.assets[asset].format(self.engine.balances(user).get(asset, (0, 0, 0))[2])

    def depth(self, symbol: str = SOL) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        m = self.market(symbol)
        bids, asks = self.engine.depth(symbol, 50)
        return (
            [(m.price.format(p), m.qty.format(q)) for p, q in bids],
            [(m.price.format(p), m.qty.format(q)) for p, q in asks],
        )


def only(events: list[Event], kind: type[Any]) -> list[Any]:
    return [e for e in events if isinstance(e, kind)]


def rejected(events: list[Event]) -> OrderRejected:
    assert len(events) == 1 and isinstance(events[0], OrderRejected), events
    return events[0]


def final_state(events: list[Event], order_id: int) -> OrderState:
    """The order as the last event about it left it (what a REST reply would show)."""
    kinds = (OrderAccepted, OrderFilled, OrderCanceled, OrderExpired, OrderAmended)
    states = [e.order for e in events if isinstance(e, kinds) and e.order.order_id == order_id]
    assert states, f"no event about order {order_id}"
    return states[-1]


def trades(events: list[Event]) -> list[TradeExecuted]:
    return only(events, TradeExecuted)
