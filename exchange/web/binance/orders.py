"""Binance's order parameters -> the engine's commands, refused with Binance's codes.

``LIMIT`` (``timeInForce`` GTC, IOC or FOK, ``price``, ``quantity``), ``LIMIT_MAKER`` (a
post-only GTC limit order, no ``timeInForce``) and ``MARKET`` (``quantity``, or for a buy
``quoteOrderQty``). Amounts go onto the market's grid exactly (params.py); the engine checks
the rest (filters, funds, post-only) and its refusals come back through the catalogue.
"""

from __future__ import annotations

import re

from exchange.domain.commands import (
    CLIENT_ORDER_ID_PATTERN,
    OrderType,
    PlaceOrder,
    SelfTradePrevention,
    Side,
    TimeInForce,
)
from exchange.domain.markets import Market
from exchange.web.binance.info import ORDER_TYPES, STP_MODES, TIME_IN_FORCE
from exchange.web.binance.params import Params, mandatory
from exchange.web.binance.wire import RESP_TYPES
from exchange.web.errors import (
    BN_ILLEGAL_CHARS,
    BN_INVALID_DATA,
    BN_NOT_REQUIRED,
    BN_ORDER_TYPE,
    BN_RESP_TYPE,
    BN_SIDE,
    BN_TIME_IN_FORCE,
    invalid,
)

#: The parameters ``POST /api/v3/order`` (and ``order/test``) take.
PLACE_PARAMS = frozenset({
    "symbol", "side", "type", "timeInForce", "quantity", "quoteOrderQty", "price", "newClientOrderId",
    "newOrderRespType", "selfTradePreventionMode",
})  # fmt: skip
# Binance's words -> the engine's values (dict lookups: an Enum call costs ~1 us each).
_SIDES = {"BUY": Side.BUY, "SELL": Side.SELL}
_TIFS = {tif: TimeInForce(tif) for tif in TIME_IN_FORCE}
_STPS = {mode: SelfTradePrevention(mode.lower()) for mode in STP_MODES}
_CLIENT_ID = re.compile(CLIENT_ORDER_ID_PATTERN)  # the domain's rule, checked here for Binance's code


def _not_required(name: str, why: str = "") -> Exception:
    return invalid(f"Parameter '{name}' sent when not required.{why}", BN_NOT_REQUIRED)


def client_id(p: Params, name: str) -> str | None:
    """A client order id as the engine keeps it: 1-36 of ``[A-Za-z0-9_-]`` (-1100 otherwise)."""
    text = p.get(name)
    if text is not None and not (text.isascii() and _CLIENT_ID.match(text)):
        raise invalid(f"Illegal characters found in parameter '{name}'; legal range is "
                      f"'{CLIENT_ORDER_ID_PATTERN}'.", BN_ILLEGAL_CHARS)  # fmt: skip
    return text


def response_type(p: Params) -> str:
    found = p.choice("newOrderRespType", RESP_TYPES, BN_RESP_TYPE, "FULL")
    assert found is not None
    return found


def place_command(p: Params, m: Market, user: int) -> PlaceOrder:
    """The engine command for an order's parameters (the caller checked which it may send)."""
    side = p.choice("side", _SIDES, BN_SIDE) or _missing("side")
    kind = p.choice("type", ORDER_TYPES, BN_ORDER_TYPE) or _missing("type")
    stp = p.choice("selfTradePreventionMode", _STPS, BN_INVALID_DATA, "EXPIRE_TAKER")
    assert stp is not None
    quantity = p.amount("quantity", m.qty, m.base.decimals)
    price = p.amount("price", m.price, m.quote.decimals)
    quote = p.amount("quoteOrderQty", m.quote.grid("quoteOrderQty"), m.quote.decimals)
    tif = _time_in_force(p, kind)
    if kind == "MARKET":
        _market_amounts(side, price, quantity, quote)
    else:
        if quote is not None:
            raise _not_required("quoteOrderQty")
        if price is None:
            raise mandatory("price")
        if quantity is None:
            raise mandatory("quantity")
    return PlaceOrder(
        user_id=user, symbol=m.symbol, side=_SIDES[side],
        type=OrderType.MARKET if kind == "MARKET" else OrderType.LIMIT,
        price=price, quantity=quantity, quote_quantity=quote, time_in_force=tif,
        post_only=kind == "LIMIT_MAKER", client_order_id=client_id(p, "newClientOrderId"),
        stp=_STPS[stp],
    )  # fmt: skip


def _missing(name: str) -> str:
    raise mandatory(name)


def _time_in_force(p: Params, kind: str) -> TimeInForce | None:
    """LIMIT names one; LIMIT_MAKER is GTC by nature and MARKET has none (both refuse one)."""
    tif = p.choice("timeInForce", TIME_IN_FORCE, BN_TIME_IN_FORCE)
    if kind == "LIMIT":
        if tif is None:
            raise mandatory("timeInForce")
        return _TIFS[tif]
    if tif is not None:
        raise _not_required("timeInForce")
    return TimeInForce.GTC if kind == "LIMIT_MAKER" else None


def _market_amounts(side: str, price: int | None, quantity: int | None, quote: int | None) -> None:
    if price is not None:
        raise _not_required("price")
    if quantity is None and quote is None:
        raise invalid("Param 'quantity' or 'quoteOrderQty' must be sent, but both were empty/null!")
    if quantity is not None and quote is not None:
        raise _not_required("quoteOrderQty")
    if quote is not None and side == "SELL":
        raise _not_required("quoteOrderQty", " (a market sell by quote amount is not supported here)")
