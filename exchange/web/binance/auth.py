"""Binance's request handling around every ``/api/v3`` route: weight, parameters, signature.

``endpoint(weight)`` wraps a handler ``(call) -> JSON``: it counts the route's request weight
for the client address (refusing past the limit), reads the parameters, and answers the
handler's result or any ``ApiError`` in Binance's shape, with the ``X-MBX-*`` headers. A signed
route calls ``await call.user()``, which checks, in Binance's order:

1. ``X-MBX-APIKEY``: absent or not this server's key format is -2014, unknown or revoked -2015;
2. exactly one ``signature`` parameter (query or body), else -1102;
3. ``timestamp`` (digits) and ``recvWindow`` (digits, at most ``Limits.recv_window_max_ms``, else -1131;
   ``recv_window_default_ms`` if absent), the window
   (-1021: older than ``recvWindow`` or 1 s or more ahead of the server);
4. the HMAC-SHA256 of the raw query string followed by the raw body, without the signature
   (-1022); then the per-user rate limit the native API applies too (-1003).

The key is the same API key the native API takes (``POST /api/v1/apikeys``).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from aiohttp import web

from exchange import signing
from exchange.clock import monotonic, now_ms
from exchange.limits import Limits
from exchange.web.binance.limits import ORDERS_HEADER, WEIGHT_HEADER
from exchange.web.binance.params import Params, mandatory
from exchange.web.binance.symbols import Symbols
from exchange.web.errors import (
    BN_ILLEGAL_CHARS,
    BN_KEY,
    BN_KEY_FORMAT,
    BN_RECV_WINDOW,
    BN_SIGNATURE,
    BN_TIMESTAMP,
    ApiError,
    invalid,
    rate_limited,
)
from exchange.web.keys import ACCOUNTS, BINANCE_LIMITS, BINANCE_SYMBOLS, SETTINGS, USER_LIMITER

KEY_HEADER = "X-MBX-APIKEY"
_KEY_FORMAT = re.compile(signing.API_KEY_PATTERN)
_RECV_WINDOW = re.compile(r"[0-9]{1,12}(?:\.[0-9]{1,3})?")
Handler = Callable[["Call"], Awaitable[Any]]


class Call:
    """One Binance request: its parameters, its answer's headers, and who signed it."""

    __slots__ = ("app", "headers", "params", "request", "_query", "_body")

    def __init__(self, request: web.Request, query: bytes, body: bytes) -> None:
        self.request, self.app = request, request.app
        self._query, self._body = query, body
        self.params = Params(query, body)
        self.headers: dict[str, str] = {}

    @property
    def symbols(self) -> Symbols:
        return self.app[BINANCE_SYMBOLS]

    async def user(self) -> int:
        """The signing user (see the module docstring), or the Binance error saying why not."""
        key = self.request.headers.get(KEY_HEADER)
        if key is None or not _KEY_FORMAT.fullmatch(key):
            raise ApiError("UNAUTHORIZED", "API-key format invalid.", binance=BN_KEY_FORMAT)
        found = self.app[ACCOUNTS].api_key(key)
        if found is None:
            raise ApiError("UNAUTHORIZED", "unknown or revoked API key", binance=BN_KEY)
        user_id, secret = found
        check_signed(self.params, self._query, self._body, secret, now_ms(), self.app[SETTINGS].limits)
        wait = self.app[USER_LIMITER].check(user_id, monotonic())
        if wait:
            raise rate_limited(wait)
        return user_id

    def count_order(self, user: int) -> None:
        """Count a new order against the account's orders per 10 s (-1015 past it)."""
        used, refused = self.app[BINANCE_LIMITS].take_order(user, monotonic())
        self.headers[ORDERS_HEADER] = str(used)
        if refused is not None:
            raise refused


