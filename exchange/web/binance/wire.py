"""Engine values -> Binance's spot JSON: orders, fills, trades, as its REST API answers them.

Binance's shapes with this venue's numbers: ids are JSON integers, amounts decimal strings padded
to the market's grid (``"99.50"``; Binance pads to 8 digits: compare as decimals), times in ms.
A post-only order is Binance's ``LIMIT_MAKER``; an order placed without a client id answers
``clientOrderId: ""`` (the engine keeps none for it). Used by REST and by the WebSocket API.
"""

from __future__ import annotations

from typing import Any

from exchange.domain.events import OrderFilled, OrderState, OrderStatus, Role
from exchange.domain.markets import Asset, Market
from exchange.service.marketdata import TradeRecord

Json = dict[str, Any]
_LIVE = frozenset({OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED})
#: newOrderRespType values and what each answer holds.
RESP_TYPES = ("ACK", "RESULT", "FULL")


def order_type(state: OrderState) -> str:
    return "LIMIT_MAKER" if state.post_only else state.type.upper()


def _core(state: OrderState, m: Market) -> Json:
    """The fields every order answer shares after ``transactTime`` (RESULT's body)."""
    price, qty = state.price, state.quantity
    return {
        "price": m.price.format(price or 0),
        "origQty": m.qty.format(qty or 0),
        "executedQty": m.qty.format(state.executed_qty),
        "origQuoteOrderQty": m.quote.format(state.quote_quantity or 0),
        "cummulativeQuoteQty": m.quote.format(state.executed_quote),
        "status": state.status,  # StrEnums: orjson writes their text, cheaper than ``.value``
        "timeInForce": state.time_in_force,
        "type": order_type(state),
        "side": state.side.upper(),
    }


def _head(state: OrderState, name: str) -> Json:
    return {
        "symbol": name,
        "orderId": state.order_id,
        "orderListId": -1,
        "clientOrderId": state.client_order_id or "",
    }


def _stp(state: OrderState) -> str:
    return state.stp.upper()


def fill_json(fill: OrderFilled, m: Market, assets: dict[str, Asset]) -> Json:
    """One element of a FULL answer's ``fills``."""
    return {
        "price": m.price.format(fill.price),
        "qty": m.qty.format(fill.quantity),
        "commission": assets[fill.fee_asset].format(fill.fee),
        "commissionAsset": fill.fee_asset,
        "tradeId": fill.trade_id,
    }


def new_order_json(
    state: OrderState, fills: list[OrderFilled], name: str, m: Market, assets: dict[str, Asset], resp: str
) -> Json:
    """``POST /api/v3/order``'s answer in ``newOrderRespType`` ``resp`` (ACK, RESULT or FULL)."""
    if resp == "ACK":
        return _head(state, name) | {"transactTime": state.updated_at}
    price, qty = state.price, state.quantity
    body = {  # one literal: this is every order's answer, and merging dicts costs ~2 us
        "symbol": name, "orderId": state.order_id, "orderListId": -1,
        "clientOrderId": state.client_order_id or "", "transactTime": state.updated_at,
        "price": m.price.format(price or 0), "origQty": m.qty.format(qty or 0),
        "executedQty": m.qty.format(state.executed_qty),
        "origQuoteOrderQty": m.quote.format(state.quote_quantity or 0),
        "cummulativeQuoteQty": m.quote.format(state.executed_quote), "status": state.status,
        "timeInForce": state.time_in_force, "type": order_type(state), "side": state.side.upper(),
        "workingTime": state.created_at, "selfTradePreventionMode": state.stp.upper(),
    }  # fmt: skip
    if resp == "FULL":
        body["fills"] = [fill_json(f, m, assets) for f in fills]
    return body


def order_json(state: OrderState, name: str, m: Market) -> Json:
    """An order as ``GET /api/v3/order``, ``openOrders`` and ``allOrders`` answer it."""
    return (
        _head(state, name)
        | _core(state, m)
        | {
            "stopPrice": m.price.format(0),
            "icebergQty": m.qty.format(0),
            "time": state.created_at,
            "updateTime": state.updated_at,
            "isWorking": state.status in _LIVE,
            "workingTime": state.created_at,
            "selfTradePreventionMode": _stp(state),
        }
    )


def canceled_json(state: OrderState, name: str, m: Market, orig_client_order_id: str | None = None) -> Json:
    """A canceled order as ``DELETE /api/v3/order`` and ``openOrders`` answer it."""
    coid = state.client_order_id or ""
    return {
        "symbol": name,
        "origClientOrderId": orig_client_order_id or coid,
        "orderId": state.order_id,
        "orderListId": -1,
        "clientOrderId": coid,
        "transactTime": state.updated_at,
    } | _core(state, m) | {"selfTradePreventionMode": _stp(state)}  # fmt: skip


def my_trade_json(fill: OrderFilled, name: str, m: Market, assets: dict[str, Asset]) -> Json:
    """One of the caller's fills as ``GET /api/v3/myTrades`` answers it."""
    return {
        "symbol": name,
        "id": fill.trade_id,
        "orderId": fill.order.order_id,
        "orderListId": -1,
        "price": m.price.format(fill.price),
        "qty": m.qty.format(fill.quantity),
        "quoteQty": m.quote.format(fill.quote_quantity),
        "commission": assets[fill.fee_asset].format(fill.fee),
        "commissionAsset": fill.fee_asset,
        "time": fill.ts,
        "isBuyer": fill.order.side == "buy",
        "isMaker": fill.role is Role.MAKER,
        "isBestMatch": True,
    }


def trade_json(t: TradeRecord, m: Market) -> Json:
    """A public trade as ``GET /api/v3/trades`` and ``historicalTrades`` answer it."""
    return {
        "id": t.id,
        "price": m.price.format(t.price),
        "qty": m.qty.format(t.quantity),
        "quoteQty": m.quote.format(t.quote_quantity),
        "time": t.timestamp,
        "isBuyerMaker": t.is_buyer_maker,
        "isBestMatch": True,
    }


def agg_trade_json(t: TradeRecord, m: Market) -> Json:
    """A trade as ``GET /api/v3/aggTrades`` answers it: here each trade is its own aggregate."""
    return {
        "a": t.id, "p": m.price.format(t.price), "q": m.qty.format(t.quantity), "f": t.id, "l": t.id,
        "T": t.timestamp, "m": t.is_buyer_maker, "M": True,
    }  # fmt: skip
