"""Fuzz target: the native API's request bodies and signature (exchange/web/schemas.py,
web/orders.py's body -> command, signing.verify / verify_ws_auth that web/auth.py calls).

Input layout (FuzzedDataProvider: integers from the end, bytes from the front): the payload,
then a mode byte (last). Modes:

0. the bytes as a body, decoded as every Struct in ``schemas.DECODERS`` and, when decoded,
   taken on as the handlers do (market, ``on_grid`` for each amount, ``order_id``);
1. the bytes as the JSON value of one amount or id field of an otherwise valid body;
2. the native HMAC headers: a client's valid signature over a fuzzed method, path and body must
   verify; one byte changed in the body or a character in the path must not; fuzzed
   timestamp and signature headers are refused with a reason, never an exception;
3. the bytes as a WebSocket ``AUTH`` frame's JSON params for ``verify_ws_auth``.

Any exception but ``ApiError`` from the request's path is a finding, and so is an ``ApiError``
that cannot be answered (its REST and Binance responses are built too).
"""

from __future__ import annotations

from fractions import Fraction

import atheris
import modes

with atheris.instrument_imports(include=["exchange"]):
    import msgspec
    from aiohttp import web

    from exchange import signing
    from exchange.config import load_venue
    from exchange.domain.units import Grid
    from exchange.limits import Limits
    from exchange.web import orders, schemas
    from exchange.web.common import market_of
    from exchange.web.errors import CATALOGUE, ApiError
    from exchange.web.keys import VENUE

SECRET = "sk_" + "5e" * 16
NOW = 1_700_000_000_000
WINDOW = Limits().signing_window_ms  # the default signing window
METHODS = ["GET", "POST", "DELETE", "PUT", "post", "AUTH"]
APP = web.Application()
APP[VENUE] = VENUE_ = load_venue()
MARKET = next(iter(VENUE_.markets.values()))
# (template, kind): mode 1 puts the fuzzed JSON value where the ``%s`` is
FIELDS: list[tuple[bytes, type]] = [
    (b'{"symbol":"%s","side":"buy","type":"limit","price":%%s,"quantity":"1"}', schemas.PlaceOrderBody),
    (b'{"symbol":"%s","side":"sell","type":"market","quantity":%%s}', schemas.PlaceOrderBody),
    (b'{"symbol":"%s","side":"buy","type":"market","quoteQuantity":%%s}', schemas.PlaceOrderBody),
    (b'{"symbol":"%s","orderId":%%s}', schemas.OrderRefBody),
    (b'{"symbol":"%s","orderId":"1","price":%%s,"quantity":%%s}', schemas.AmendOrderBody),
    (b'{"asset":"USDC","amount":%%s}', schemas.OnrampBody),
    (b'{"symbol":%%s}', schemas.CancelAllBody),
]


def answered(exc: ApiError) -> None:
    """The refusal must be one the catalogue knows and one both faces can answer."""
    assert exc.code in CATALOGUE, exc.code
    exc.response()
    exc.binance_response()


def amount(raw: msgspec.Raw | schemas.Absent, grid: Grid, field: str) -> None:
    steps = schemas.on_grid(raw, grid, field)
    if steps is None:
        assert raw is schemas.ABSENT or bytes(raw) == b"null", raw
        return
    text = schemas.decimal_text(raw, field)
    assert text is not None and 1 <= steps <= grid.max_steps, (bytes(raw), steps)
    assert Fraction(text) == steps * Fraction(grid.units, 10**grid.decimals), (text, steps)


def take(kind: type, body: bytes) -> None:
    """One body as its handler takes it: decoded, then each field read as the handler reads it."""
    decoded = schemas.decode(kind, body)
    if isinstance(decoded, schemas.PlaceOrderBody):
        cmd = orders.build_place(APP, 1, decoded)
        for value in (cmd.price, cmd.quantity, cmd.quote_quantity):
            assert value is None or (type(value) is int and value >= 1), value
    elif isinstance(decoded, schemas.OrderRefBody):  # and AmendOrderBody
        m = market_of(APP, decoded.symbol, decoded.market)
        oid = schemas.order_id(decoded.order_id)
        assert oid is None or 0 <= oid < 10**19, oid
        if isinstance(decoded, schemas.AmendOrderBody):
            amount(decoded.price, m.price, "price")
            amount(decoded.quantity, m.qty, "quantity")
    elif isinstance(decoded, schemas.OnrampBody):
        asset = VENUE_.assets.get(decoded.asset)
        if asset is not None:
            amount(decoded.amount, asset.grid("amount"), "amount")
    elif isinstance(decoded, schemas.CancelAllBody):
        orders.cancel_all_symbol(APP, body)


