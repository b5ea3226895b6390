"""Request signing shared by the server and the Python client: pure, no I/O, no clock.

A signed REST request carries ``X-API-KEY``, ``X-TIMESTAMP`` (integer ms) and ``X-SIGNATURE``:
lowercase hex HMAC-SHA256(secret, timestamp + METHOD + path-with-query + body), the method
upper-cased and the body taken byte for byte. A WebSocket ``AUTH`` signs ``timestamp + "AUTH"``,
which is the same message with method ``AUTH`` and an empty path and body, so one ``verify``
serves both.

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
from typing import Final

#: How far a request's timestamp may be from the server clock (docs/API.md: 5 s).
DEFAULT_WINDOW_MS: Final = 5000

# 19 digits keeps ``int()`` cheap and covers any ms timestamp until the year 318 million.
_TIMESTAMP_RE: Final = re.compile(r"[0-9]{1,19}")

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
    inner_pad, outer_pad = _keyed(secret)
    inner = inner_pad.copy()
    inner.update(_encode(f"{timestamp}{method.upper()}{path_with_query}"))
    inner.update(body if isinstance(body, bytes) else _encode(body))
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
    window_ms: int = DEFAULT_WINDOW_MS,
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
    secret: str, timestamp: object, signature_param: object, now_ms: int, window_ms: int = DEFAULT_WINDOW_MS
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
