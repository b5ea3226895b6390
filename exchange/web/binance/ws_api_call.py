"""One request of the WebSocket API as the REST face's handlers take it (auth.Call).

The REST face's handlers (trading.py, account.py) read ``call.params``, ``call.symbols`` and
``await call.user()``; a ``WsCall`` gives them the same from a WebSocket request's JSON params,
so ``order.place`` and ``POST /api/v3/order`` are one handler, with one set of checks and codes.
What differs is the signature: the key is the ``apiKey`` param (not a header) and the signed
text is every param but ``signature``, sorted by name (signing.binance_ws_payload). Checked in
Binance's order: the key's format (-2014) and existence (-2015), a signature (-1102), the
timestamp's window (-1021; ``recvWindow`` over ``Limits.recv_window_max_ms``: -1131), the HMAC
(-1022), then the user's rate limit.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import orjson
from aiohttp import web

from exchange import signing
from exchange.clock import monotonic, now_ms
from exchange.web.binance.auth import Call, check_window
from exchange.web.binance.params import Params, mandatory
from exchange.web.errors import BN_KEY, BN_KEY_FORMAT, BN_SIGNATURE, ApiError, invalid, rate_limited
from exchange.web.keys import ACCOUNTS, SETTINGS, USER_LIMITER

_KEY = re.compile(signing.API_KEY_PATTERN)
#: Read by the socket, never a method's parameter: who signs, and Binance's opt-out of its
#: ``rateLimits`` answer field (not sent here).
_ENVELOPE = frozenset({"apiKey", "returnRateLimits"})


def _text(name: str, value: Any) -> str:
    """A JSON param as the text a query string would carry (numbers exactly as written)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | Decimal):
        return str(value)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return orjson.dumps(value).decode()  # ``symbols``: REST takes the same JSON array as text
    raise invalid(f"Parameter '{name[:40]}' must be a string, a number, a boolean or a list of strings.")


class WsCall(Call):
    __slots__ = ("_raw",)

    def __init__(self, app: web.Application, raw: dict[str, Any]) -> None:
        self.app = app
        self.headers = {}
        self._raw = raw
        pairs = [(str(k), _text(str(k), v)) for k, v in raw.items() if k not in _ENVELOPE]
        self.params = Params(urlencode(pairs).encode("ascii"), b"")

    async def user(self) -> int:
        key = self._raw.get("apiKey")
        if not isinstance(key, str) or not _KEY.fullmatch(key):
            raise ApiError("UNAUTHORIZED", "API-key format invalid.", binance=BN_KEY_FORMAT)
        found = self.app[ACCOUNTS].api_key(key)
        if found is None:
            raise ApiError("UNAUTHORIZED", "unknown or revoked API key", binance=BN_KEY)
        signature = self._raw.get("signature")
        if not isinstance(signature, str) or not signature:
            raise mandatory("signature")
        check_window(self.params, now_ms(), self.app[SETTINGS].limits)
        payload = signing.binance_ws_payload({k: _text(k, v) for k, v in self._raw.items()})
        if not signing.verify_binance(found[1], payload, signature):
            raise ApiError("UNAUTHORIZED", signing.REASON_SIGNATURE_MISMATCH, binance=BN_SIGNATURE)
        wait = self.app[USER_LIMITER].check(found[0], monotonic())
        if wait:
            raise rate_limited(wait)
        return found[0]
