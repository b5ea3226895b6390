"""The error catalogue: every code the API can answer, its HTTP status and what it means.

An error is ``{"code": "UPPER_SNAKE", "message": "human sentence"}`` on REST (with the status
below, and ``Retry-After`` where the caller should wait) and the same object under ``error`` on
the WebSocket (with ``retryAfter`` in seconds instead of the header). A domain rejection's code is
its ``Reason`` (domain/reasons.py), one to one; the codes of the web and the bus are written
here. REST, the WebSocket and every facade answer through ``ApiError``, so a code, its status
and its wait cannot differ between them. docs/API.md lists this table.

The Binance-compatible face (exchange/web/binance/, docs/BINANCE.md) answers the same errors as
Binance does, ``{"code": -NNNN, "msg": "..."}``: each entry carries its ``Binance`` answer, and
where Binance tells apart what one native code covers (a bad signature from a stale timestamp,
a cancel's unknown order from a query's), the finer answers are the ``BN_*`` values below,
which the raiser attaches to its ``ApiError`` (``binance=``). ``binance_answer`` picks one.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import orjson
from aiohttp import web

from exchange.bus.base import EngineTimeout, Unavailable
from exchange.domain.reasons import Reason


class Binance(NamedTuple):
    """Binance's answer: its code, its HTTP status, and its text (None: the native message)."""

    code: int
    status: int
    msg: str | None = None


# Binance's own texts for the answers of its spot API (its "Error codes" page).
_REJECTED, _FILTER = -2010, -1013
BN_UNKNOWN = Binance(-1000, 400, "An unknown error occurred while processing the request.")
BN_BAD_PARAM = Binance(-1102, 400)  # with the native message naming the parameter
BN_TIMESTAMP = Binance(-1021, 400, "Timestamp for this request is outside of the recvWindow.")
BN_SIGNATURE = Binance(-1022, 400, "Signature for this request is not valid.")
BN_KEY_FORMAT = Binance(-2014, 401, "API-key format invalid.")
BN_KEY = Binance(-2015, 401, "Invalid API-key, IP, or permissions for action.")
BN_DUPLICATE_PARAM = Binance(-1101, 400, "Duplicate values for a parameter detected.")
BN_ILLEGAL_CHARS = Binance(-1100, 400)  # "Illegal characters found in parameter 'x'; ..."
BN_NOT_READ = Binance(-1104, 400)  # "Not all sent parameters were read; ..."
BN_NOT_REQUIRED = Binance(-1106, 400)  # "Parameter 'x' sent when not required."
BN_PRECISION = Binance(-1111, 400, "Precision is over the maximum defined for this asset.")
BN_TIME_IN_FORCE = Binance(-1115, 400, "Invalid timeInForce.")
BN_ORDER_TYPE = Binance(-1116, 400, "Invalid orderType.")
BN_SIDE = Binance(-1117, 400, "Invalid side.")
BN_INTERVAL = Binance(-1120, 400, "Invalid interval.")
BN_RESP_TYPE = Binance(-1136, 400, "Invalid newOrderRespType")
BN_COMBINATION = Binance(-1128, 400)  # "Combination of optional parameters invalid." + why
BN_INVALID_DATA = Binance(-1130, 400)  # "Data sent for parameter 'x' is not valid."
BN_RECV_WINDOW = Binance(-1131, 400)  # "recvWindow must be less than 60000." (the limit's)
BN_PRICE_FILTER = Binance(_FILTER, 400, "Filter failure: PRICE_FILTER")
BN_LOT_SIZE = Binance(_FILTER, 400, "Filter failure: LOT_SIZE")
BN_NOTIONAL = Binance(_FILTER, 400, "Filter failure: NOTIONAL")
BN_MARKET_LOT_SIZE = Binance(_FILTER, 400, "Filter failure: MARKET_LOT_SIZE")
BN_UNKNOWN_ORDER = Binance(-2011, 400, "Unknown order sent.")  # cancel; a query is -2013
BN_ORDER_RATE = Binance(-1015, 429)  # "Too many new orders; current limit is N orders per 10 SECOND."


