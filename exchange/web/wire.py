"""Engine values -> the JSON shapes of docs/API.md: decimal strings, string ids, ms times."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from exchange.domain.events import (
    DepositState,
    Event,
    OrderExpired,
    OrderFilled,
    OrderState,
    WithdrawalState,
    subject,
)
from exchange.domain.markets import Asset, Market
from exchange.domain.units import format_scaled
from exchange.service.marketdata import Ticker, TradeRecord

Json = dict[str, Any]


def order_json(state: OrderState, m: Market, fills: list[Json] | None = None) -> Json:
    # Enum members go in as they are: they are StrEnums, which orjson writes as their text, and
    # ``.value`` is a Python-level descriptor (~0.25 us each, five per order answer).
    price, qty = state.price, state.quantity
    body: Json = {
        "orderId": str(state.order_id),
        "clientOrderId": state.client_order_id,
        "symbol": state.symbol,
        "side": state.side,
        "type": state.type,
        "timeInForce": state.time_in_force,
        "price": m.price.format(price) if price is not None else None,
        "quantity": m.qty.format(qty) if qty is not None else None,
        "executedQty": m.qty.format(state.executed_qty),
        "executedQuoteQty": m.quote.format(state.executed_quote),
        "status": state.status,
        "postOnly": state.post_only,
        "selfTradePrevention": state.stp,
        "fills": fills if fills is not None else [],
        "createdAt": state.created_at,
        "updatedAt": state.updated_at,
    }
    if state.quote_quantity is not None:
        body["quoteQuantity"] = m.quote.format(state.quote_quantity)
    return body


def deposit_json(d: DepositState, asset: Asset) -> Json:
    return {
        "depositId": str(d.id), "asset": d.asset, "amount": asset.format(d.amount), "reference": d.reference,
        "source": d.source, "status": d.status, "createdAt": d.created_at, "updatedAt": d.updated_at,
    }  # fmt: skip


def withdrawal_json(w: WithdrawalState, asset: Asset) -> Json:
    return {
        "withdrawalId": str(w.id), "asset": w.asset, "amount": asset.format(w.amount),
        "destination": w.destination, "status": w.status, "reason": w.reason, "createdAt": w.created_at,
        "updatedAt": w.updated_at,
    }  # fmt: skip


def fill_json(fill: OrderFilled, m: Market, assets: dict[str, Asset]) -> Json:
    return {
        "tradeId": str(fill.trade_id),
        "orderId": str(fill.order.order_id),
        "symbol": m.symbol,
        "side": fill.order.side,
        "price": m.price.format(fill.price),
        "quantity": m.qty.format(fill.quantity),
        "quoteQuantity": m.quote.format(fill.quote_quantity),
        "fee": assets[fill.fee_asset].format(fill.fee),
        "feeAsset": fill.fee_asset,
        "role": fill.role,
        "timestamp": fill.ts,
    }


def reply_order(events: Sequence[Event], m: Market, assets: dict[str, Asset]) -> Json:
    """The command's own order as the command left it, with the fills it made."""
    state, fills = own_order(events)
    return order_json(state, m, [fill_json(f, m, assets) for f in fills])


def own_order(events: Sequence[Event]) -> tuple[OrderState, list[OrderFilled]]:
    """The command's own order (the engine names it first: ``subject``) as the command left it,
    and the fills it made; a taker's makers are other orders, left out. Both faces answer it."""
    state = subject(events)
    order_id = state.order_id
    fills: list[OrderFilled] = []
    for event in events:
        if isinstance(event, OrderFilled):
            if event.order.order_id == order_id:
                state = event.order
                fills.append(event)
        elif isinstance(event, OrderExpired) and event.order.order_id == order_id:
            state = event.order
    return state, fills


def balances_json(balances: dict[str, tuple[int, int, int]], assets: dict[str, Asset]) -> Json:
    """Every asset of the venue, zero where the user holds none."""
    out: Json = {}
    for name, asset in assets.items():
        available, locked, withdrawing = balances.get(name, (0, 0, 0))
        out[name] = {"available": asset.format(available), "locked": asset.format(locked),
                     "withdrawing": asset.format(withdrawing)}  # fmt: skip
    return out


def market_json(m: Market) -> Json:
    return {
        "symbol": m.symbol,
        "baseAsset": m.base.name,
        "quoteAsset": m.quote.name,
        "tickSize": m.price.step_text,
        "stepSize": m.qty.step_text,
        "minQty": m.qty.format(m.min_qty),
        "minNotional": m.quote.format(m.min_notional),
        "maxPrice": m.price.format(m.price.max_steps),
        "maxQty": m.qty.format(m.qty.max_steps),
        "makerFee": m.maker_fee.text,
        "takerFee": m.taker_fee.text,
        "baseDecimals": m.base.decimals,
        "quoteDecimals": m.quote.decimals,
        "pricePrecision": m.price.decimals,
        "quantityPrecision": m.qty.decimals,
        "status": m.status,
    }


def levels_json(levels: list[tuple[int, int]], m: Market) -> list[list[str]]:
    """``[[price, qty]]``; a removed level (quantity 0: depth diffs) is ``"0"`` (docs/API.md)."""
    price, qty = m.price.format, m.qty.format
    return [[price(p), qty(q) if q else "0"] for p, q in levels]


def ticker_json(t: Ticker, m: Market) -> dict[str, Any]:
    price = m.price.format

    def opt(value: int | None) -> str | None:
        return price(value) if value is not None else None

    change, bp = t.price_change, t.price_change_bp
    return {
        "symbol": t.symbol, "lastPrice": opt(t.last_price), "open": opt(t.open), "high": opt(t.high),
        "low": opt(t.low), "volume": m.qty.format(t.volume), "quoteVolume": m.quote.format(t.quote_volume),
        "priceChange": opt(change),
        "priceChangePercent": format_scaled(bp, 2) if bp is not None else None,
        "trades": t.trades, "bestBid": opt(t.best_bid), "bestAsk": opt(t.best_ask),
    }  # fmt: skip


def trade_json(t: TradeRecord, m: Market) -> dict[str, Any]:
    """One trade of the public tape, as GET /trades answers it (and the pages preload it)."""
    return {
        "id": str(t.id), "price": m.price.format(t.price), "quantity": m.qty.format(t.quantity),
        "quoteQuantity": m.quote.format(t.quote_quantity), "timestamp": t.timestamp,
        "isBuyerMaker": t.is_buyer_maker,
    }  # fmt: skip
