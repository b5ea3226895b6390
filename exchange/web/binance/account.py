"""Binance's signed account routes: balances, open and all orders, trades, commissions, limits."""

from __future__ import annotations

from typing import Any

from exchange.clock import monotonic, now_ms
from exchange.domain.commands import CancelAll
from exchange.domain.events import OrderCanceled
from exchange.domain.reasons import Reason
from exchange.web.binance.auth import Call, endpoint
from exchange.web.binance.params import Params
from exchange.web.binance.trading import NO_DISCOUNT
from exchange.web.binance.wire import canceled_json, my_trade_json, order_json
from exchange.web.common import execute
from exchange.web.errors import BN_INVALID_DATA, BN_UNKNOWN_ORDER, ApiError, invalid
from exchange.web.keys import BINANCE_LIMITS, READS, VENUE

Json = dict[str, Any]


def _window(p: Params) -> tuple[int, int | None, int | None]:
    """``limit`` (default 500, at most 1000), ``startTime``, ``endTime``."""
    limit = p.integer("limit", 500, 1, 1000) or 500
    start, end = p.integer("startTime", None, 0, 2**53), p.integer("endTime", None, 0, 2**53)
    if start is not None and end is not None and start > end:
        raise invalid("startTime must not be after endTime")
    return limit, start, end


@endpoint(20)
async def account(call: Call) -> Json:
    user = await call.user()
    p = call.params.only(("omitZeroBalances",))
    omit = p.choice("omitZeroBalances", ("true", "false"), BN_INVALID_DATA, "false") == "true"
    held, venue = await call.app[READS].balances(user), call.app[VENUE]
    balances = []
    for name, asset in venue.assets.items():
        free, orders, withdrawing = held.get(name, (0, 0, 0))
        locked = orders + withdrawing  # Binance has one column for what is not free
        if free or locked or not omit:
            balances.append({"asset": name, "free": asset.format(free), "locked": asset.format(locked)})
    # Binance gives one rate in basis points for the account; here fees are per market: the
    # highest taker rate, rounded up (account/commission has each market's exact rates).
    bps = max(-(-m.taker_fee.num * 10_000 // m.taker_fee.den) for m in venue.markets.values())
    return {
        "makerCommission": bps, "takerCommission": bps, "buyerCommission": 0, "sellerCommission": 0,
        "canTrade": True, "canWithdraw": False, "canDeposit": False, "brokered": False,
        "requireSelfTradePrevention": False, "preventSor": False, "updateTime": now_ms(),
        "accountType": "SPOT", "balances": balances, "permissions": ["SPOT"], "uid": user,
    }  # fmt: skip


@endpoint(20)
async def commission(call: Call) -> Json:
    await call.user()
    p = call.params.only(("symbol",))
    m = call.symbols.market(p.need("symbol"))
    zero = {"maker": "0", "taker": "0", "buyer": "0", "seller": "0"}
    standard = {"maker": m.maker_fee.text, "taker": m.taker_fee.text, "buyer": "0", "seller": "0"}
    return {
        "symbol": call.symbols.compact(m.symbol), "standardCommission": standard, "specialCommission": zero,
        "taxCommission": zero, "discount": NO_DISCOUNT,
    }  # fmt: skip


@endpoint(40)
async def order_rate(call: Call) -> list[Json]:
    user = await call.user()
    call.params.only(())
    limits = call.app[BINANCE_LIMITS]
    announced = limits.rate_limits()[1]
    return [announced | {"count": limits.orders.used(user, monotonic())}]


@endpoint(6)
async def open_orders(call: Call) -> list[Json]:
    user = await call.user()
    p = call.params.only(("symbol",))
    m = call.symbols.market(p.need("symbol")) if p.has("symbol") else None
    markets, symbols = call.app[VENUE].markets, call.symbols
    found = await call.app[READS].open_orders(user, m.symbol if m else None)
    return [order_json(s, symbols.compact(s.symbol), markets[s.symbol]) for s in found]


@endpoint(1)
async def cancel_open_orders(call: Call) -> list[Json]:
    """Every open order of the symbol, canceled; none open is Binance's -2011."""
    user = await call.user()
    p = call.params.only(("symbol",))
    m = call.symbols.market(p.need("symbol"))
    events = await execute(call.app, CancelAll(user_id=user, symbol=m.symbol))
    name = call.symbols.compact(m.symbol)
    canceled = [canceled_json(e.order, name, m) for e in events if isinstance(e, OrderCanceled)]
    if not canceled:
        raise ApiError.of(Reason.ORDER_NOT_FOUND, "Unknown order sent.", BN_UNKNOWN_ORDER)
    return canceled


@endpoint(20)
async def all_orders(call: Call) -> list[Json]:
    """Open and closed orders, oldest first: from ``orderId`` on, else the newest ``limit``.
    Closed orders come from the newest ``limit`` the history holds in the time window."""
    user = await call.user()
    p = call.params.only(("symbol", "orderId", "startTime", "endTime", "limit"))
    m = call.symbols.market(p.need("symbol"))
    from_id, (limit, start, end) = p.integer("orderId", None, 0, 2**63 - 1), _window(p)
    reads = call.app[READS]
    found = await reads.open_orders(user, m.symbol) + await reads.closed_orders(
        user, m.symbol, limit, start, end
    )
    found = [
        s for s in found if (start is None or s.created_at >= start) and (end is None or s.created_at <= end)
    ]
    found.sort(key=lambda s: s.order_id)
    if from_id is not None:
        found = [s for s in found if s.order_id >= from_id][:limit]
    name = call.symbols.compact(m.symbol)
    return [order_json(s, name, m) for s in found[-limit:]]


@endpoint(20)
async def my_trades(call: Call) -> list[Json]:
    """The caller's fills, oldest first: of one ``orderId``, from ``fromId`` on, or the newest."""
    user = await call.user()
    p = call.params.only(("symbol", "orderId", "startTime", "endTime", "fromId", "limit"))
    m = call.symbols.market(p.need("symbol"))
    oid, from_id = p.integer("orderId", None, 0, 2**63 - 1), p.integer("fromId", None, 0, 2**63 - 1)
    limit, start, end = _window(p)
    fills = await call.app[READS].fills(user, m.symbol, 1000 if oid or from_id else limit, start, end)
    fills = [f for f in reversed(fills) if (oid is None or f.order.order_id == oid)
             and (from_id is None or f.trade_id >= from_id)]  # fmt: skip
    assets, name = call.app[VENUE].assets, call.symbols.compact(m.symbol)
    chosen = fills[:limit] if from_id is not None else fills[-limit:]
    return [my_trade_json(f, name, m, assets) for f in chosen]