class Entry(NamedTuple):
    status: int
    meaning: str
    binance: Binance


_FUNDS = Binance(_REJECTED, 400, "Account has insufficient balance for requested action.")
_DUPLICATE = Binance(_REJECTED, 400, "Duplicate order sent.")
_WOULD_TAKE = Binance(_REJECTED, 400, "Order would immediately match and take.")
_NO_ORDER = Binance(-2013, 400, "Order does not exist.")  # a query; a cancel is BN_UNKNOWN_ORDER
_INTERNAL = "Internal error; unable to process your request. Please try again."
_OVERLOADED = "Server is currently overloaded with other requests. Please try again in a few minutes."
_TIMEOUT = "Timeout waiting for response from backend server. Send status unknown; execution status unknown."

# fmt: off
_REASONS: dict[Reason, Entry] = {
    Reason.INVALID_REQUEST: Entry(400, "a missing, extra or mistyped field, bad JSON, or a broken rule",
                                  BN_BAD_PARAM),
    Reason.UNKNOWN_SYMBOL: Entry(404, "no market has this symbol", Binance(-1121, 400, "Invalid symbol.")),
    Reason.UNKNOWN_ASSET: Entry(404, "no asset has this name", Binance(-1130, 400)),
    Reason.INVALID_PRICE: Entry(400, "price off the tick grid, <= 0, too many digits or out of range",
                                BN_PRICE_FILTER),
    Reason.INVALID_QUANTITY: Entry(400, "quantity off the step grid, below minQty, or out of range",
                                   BN_LOT_SIZE),
    Reason.MIN_NOTIONAL: Entry(400, "price x quantity below the market's minNotional", BN_NOTIONAL),
    Reason.INSUFFICIENT_FUNDS: Entry(400, "not enough available balance for the hold the order needs",
                                     _FUNDS),
    Reason.ORDER_NOT_FOUND: Entry(404, "no such open order of yours (closed and others' look the same)",
                                  _NO_ORDER),
    Reason.DUPLICATE_CLIENT_ORDER_ID: Entry(409, "one of your open orders already has this clientOrderId",
                                            _DUPLICATE),
    Reason.POST_ONLY_WOULD_TAKE: Entry(400, "a postOnly order would have traded on arrival", _WOULD_TAKE),
    Reason.ONRAMP_LIMIT: Entry(400, "the demo onramp's total per user and asset is reached",
                               Binance(_REJECTED, 400)),
    Reason.MARKET_CLOSED: Entry(400, "the market is not trading", Binance(_FILTER, 400, "Market is closed.")),
    Reason.DUPLICATE_REQUEST: Entry(409, "this request id was applied already (a redelivered command)",
                                    _DUPLICATE),
    Reason.DUPLICATE_REFERENCE: Entry(409, "a deposit reference credited before with another user, asset "
                                      "or amount (the same ones again: accepted, `duplicate`)",
                                      Binance(-1000, 409)),
    Reason.WITHDRAWAL_NOT_FOUND: Entry(404, "no withdrawal has this id (or it is another user's)",
                                       Binance(-1000, 404)),
    Reason.WITHDRAWAL_NOT_PENDING: Entry(409, "the withdrawal was completed or rejected already",
                                         Binance(-1000, 409)),
}

