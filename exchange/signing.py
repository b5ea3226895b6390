"""Request signing shared by the server and the Python client: pure, no I/O, no clock.

A signed REST request carries ``X-API-KEY``, ``X-TIMESTAMP`` (integer ms) and ``X-SIGNATURE``:
lowercase hex HMAC-SHA256(secret, timestamp + METHOD + path-with-query + body), the method
upper-cased and the body taken byte for byte. A WebSocket ``AUTH`` signs ``timestamp + "AUTH"``,
which is the same message with method ``AUTH`` and an empty path and body, so one ``verify``
serves both.

The Binance-compatible face (exchange/web/binance/) signs as Binance does, with the same keys:
REST signs ``query string + body`` byte for byte without the ``signature`` parameter
(``binance_payload``), the WebSocket API signs its params sorted by name and joined as a query
string (``binance_ws_payload``); ``verify_binance`` checks either with Binance's window rule.

Rules of ``verify`` (checked in this order, the first failure is the reason):
1. the timestamp is a plain string of ASCII digits (no sign, space, exponent or fraction);
2. it is at most ``window_ms`` away from the server clock, in either direction;
3. the signature matches, compared in constant time.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
from typing import Final, NamedTuple

# 19 digits keeps ``int()`` cheap and covers any ms timestamp until the year 318 million.
_TIMESTAMP_RE: Final = re.compile(r"[0-9]{1,19}")

#: What an API key looks like (store/accounts.py makes them): checked before any lookup.
API_KEY_PATTERN: Final = r"ak_[0-9a-f]{32}"
REASON_TIMESTAMP_NOT_INTEGER: Final = "timestamp is not an integer"
REASON_SIGNATURE_MISMATCH: Final = "signature does not match"


def _encode(text: str) -> bytes:
    # surrogatepass: a header decoded with surrogates must not raise; for real text it is UTF-8.
    return text.encode("utf-8", "surrogatepass")


_BLOCK: Final = 64  # SHA-256's block size
_IPAD: Final = bytes(b ^ 0x36 for b in range(256))
_OPAD: Final = bytes(b ^ 0x5C for b in range(256))


@functools.lru_cache(maxsize=4096)
def _keyed(secret: str) -> tuple[hashlib._Hash, hashlib._Hash]:
    """SHA-256 states that have absorbed HMAC's inner and outer key pads (RFC 2104), per secret.

    Copying them costs ~0.1 us each, where ``hmac.digest`` derives both pads and sets up
    OpenSSL's HMAC afresh per call: ~1.7 us alone and ~6 us inside the busy server, the largest
    single cost of a signed request. Only a secret the caller already holds is looked up here
    (the server asks its key table first), so a revoked key's pads are merely unused.
    """
    key = _encode(secret)
    if len(key) > _BLOCK:
        key = hashlib.sha256(key).digest()
    key = key.ljust(_BLOCK, b"\0")
    return hashlib.sha256(key.translate(_IPAD)), hashlib.sha256(key.translate(_OPAD))


def signature(secret: str, timestamp: int | str, method: str, path_with_query: str, body: bytes | str) -> str:
    """The lowercase hex HMAC-SHA256 of ``timestamp + METHOD + path_with_query + body`` under ``secret``.

    The HMAC runs over bytes so a body is signed exactly as sent; for a UTF-8 text body this equals
    signing the decoded string.
    """
    return _hmac_hex(secret, _encode(f"{timestamp}{method.upper()}{path_with_query}"), body)


def _hmac_hex(secret: str, *parts: bytes | str) -> str:
    """Lowercase hex HMAC-SHA256 under ``secret`` of the concatenated ``parts`` (str as UTF-8)."""
    inner_pad, outer_pad = _keyed(secret)
    inner = inner_pad.copy()
    for part in parts:
        inner.update(part if isinstance(part, bytes) else _encode(part))
    outer = outer_pad.copy()
    outer.update(inner.digest())
    return outer.hexdigest()


def ws_auth_signature(secret: str, timestamp: int) -> str:
    """The signature of a WebSocket ``AUTH``: HMAC-SHA256 over ``f"{timestamp}AUTH"``."""
    return signature(secret, timestamp, "AUTH", "", b"")


def window_reason(window_ms: int) -> str:
    """The refusal reason for a timestamp outside ``window_ms`` ("... the 5 s window")."""
    return f"timestamp is outside the {window_ms / 1000:g} s window"


def verify(
    secret: str,
    timestamp_header: str,
    method: str,
    path_with_query: str,
    body: bytes | str,
    signature_header: str,
    now_ms: int,
    window_ms: int,
) -> str | None:
    """None when the request is authentic and fresh, else a short human reason for the refusal.

    The timestamp is signed as the client sent it (the header text), so a client that pads it
    differently simply fails the signature check rather than being silently normalised.
    """
    if not _TIMESTAMP_RE.fullmatch(timestamp_header):
        return REASON_TIMESTAMP_NOT_INTEGER
    if abs(now_ms - int(timestamp_header)) > window_ms:
        return window_reason(window_ms)
    expected = signature(secret, timestamp_header, method, path_with_query, body)
    # Compare bytes: compare_digest rejects non-ASCII str, and a hostile header must not raise.
    # Case is not part of the secret, so an upper-case hex signature is accepted too.
    if not hmac.compare_digest(expected.encode("ascii"), _encode(signature_header.lower())):
        return REASON_SIGNATURE_MISMATCH
    return None


def verify_ws_auth(
    secret: str, timestamp: object, signature_param: object, now_ms: int, window_ms: int
) -> str | None:
    """Check a WebSocket ``AUTH``'s decoded JSON ``timestamp`` (an integer) and ``signature`` params.

    Same reasons as ``verify``; a bool is not an integer here even though Python says it is.
    """
    if not isinstance(timestamp, int) or isinstance(timestamp, bool) or timestamp < 0:
        return REASON_TIMESTAMP_NOT_INTEGER
    # The window is checked before ``str()``: a huge JSON integer must not cost a long conversion.
    if abs(now_ms - timestamp) > window_ms:
        return window_reason(window_ms)
    if not isinstance(signature_param, str):
        return REASON_SIGNATURE_MISMATCH
    return verify(secret, str(timestamp), "AUTH", "", b"", signature_param, now_ms, window_ms)


# -- the Binance-compatible face ---------------------------------------------------------------
#: Binance accepts a timestamp up to 1 s ahead of its clock (its rule: ``timestamp < now + 1000``).
BINANCE_AHEAD_MS: Final = 1000
_SIGNATURE: Final = b"signature="


class BinanceSigned(NamedTuple):
    """What a Binance REST request signs (``payload``) and the signature it carries."""

    payload: bytes
    signature: str


def binance_payload(query: bytes, body: bytes) -> BinanceSigned | None:
    """Split the ``signature`` parameter out of a request's raw query string and body.

    Binance signs ``query + body`` exactly as sent, with the ``signature`` parameter (which
    may sit in either part) left out. None when there is no signature, or more than one.
    """
    in_query, in_body = _signature_at(query), _signature_at(body)
    if (in_query < 0) == (in_body < 0) or -2 in (in_query, in_body):  # none, two, or one in each
        return None
    part, at = (query, in_query) if in_query >= 0 else (body, in_body)
    start = at + len(_SIGNATURE)
    end = part.find(b"&", start)
    end = len(part) if end < 0 else end
    text = part[start:end].decode("ascii", "replace")
    # The ``&`` before it (or, when it comes first, the one after it) goes with it.
    rest = part[: at - 1] + part[end:] if at else part[end + 1 :]
    return BinanceSigned(rest + body if part is query else query + rest, text)


def _signature_at(part: bytes) -> int:
    """Where the ``signature=`` parameter starts in ``part``: -1 if nowhere, -2 if twice."""
    found, i = -1, part.find(_SIGNATURE)
    while i >= 0:
        if i == 0 or part[i - 1] == 0x26:  # at a parameter's start ('&'), not inside a value
            if found >= 0:
                return -2
            found = i
        i = part.find(_SIGNATURE, i + 1)
    return found


def binance_ws_payload(params: dict[str, object]) -> str:
    """The WebSocket API's signed text: every param but ``signature``, sorted by name, ``k=v&...``."""
    return "&".join(f"{k}={_ws_value(v)}" for k, v in sorted(params.items()) if k != "signature")


def _ws_value(value: object) -> str:
    if isinstance(value, bool):  # JSON's spelling, as the client wrote it
        return "true" if value else "false"
    return str(value)


def binance_signature(secret: str, payload: bytes | str) -> str:
    """Lowercase hex HMAC-SHA256 of ``payload`` under ``secret``, as Binance's clients sign."""
    return _hmac_hex(secret, payload)


def binance_window_reason(timestamp: int, recv_window: int, now_ms: int) -> str | None:
    """None when ``timestamp`` is inside Binance's window, else why not."""
    if timestamp >= now_ms + BINANCE_AHEAD_MS:
        return "timestamp is more than 1000 ms ahead of the server"
    if now_ms - timestamp > recv_window:
        return f"timestamp is outside the recvWindow of {recv_window} ms"
    return None


def verify_binance(secret: str, payload: bytes | str, signature_param: str) -> bool:
    """Whether ``signature_param`` (hex, either case) is the HMAC of ``payload``; constant time."""
    expected = binance_signature(secret, payload)
    return hmac.compare_digest(expected.encode("ascii"), _encode(signature_param.lower()))