def check_signed(params: Params, query: bytes, body: bytes, secret: str, now: int, limits: Limits) -> None:
    """Steps 2-4 of the module docstring for the key's ``secret``; the Binance error if any fails.

    Apart from the request and the clock so that tests/fuzz/fuzz_binance.py checks this very
    code on bytes alone."""
    signed = signing.binance_payload(query, body)
    if signed is None or not signed.signature:
        raise mandatory("signature")
    check_window(params, now, limits)
    if not signing.verify_binance(secret, signed.payload, signed.signature):
        raise ApiError("UNAUTHORIZED", signing.REASON_SIGNATURE_MISMATCH, binance=BN_SIGNATURE)


def check_window(p: Params, now: int, limits: Limits) -> None:
    """Step 3 of the module docstring: ``timestamp`` and ``recvWindow`` read, the window checked."""
    if not p.has("timestamp"):
        raise mandatory("timestamp")
    timestamp = p.integer("timestamp", None, 0, 2**62)
    window = _recv_window(p, limits.recv_window_default_ms)
    assert timestamp is not None
    if window > limits.recv_window_max_ms:
        # Binance's words, though it takes 60000 itself (the default here).
        message = f"recvWindow must be less than {limits.recv_window_max_ms}"
        raise ApiError("UNAUTHORIZED", message, binance=BN_RECV_WINDOW)
    problem = signing.binance_window_reason(timestamp, window, now)
    if problem is not None:
        raise ApiError("UNAUTHORIZED", problem, binance=BN_TIMESTAMP)


Weight = int | Callable[[Params], int]


def _recv_window(p: Params, default: int) -> int:
    """``recvWindow`` in whole ms: Binance takes up to three decimals (microseconds), which
    only ever narrow the window here (the fraction is dropped)."""
    text = p.get("recvWindow")
    if text is None:
        return default
    if not text.isascii() or not _RECV_WINDOW.fullmatch(text):
        legal = _RECV_WINDOW.pattern
        raise invalid(f"Illegal characters found in parameter 'recvWindow'; legal range is '{legal}'.",
                      BN_ILLEGAL_CHARS)  # fmt: skip
    return int(text.partition(".")[0])


def endpoint(weight: Weight) -> Callable[[Handler], Callable[[web.Request], Awaitable[web.Response]]]:
    """A Binance route of request weight ``weight`` (a number, or one that depends on the
    parameters, as depth's on its ``limit``); see the module docstring."""

    def wrap(handler: Handler) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def route(request: web.Request) -> web.Response:
            call = await _call(request)
            units = _units(weight, call)
            used, refused = request.app[BINANCE_LIMITS].take_weight(request.remote, units, monotonic())
            headers = {WEIGHT_HEADER: str(used)}
            try:
                if refused is not None:
                    raise refused
                if isinstance(call, ApiError):
                    raise call
                data = await handler(call)
            except ApiError as exc:
                return exc.binance_response((call.headers if isinstance(call, Call) else {}) | headers)
            body = orjson.dumps(data)
            return web.Response(body=body, content_type="application/json", headers=call.headers | headers)

        # __wrapped__ too: the WebSocket API calls the handler itself (ws_api_methods.py)
        functools.update_wrapper(route, handler)
        return route

    return wrap


def _raw_query(request: web.Request) -> bytes:
    """The query string exactly as sent (Binance signs it as sent, percent-encoding and all)."""
    raw = request.raw_path
    cut = raw.find("?")
    return raw[cut + 1 :].encode("utf-8", "surrogateescape") if cut >= 0 else b""


async def _call(request: web.Request) -> Call | ApiError:
    """The request's parameters read, or why they cannot be (answered after its weight counts)."""
    body = await request.read()
    try:
        return Call(request, _raw_query(request), body)
    except ApiError as exc:
        return exc


def _units(weight: Weight, call: Call | ApiError) -> int:
    """The route's weight; one that depends on malformed parameters weighs 1 (they are refused)."""
    if isinstance(weight, int):
        return weight
    if isinstance(call, ApiError):
        return 1
    try:
        return weight(call.params)
    except ApiError:
        return 1
