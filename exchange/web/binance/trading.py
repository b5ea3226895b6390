"""Binance's signed order routes: place (and test), query, cancel, cancel-replace.

Orders go through the same engine command path as the native API (web/common.execute), so an
order placed here is the same order in ``/api/v1/orders/open`` and on the native streams.
"""

from __future__ import annotations

from typing import Any

from exchange.domain.commands import CancelOrder, PlaceOrder
from exchange.domain.markets import Market
from exchange.domain.reasons import Reason
from exchange.web.binance.auth import Call, endpoint
from exchange.web.binance.orders import PLACE_PARAMS, client_id, place_command, response_type
from exchange.web.binance.params import Params, mandatory
from exchange.web.binance.wire import canceled_json, new_order_json, order_json
from exchange.web.common import execute
from exchange.web.errors import BN_INVALID_DATA, BN_UNKNOWN_ORDER, ApiError
from exchange.web.keys import READS, VENUE
from exchange.web.wire import own_order

Json = dict[str, Any]
#: Binance's BNB fee discount, which this venue does not have.
NO_DISCOUNT = {"enabledForAccount": False, "enabledForSymbol": False, "discountAsset": "BNB", "discount": "0"}


async def _place(call: Call, user: int, m: Market, cmd: PlaceOrder, resp: str) -> Json:
    call.count_order(user)
    state, fills = own_order(await execute(call.app, cmd))
    return new_order_json(state, fills, call.symbols.compact(m.symbol), m, call.app[VENUE].assets, resp)


@endpoint(1)
async def place(call: Call) -> Json:
    user = await call.user()
    p = call.params.only(PLACE_PARAMS)
    m = call.symbols.market(p.need("symbol"))
    cmd, resp = place_command(p, m, user), response_type(p)
    return await _place(call, user, m, cmd, resp)


@endpoint(1)
async def test_order(call: Call) -> Json:
    """Checks the parameters as ``order`` does and sends nothing to the engine (Binance: ``{}``,
    or the commission rates with ``computeCommissionRates=true``)."""
    user = await call.user()
    p = call.params.only(PLACE_PARAMS | {"computeCommissionRates"})
    m = call.symbols.market(p.need("symbol"))
    place_command(p, m, user)
    response_type(p)
    if p.choice("computeCommissionRates", ("true", "false"), BN_INVALID_DATA, "false") == "false":
        return {}
    zero = {"maker": "0", "taker": "0"}
    return {
        "standardCommissionForOrder": {"maker": m.maker_fee.text, "taker": m.taker_fee.text},
        "specialCommissionForOrder": zero, "taxCommissionForOrder": zero, "discount": NO_DISCOUNT,
    }  # fmt: skip


def order_ref(
    p: Params, orig: str = "origClientOrderId", oid: str = "orderId"
) -> tuple[int | None, str | None]:
    """``orderId`` (preferred, as on Binance) or ``origClientOrderId``; -1102 when neither."""
    order_id = p.integer(oid, None, 0, 2**63 - 1)
    if order_id is not None:
        return order_id, None
    coid = client_id(p, orig)
    if coid is None:
        raise mandatory(f"{oid}' or '{orig}")
    return None, coid


@endpoint(4)
async def get_order(call: Call) -> Json:
    user = await call.user()
    p = call.params.only(("symbol", "orderId", "origClientOrderId"))
    m = call.symbols.market(p.need("symbol"))
    oid, coid = order_ref(p)
    found = await call.app[READS].order(user, m.symbol, oid, coid)
    if found is None:
        raise ApiError.of(Reason.ORDER_NOT_FOUND, "Order does not exist.")
    return order_json(found[0], call.symbols.compact(m.symbol), m)


async def cancel_one(call: Call, user: int, m: Market, oid: int | None, coid: str | None) -> Json:
    try:
        events = await execute(
            call.app, CancelOrder(user_id=user, symbol=m.symbol, order_id=oid, client_order_id=coid)
        )
    except ApiError as exc:
        if exc.code == Reason.ORDER_NOT_FOUND:  # a cancel's not-found is Binance's -2011, a query's -2013
            raise ApiError.of(Reason.ORDER_NOT_FOUND, exc.message, BN_UNKNOWN_ORDER) from None
        raise
    state, _ = own_order(events)
    return canceled_json(state, call.symbols.compact(m.symbol), m, coid)


@endpoint(1)
async def cancel(call: Call) -> Json:
    user = await call.user()
    p = call.params.only(("symbol", "orderId", "origClientOrderId", "cancelRestrictions"))
    m = call.symbols.market(p.need("symbol"))
    if p.has("cancelRestrictions"):
        raise ApiError.of(Reason.INVALID_REQUEST, "cancelRestrictions is not supported here")
    oid, coid = order_ref(p)
    return await cancel_one(call, user, m, oid, coid)


@endpoint(1)
async def cancel_replace(call: Call) -> Json:
    """Cancel an open order, then place a new one (``cancelReplaceMode=STOP_ON_FAILURE``: a
    cancel that fails places nothing). The new order is checked before the cancel; if the
    engine still refuses it, the cancel stands and the answer is the new order's error."""
    user = await call.user()
    p = call.params.only(PLACE_PARAMS | {"cancelReplaceMode", "cancelOrderId", "cancelOrigClientOrderId"})
    m = call.symbols.market(p.need("symbol"))
    if p.need("cancelReplaceMode") != "STOP_ON_FAILURE":
        raise ApiError.of(Reason.INVALID_REQUEST, "only cancelReplaceMode=STOP_ON_FAILURE is supported here")
    cmd, resp = place_command(p, m, user), response_type(p)
    oid, coid = order_ref(p, "cancelOrigClientOrderId", "cancelOrderId")
    canceled = await cancel_one(call, user, m, oid, coid)
    placed = await _place(call, user, m, cmd, resp)
    return {"cancelResult": "SUCCESS", "newOrderResult": "SUCCESS", "cancelResponse": canceled,
            "newOrderResponse": placed}  # fmt: skip
