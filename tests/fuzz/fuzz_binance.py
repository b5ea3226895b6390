"""Fuzz target: the Binance face's parameters and signature (exchange/web/binance/params.py and
auth.py's ``check_signed``, the request-free part of ``Call.user``).

Input layout (FuzzedDataProvider: integers from the end, bytes from the front): the payload,
then a mode byte (last). Modes:

0. the bytes as a raw query string and form body (split where the fuzzer says): read by
   ``Params``, then each reader a route uses (``only``, ``integer``, ``choice``, ``amount`` on
   the market's grids), then ``check_signed`` with a known secret;
1. the bytes as a client's unsigned query and body, signed as a client signs (the signature
   added to the query or the body, a fresh ``timestamp`` added): ``check_signed`` must not
   answer -1022, and with one byte of the signed payload changed it must refuse.

Any exception but ``ApiError`` is a finding, and so is an ``ApiError`` that cannot be answered
in Binance's shape; accepted amounts must lie on their grid and read back equal.
"""

from __future__ import annotations

from fractions import Fraction

import atheris
import modes

with atheris.instrument_imports(include=["exchange"]):
    from exchange import signing
    from exchange.config import load_venue
    from exchange.limits import Limits
    from exchange.web.binance.auth import check_signed
    from exchange.web.binance.params import Params
    from exchange.web.errors import BN_INVALID_DATA, BN_SIGNATURE, CATALOGUE, ApiError

SECRET = "sk_" + "5e" * 16
NOW = 1_700_000_000_000
LIMITS = Limits()  # the defaults: recvWindow 5000 unless sent, at most 60000
MARKET = next(iter(load_venue().markets.values()))
ROUTE = ("symbol", "side", "type", "quantity", "price", "quoteOrderQty", "limit", "orderId", "timeInForce")


def answered(exc: ApiError) -> None:
    assert exc.code in CATALOGUE, exc.code
    exc.binance_response()
    exc.response()


def read_params(p: Params) -> None:
    """Each reader the routes use, on whatever the request sent."""
    assert p.get("signature") is None
    p.integer("limit", 500, 1, 1000)
    p.integer("orderId", None, 0, 2**63 - 1)
    p.choice("side", ("BUY", "SELL"), BN_INVALID_DATA)
    for name, grid, decimals in (
        ("quantity", MARKET.qty, MARKET.base.decimals),
        ("price", MARKET.price, MARKET.quote.decimals),
        ("quoteOrderQty", MARKET.quote.grid("quoteOrderQty"), MARKET.quote.decimals),
    ):
        steps = p.amount(name, grid, decimals)
        if steps is not None:
            text = p.need(name)
            assert type(steps) is int and 1 <= steps <= grid.max_steps, (text, steps)
            assert Fraction(text) == steps * Fraction(grid.units, 10**grid.decimals), (text, steps)
    p.only(ROUTE)


def refused_only(step, *args) -> None:  # type: ignore[no-untyped-def]
    try:
        step(*args)
    except ApiError as exc:
        answered(exc)


def check_raw(fdp: atheris.FuzzedDataProvider) -> None:
    cut = fdp.ConsumeIntInRange(0, 2**16)
    data = fdp.ConsumeBytes(fdp.remaining_bytes())
    query, body = data[: cut % (len(data) + 1)], data[cut % (len(data) + 1) :]
    try:
        params = Params(query, body)
    except ApiError as exc:
        answered(exc)
        return
    refused_only(read_params, params)
    try:
        check_signed(params, query, body, SECRET, NOW, LIMITS)
    except ApiError as exc:
        answered(exc)
    else:  # a pass without the secret would be a forgery: only a true signature passes
        signed = signing.binance_payload(query, body)
        assert signed is not None, (query, body)
        assert signed.signature.lower() == signing.binance_signature(SECRET, signed.payload), (query, body)


def check_signed_payload(fdp: atheris.FuzzedDataProvider) -> None:
    in_body, first = fdp.ConsumeBool(), fdp.ConsumeBool()
    skew = fdp.ConsumeIntInRange(-70_000, 2_000)
    cut, at, flip = (
        fdp.ConsumeIntInRange(0, 2**16),
        fdp.ConsumeIntInRange(0, 2**16),
        fdp.ConsumeIntInRange(1, 255),
    )
    data = fdp.ConsumeBytes(fdp.remaining_bytes())
    query, body = data[: cut % (len(data) + 1)], data[cut % (len(data) + 1) :]
    query = b"&".join(part for part in (query, b"timestamp=%d" % (NOW + skew)) if part)
    payload = query + body
    good = b"signature=" + signing.binance_signature(SECRET, payload).encode()
    if in_body:
        signed_query, signed_body = query, (good + b"&" + body if first else body + b"&" + good)
    else:
        signed_query, signed_body = (good + b"&" + query if first else query + b"&" + good), body
    if first and (signed_body if in_body else signed_query) == good + b"&":
        return  # an empty part after it: "signature=...&" is not what a client sends
    verdict = signed_verdict(signed_query, signed_body)
    assert verdict is not BN_SIGNATURE, (signed_query, signed_body)
    # one byte of what was signed changed: refused, whatever the reason
    i = at % len(payload)
    changed = payload[:i] + bytes([payload[i] ^ flip]) + payload[i + 1 :]
    q, b = changed[: len(query)], changed[len(query) :]
    if in_body:
        signed_query, signed_body = q, (good + b"&" + b if first else b + b"&" + good)
    else:
        signed_query, signed_body = (good + b"&" + q if first else q + b"&" + good), b
    assert signed_verdict(signed_query, signed_body) is not None, (signed_query, signed_body)


def signed_verdict(query: bytes, body: bytes) -> object:
    """None when ``check_signed`` passes, else the Binance answer it refused with."""
    try:
        check_signed(Params(query, body), query, body, SECRET, NOW, LIMITS)
    except ApiError as exc:
        answered(exc)
        return exc.binance or CATALOGUE[exc.code].binance
    return None


MODES = [check_raw, check_signed_payload]


if __name__ == "__main__":
    modes.fuzz(MODES)
