"""The error catalogue: every code the API can answer, its HTTP status and what it means.

An error is ``{"code": "UPPER_SNAKE", "message": "human sentence"}`` on REST (with the status
below, and ``Retry-After`` where the caller should wait) and the same object under ``error`` on
the WebSocket (with ``retryAfter`` in seconds instead of the header). A domain rejection's code is
its ``Reason`` (domain/reasons.py), one to one; the codes of the web and the bus are written
here. REST, the WebSocket and every facade answer through ``ApiError``, so a code, its status
and its wait cannot differ between them. docs/API.md lists this table.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import orjson
from aiohttp import web

from exchange.bus.base import EngineTimeout, Unavailable
from exchange.domain.reasons import Reason


class Entry(NamedTuple):
    status: int
    meaning: str


_REASONS: dict[Reason, Entry] = {
    Reason.INVALID_REQUEST: Entry(400, "a missing, extra or mistyped field, bad JSON, or a broken rule"),
    Reason.UNKNOWN_SYMBOL: Entry(404, "no market has this symbol"),
    Reason.UNKNOWN_ASSET: Entry(404, "no asset has this name"),
    Reason.INVALID_PRICE: Entry(400, "price off the tick grid, <= 0, too many digits or out of range"),
    Reason.INVALID_QUANTITY: Entry(400, "quantity off the step grid, below minQty, or out of range"),
    Reason.MIN_NOTIONAL: Entry(400, "price x quantity below the market's minNotional"),
    Reason.INSUFFICIENT_FUNDS: Entry(400, "not enough available balance for the hold the order needs"),
    Reason.ORDER_NOT_FOUND: Entry(404, "no such open order of yours (closed and others' look the same)"),
    Reason.DUPLICATE_CLIENT_ORDER_ID: Entry(409, "one of your open orders already has this clientOrderId"),
    Reason.POST_ONLY_WOULD_TAKE: Entry(400, "a postOnly order would have traded on arrival"),
    Reason.ONRAMP_LIMIT: Entry(400, "the demo onramp's total per user and asset is reached"),
    Reason.MARKET_CLOSED: Entry(400, "the market is not trading"),
    Reason.DUPLICATE_REQUEST: Entry(409, "this request id was applied already (a redelivered command)"),
}

CATALOGUE: dict[str, Entry] = {reason.value: entry for reason, entry in _REASONS.items()} | {
    "UNAUTHORIZED": Entry(401, "no valid session or signature, or wrong credentials"),
    "FORBIDDEN": Entry(403, "authenticated but not allowed (CSRF token missing, admin only, cross-origin)"),
    "NOT_FOUND": Entry(404, "no such route or resource (an API key, a page)"),
    "METHOD_NOT_ALLOWED": Entry(405, "the route does not take this method"),
    "USERNAME_TAKEN": Entry(409, "signup with a username that exists"),
    "PAYLOAD_TOO_LARGE": Entry(413, "the body is larger than the server takes"),
    "UNSUPPORTED_MEDIA_TYPE": Entry(415, "a body that is not application/json"),
    "RATE_LIMITED": Entry(429, "too many requests or messages; wait Retry-After seconds"),
    "INTERNAL": Entry(500, "a bug: logged on the server"),
    "OVERLOADED": Entry(503, "the engine's queue is full or the exchange is shutting down; retry"),
    "UNAVAILABLE": Entry(503, "the engine cannot be reached now (cluster: Redis down); retry"),
    "ENGINE_TIMEOUT": Entry(503, "no answer in time; the command was most likely not applied"),
}


class ApiError(Exception):
    """Raised anywhere in a handler; the error middleware (REST) or the socket answers it."""

    def __init__(self, code: str, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.status = CATALOGUE[code].status
        self.message = message
        #: Seconds the caller should wait before trying again (whole seconds, at least 1).
        self.retry_after = None if retry_after is None else max(1, math.ceil(retry_after))

    @classmethod
    def of(cls, reason: Reason, message: str) -> ApiError:
        return cls(reason.value, message)

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


def invalid(message: str) -> ApiError:
    return ApiError("INVALID_REQUEST", message)


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