CATALOGUE: dict[str, Entry] = {reason.value: entry for reason, entry in _REASONS.items()} | {
    "UNAUTHORIZED": Entry(401, "no valid session or signature, or wrong credentials", BN_KEY),
    "FORBIDDEN": Entry(403, "authenticated but not allowed (CSRF token missing, admin only, cross-origin)",
                       Binance(-1002, 401, "You are not authorized to execute this request.")),
    "NOT_FOUND": Entry(404, "no such route or resource (an API key, a page)", Binance(-1000, 404)),
    "METHOD_NOT_ALLOWED": Entry(405, "the route does not take this method", Binance(-1000, 405)),
    "USERNAME_TAKEN": Entry(409, "signup with a username that exists", Binance(-1000, 409)),
    "UNKNOWN_USER": Entry(404, "an operator named a user who does not exist", Binance(-1000, 404)),
    "PAYLOAD_TOO_LARGE": Entry(413, "the body is larger than the server takes", Binance(-1000, 413)),
    "UNSUPPORTED_MEDIA_TYPE": Entry(415, "a body that is not application/json", Binance(-1000, 415)),
    "RATE_LIMITED": Entry(429, "too many requests or messages; wait Retry-After seconds", Binance(-1003,
                          429)),
    "INTERNAL": Entry(500, "a bug: logged on the server", Binance(-1001, 500, _INTERNAL)),
    "OVERLOADED": Entry(503, "the engine's queue is full or the exchange is shutting down; retry",
                        Binance(-1008, 503, _OVERLOADED)),
    "UNAVAILABLE": Entry(503, "the engine cannot be reached now (cluster: Redis down); retry",
                         Binance(-1001, 503, _INTERNAL)),
    "ENGINE_TIMEOUT": Entry(503, "no answer in time; the command was most likely not applied",
                            Binance(-1007, 503, _TIMEOUT)),
}
# fmt: on


class ApiError(Exception):
    """Raised anywhere in a handler; the error middleware (REST) or the socket answers it."""

    def __init__(
        self, code: str, message: str, *, retry_after: float | None = None, binance: Binance | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        #: The Binance face's answer when finer than the code's (errors.BN_*); else the entry's.
        self.binance = binance
        self.status = CATALOGUE[code].status
        self.message = message
        #: Seconds the caller should wait before trying again (whole seconds, at least 1).
        self.retry_after = None if retry_after is None else max(1, math.ceil(retry_after))

    @classmethod
    def of(cls, reason: Reason, message: str, binance: Binance | None = None) -> ApiError:
        return cls(reason.value, message, binance=binance)

    @property
    def headers(self) -> dict[str, str] | None:
        return None if self.retry_after is None else {"Retry-After": str(self.retry_after)}

    def body(self) -> dict[str, object]:
        """The REST error body; the wait travels in the ``Retry-After`` header."""
        return {"code": self.code, "message": self.message}

    def ws_body(self) -> dict[str, object]:
        """The WebSocket ``error`` object: no header there, so the wait is ``retryAfter``."""
        found = self.body()
        if self.retry_after is not None:
            found["retryAfter"] = self.retry_after
        return found

    def response(self) -> web.Response:
        return web.Response(
            status=self.status, body=orjson.dumps(self.body()), content_type="application/json",
            headers=self.headers,
        )  # fmt: skip

    def binance_answer(self) -> tuple[int, dict[str, object]]:
        """Binance's HTTP status and body ``{"code": -NNNN, "msg": "..."}`` for this error."""
        answer = self.binance or CATALOGUE[self.code].binance
        return answer.status, {"code": answer.code, "msg": answer.msg or self.message}

    def binance_response(self, headers: dict[str, str] | None = None) -> web.Response:
        status, body = self.binance_answer()
        merged = (self.headers or {}) | (headers or {})
        return web.Response(status=status, body=orjson.dumps(body), content_type="application/json",
                            headers=merged or None)  # fmt: skip


def invalid(message: str, binance: Binance | None = None) -> ApiError:
    return ApiError("INVALID_REQUEST", message, binance=binance)


def rate_limited(wait_s: float, message: str = "too many requests; slow down") -> ApiError:
    """The one 429: REST sends ``Retry-After``, the socket ``retryAfter``, both whole seconds."""
    return ApiError("RATE_LIMITED", message, retry_after=wait_s)


def unavailable(message: str) -> ApiError:
    return ApiError("UNAVAILABLE", message, retry_after=1)


def engine_timeout(message: str) -> ApiError:
    return ApiError("ENGINE_TIMEOUT", message, retry_after=1)


def bus_error(exc: Unavailable | EngineTimeout) -> ApiError:
    """The API's answer to the bus failing a request (503, retry later)."""
    return unavailable(str(exc)) if isinstance(exc, Unavailable) else engine_timeout(str(exc))