def refused_only(kind: type, body: bytes) -> None:
    try:
        take(kind, body)
    except ApiError as exc:
        answered(exc)


def check_bodies(fdp: atheris.FuzzedDataProvider) -> None:
    body = fdp.ConsumeBytes(fdp.remaining_bytes())
    for kind in schemas.DECODERS:
        refused_only(kind, body)


def check_field(fdp: atheris.FuzzedDataProvider) -> None:
    template, kind = fdp.PickValueInList(FIELDS)
    value = fdp.ConsumeBytes(fdp.remaining_bytes())
    template = template.replace(b'"%s"', b'"' + MARKET.symbol.encode() + b'"')
    refused_only(kind, template.replace(b"%%s", value))
    # the amounts' own readers on their own, with each market grid
    raw = msgspec.Raw(value)
    for grid in (MARKET.price, MARKET.qty, MARKET.quote.grid("quoteQuantity")):
        try:
            amount(raw, grid, "price")
        except ApiError as exc:
            answered(exc)
    try:
        schemas.order_id(raw)
    except ApiError as exc:
        answered(exc)


def check_signature(fdp: atheris.FuzzedDataProvider) -> None:
    method = fdp.PickValueInList(METHODS)
    skew = fdp.ConsumeIntInRange(-6000, 6000)
    at = fdp.ConsumeIntInRange(0, 2**16)
    path = fdp.ConsumeUnicode(fdp.ConsumeIntInRange(0, 64))
    timestamp = fdp.ConsumeUnicode(fdp.ConsumeIntInRange(0, 24))
    sent = fdp.ConsumeUnicode(fdp.ConsumeIntInRange(0, 80))
    body = fdp.ConsumeBytes(fdp.remaining_bytes())
    stamp = str(NOW + skew)
    good = signing.signature(SECRET, stamp, method, path, body)
    fresh = abs(skew) <= WINDOW
    verdict = signing.verify(SECRET, stamp, method, path, body, good, NOW, WINDOW)
    assert verdict is None if fresh else verdict == signing.window_reason(WINDOW), verdict
    assert signing.verify(SECRET, stamp, method, path, body, good.upper(), NOW, WINDOW) == verdict
    if fresh and body:
        i = at % len(body)
        changed = body[:i] + bytes([body[i] ^ (1 + at // len(body) % 255)]) + body[i + 1 :]
        assert signing.verify(SECRET, stamp, method, path, changed, good, NOW, WINDOW) is not None, changed
    if fresh and path:
        i = at % len(path)
        other = path[:i] + chr((ord(path[i]) + 1) % 0x110000) + path[i + 1 :]
        assert signing.verify(SECRET, stamp, method, other, body, good, NOW, WINDOW) is not None, other
    # hostile headers: a reason, never an exception, and a pass only for the true signature
    verdict = signing.verify(SECRET, timestamp, method, path, body, sent, NOW, WINDOW)
    assert verdict is not None or (
        sent.lower() == signing.signature(SECRET, timestamp, method, path, body) and timestamp.isdigit()
    ), (timestamp, sent)


def check_ws_auth(fdp: atheris.FuzzedDataProvider) -> None:
    try:
        params = msgspec.json.decode(fdp.ConsumeBytes(fdp.remaining_bytes()))
    except (msgspec.DecodeError, RecursionError):  # the frame's decoder refuses it, not verify_ws_auth
        return
    if not isinstance(params, dict):
        return
    timestamp, sent = params.get("timestamp"), params.get("signature")
    verdict = signing.verify_ws_auth(SECRET, timestamp, sent, NOW, WINDOW)
    assert verdict is not None or (
        isinstance(sent, str) and sent.lower() == signing.ws_auth_signature(SECRET, timestamp)  # type: ignore[arg-type]
    ), params
    if isinstance(timestamp, int) and not isinstance(timestamp, bool) and 0 <= timestamp < 2**63:
        good = signing.ws_auth_signature(SECRET, timestamp)
        fresh = abs(NOW - timestamp) <= WINDOW
        assert (signing.verify_ws_auth(SECRET, timestamp, good, NOW, WINDOW) is None) == fresh, timestamp


MODES = [check_bodies, check_field, check_signature, check_ws_auth]


if __name__ == "__main__":
    modes.fuzz(MODES)
