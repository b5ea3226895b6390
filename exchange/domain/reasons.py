"""Why a command was rejected. Each value is the API error code it maps to, one to one; its HTTP
status and meaning are in the error catalogue (exchange/web/errors.py, listed in docs/API.md)."""

from __future__ import annotations

import enum


class Reason(enum.StrEnum):
    INVALID_REQUEST = "INVALID_REQUEST"
    UNKNOWN_SYMBOL = "UNKNOWN_SYMBOL"
    UNKNOWN_ASSET = "UNKNOWN_ASSET"
    INVALID_PRICE = "INVALID_PRICE"
    INVALID_QUANTITY = "INVALID_QUANTITY"
    MIN_NOTIONAL = "MIN_NOTIONAL"
    INSUFFICIENT_FUNDS = "INSUFFICIENT_FUNDS"
    ORDER_NOT_FOUND = "ORDER_NOT_FOUND"
    DUPLICATE_CLIENT_ORDER_ID = "DUPLICATE_CLIENT_ORDER_ID"
    POST_ONLY_WOULD_TAKE = "POST_ONLY_WOULD_TAKE"
    ONRAMP_LIMIT = "ONRAMP_LIMIT"
    MARKET_CLOSED = "MARKET_CLOSED"
    DUPLICATE_REQUEST = "DUPLICATE_REQUEST"
