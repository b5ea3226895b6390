"""The pure parts of the Binance face: its signing, its error answers, its symbol names."""

from __future__ import annotations

import pytest

from exchange import signing
from exchange.config import load_venue
from exchange.domain.reasons import Reason
from exchange.web.binance.symbols import Symbols
from exchange.web.errors import BN_SIGNATURE, BN_UNKNOWN_ORDER, CATALOGUE, ApiError

# Binance's documented example (its "SIGNED endpoint examples for POST /api/v3/order").
DOC_SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
DOC_QUERY = b"symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC"
DOC_BODY = b"quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559"
DOC_SIGNATURE = "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"


@pytest.mark.parametrize(
    ("query", "body"),
    [
        (DOC_QUERY + b"&" + DOC_BODY + b"&signature=" + DOC_SIGNATURE.encode(), b""),
        (b"", DOC_QUERY + b"&" + DOC_BODY + b"&signature=" + DOC_SIGNATURE.encode()),
    ],
)
def test_binance_documented_signature_verifies_in_query_or_body(query: bytes, body: bytes) -> None:
    signed = signing.binance_payload(query, body)
    assert signed is not None and signed.signature == DOC_SIGNATURE
    assert signing.verify_binance(DOC_SECRET, signed.payload, signed.signature)
    assert signing.verify_binance(DOC_SECRET, signed.payload, signed.signature.upper())


def test_binance_mixed_query_and_body_sign_the_concatenation() -> None:
    signed = signing.binance_payload(DOC_QUERY, DOC_BODY + b"&signature=" + b"0" * 64)
    assert signed is not None and signed.payload == DOC_QUERY + DOC_BODY
    assert signing.binance_signature(DOC_SECRET, signed.payload) == (
        "0fd168b8ddb4876a0358a8d14d0c9f3da0e9b20c5d52b2a00fcf7d1c602f9a77"
    )


@pytest.mark.parametrize(
    ("query", "body"),
    [(b"a=1", b""), (b"a=1&signature=x", b"signature=y"), (b"signature=x&signature=y", b"")],
)
def test_binance_payload_needs_exactly_one_signature(query: bytes, body: bytes) -> None:
    assert signing.binance_payload(query, body) is None


def test_binance_a_body_signed_over_different_bytes_fails() -> None:
    assert not signing.verify_binance(DOC_SECRET, DOC_QUERY + DOC_BODY + b"0", DOC_SIGNATURE)
    assert not signing.verify_binance(DOC_SECRET, DOC_QUERY + DOC_BODY, "é" * 64)


def test_binance_ws_payload_sorts_params_and_leaves_out_the_signature() -> None:
    params = {
        "symbol": "SOLUSDC",
        "apiKey": "k",
        "timestamp": 5,
        "signature": "x",
        "newOrderRespType": "FULL",
    }
    assert signing.binance_ws_payload(params) == "apiKey=k&newOrderRespType=FULL&symbol=SOLUSDC&timestamp=5"


@pytest.mark.parametrize(
    ("timestamp", "window", "ok"),
    [
        (10_000, 5000, True),
        (5000, 5000, True),
        (4999, 5000, False),
        (10_999, 5000, True),
        (11_000, 5000, False),
    ],
)
def test_binance_window_allows_one_second_ahead_and_recv_window_behind(
    timestamp: int, window: int, ok: bool
) -> None:
    assert (signing.binance_window_reason(timestamp, window, 10_000) is None) is ok


def test_every_catalogue_entry_has_a_negative_binance_code() -> None:
    assert all(entry.binance.code < 0 for entry in CATALOGUE.values())


@pytest.mark.parametrize(
    ("error", "answer"),
    [
        (ApiError.of(Reason.INSUFFICIENT_FUNDS, "x"),
         (400, {"code": -2010, "msg": "Account has insufficient balance for requested action."})),
        (ApiError.of(Reason.ORDER_NOT_FOUND, "x"), (400, {"code": -2013, "msg": "Order does not exist."})),
        (ApiError.of(Reason.ORDER_NOT_FOUND, "x", BN_UNKNOWN_ORDER),
         (400, {"code": -2011, "msg": "Unknown order sent."})),
        (ApiError("UNAUTHORIZED", "x", binance=BN_SIGNATURE),
         (400, {"code": -1022, "msg": "Signature for this request is not valid."})),
        (ApiError.of(Reason.INVALID_REQUEST, "symbol is required"),
         (400, {"code": -1102, "msg": "symbol is required"})),
        (ApiError("RATE_LIMITED", "slow down", retry_after=2), (429, {"code": -1003, "msg": "slow down"})),
    ],
)  # fmt: skip
def test_binance_answer_comes_from_the_catalogue(
    error: ApiError, answer: tuple[int, dict[str, object]]
) -> None:
    assert error.binance_answer() == answer


def test_binance_symbols_map_both_ways() -> None:
    symbols = Symbols(load_venue().markets)
    assert symbols.market("SOLUSDC").symbol == "SOL_USDC"
    assert symbols.compact("BTC_USDC") == "BTCUSDC"
    with pytest.raises(ApiError) as refused:
        symbols.market("SOL_USDC")
    assert refused.value.binance_answer() == (400, {"code": -1121, "msg": "Invalid symbol."})
