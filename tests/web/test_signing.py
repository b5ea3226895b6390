"""Request signing: a hand-computed vector, then every way a request can be refused."""

from __future__ import annotations

import functools
import hashlib
import hmac

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exchange.limits import Limits
from exchange.signing import signature, verify, verify_ws_auth, ws_auth_signature

SECRET = "s3cr3t"
NOW = 1_700_000_000_000
BODY = b'{"symbol":"BTC-USD","side":"buy","price":"100.5"}'
PATH = "/api/v1/order?symbol=BTC-USD"
#: The server's window unless an operator changes it (5 s).
_verify = functools.partial(verify, window_ms=Limits().signing_window_ms)
_verify_ws_auth = functools.partial(verify_ws_auth, window_ms=Limits().signing_window_ms)


def _signed(ts: int | str = NOW, method: str = "POST", path: str = PATH, body: bytes = BODY) -> str:
    return signature(SECRET, ts, method, path, body)


def test_signature_matches_a_hand_computed_hmac() -> None:
    message = f"{NOW}POST{PATH}".encode() + BODY
    expected = hmac.new(SECRET.encode(), message, hashlib.sha256).hexdigest()

    assert signature(SECRET, NOW, "post", PATH, BODY) == expected
    assert signature(SECRET, str(NOW), "POST", PATH, BODY.decode()) == expected
    assert expected == expected.lower() and len(expected) == 64


def test_signature_of_utf8_text_body_equals_its_bytes() -> None:
    body = '{"note":"café ✓"}'
    assert signature(SECRET, NOW, "POST", PATH, body) == signature(SECRET, NOW, "POST", PATH, body.encode())


def test_verify_valid_request_returns_none() -> None:
    assert _verify(SECRET, str(NOW), "POST", PATH, BODY, _signed(), now_ms=NOW) is None


def test_verify_empty_body_get_returns_none() -> None:
    sig = signature(SECRET, NOW, "GET", "/api/v1/balances", b"")
    assert _verify(SECRET, str(NOW), "GET", "/api/v1/balances", b"", sig, now_ms=NOW + 10) is None


def test_verify_upper_case_hex_signature_is_accepted() -> None:
    assert _verify(SECRET, str(NOW), "POST", PATH, BODY, _signed().upper(), now_ms=NOW) is None


def test_verify_wrong_secret_is_refused() -> None:
    sig = signature("other", NOW, "POST", PATH, BODY)
    assert _verify(SECRET, str(NOW), "POST", PATH, BODY, sig, now_ms=NOW) == "signature does not match"


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", PATH, BODY.replace(b"100.5", b"100.6")),
        ("POST", "/api/v1/order?symbol=ETH-USD", BODY),
        ("DELETE", PATH, BODY),
    ],
    ids=["tampered-body", "tampered-path", "tampered-method"],
)
def test_verify_tampered_request_is_refused(method: str, path: str, body: bytes) -> None:
    assert _verify(SECRET, str(NOW), method, path, body, _signed(), now_ms=NOW) == "signature does not match"


def test_verify_signature_for_another_timestamp_is_refused() -> None:
    sig = _signed(ts=NOW - 1)
    assert _verify(SECRET, str(NOW), "POST", PATH, BODY, sig, now_ms=NOW) == "signature does not match"


@pytest.mark.parametrize(
    "offset", [-5001, 5001, -60_000, 3_600_000], ids=["stale", "future", "minute-old", "hour-ahead"]
)
def test_verify_timestamp_outside_window_is_refused(offset: int) -> None:
    ts = NOW + offset
    reason = _verify(SECRET, str(ts), "POST", PATH, BODY, _signed(ts=ts), now_ms=NOW)
    assert reason == "timestamp is outside the 5 s window"


@pytest.mark.parametrize("offset", [-5000, 5000])
def test_verify_timestamp_exactly_at_window_edge_is_accepted(offset: int) -> None:
    ts = NOW + offset
    assert _verify(SECRET, str(ts), "POST", PATH, BODY, _signed(ts=ts), now_ms=NOW) is None


@pytest.mark.parametrize(
    "header",
    ["", "abc", "1.7e12", "1700000000000.0", "-5", "+1700000000000", " 1700000000000", "١٢٣", "9" * 40],
)
def test_verify_non_integer_timestamp_is_refused(header: str) -> None:
    reason = _verify(SECRET, header, "POST", PATH, BODY, _signed(ts=header), now_ms=NOW)
    assert reason == "timestamp is not an integer"


def test_verify_non_ascii_signature_header_is_refused_without_raising() -> None:
    assert _verify(SECRET, str(NOW), "POST", PATH, BODY, "é" * 64, now_ms=NOW) == "signature does not match"
    assert _verify(SECRET, str(NOW), "POST", PATH, BODY, "\udcff", now_ms=NOW) == "signature does not match"


def test_verify_custom_window_reports_it() -> None:
    ts = NOW - 1500
    reason = _verify(SECRET, str(ts), "POST", PATH, BODY, _signed(ts=ts), now_ms=NOW, window_ms=1000)
    assert reason == "timestamp is outside the 1 s window"


def test_ws_auth_signature_is_hmac_of_timestamp_and_auth() -> None:
    expected = hmac.new(SECRET.encode(), f"{NOW}AUTH".encode(), hashlib.sha256).hexdigest()
    assert ws_auth_signature(SECRET, NOW) == expected
    assert _verify(SECRET, str(NOW), "AUTH", "", b"", expected, now_ms=NOW) is None


def test_verify_ws_auth_valid_returns_none() -> None:
    assert _verify_ws_auth(SECRET, NOW, ws_auth_signature(SECRET, NOW), now_ms=NOW + 100) is None


@pytest.mark.parametrize("timestamp", [str(NOW), float(NOW), True, None, -1])
def test_verify_ws_auth_non_integer_timestamp_is_refused(timestamp: object) -> None:
    assert (
        _verify_ws_auth(SECRET, timestamp, ws_auth_signature(SECRET, NOW), now_ms=NOW)
        == "timestamp is not an integer"
    )


def test_verify_ws_auth_stale_huge_or_wrong_is_refused() -> None:
    assert _verify_ws_auth(SECRET, NOW - 6000, ws_auth_signature(SECRET, NOW - 6000), now_ms=NOW) is not None
    assert _verify_ws_auth(SECRET, 10**5000, "x", now_ms=NOW) == "timestamp is outside the 5 s window"
    assert (
        _verify_ws_auth(SECRET, NOW, ws_auth_signature("other", NOW), now_ms=NOW)
        == "signature does not match"
    )
    assert _verify_ws_auth(SECRET, NOW, 12345, now_ms=NOW) == "signature does not match"


@given(
    secret=st.text(max_size=200),
    ts=st.integers(min_value=0, max_value=2**63),
    method=st.sampled_from(["GET", "post", "DELETE", "AUTH"]),
    path=st.text(max_size=80),
    body=st.binary(max_size=300),
)
def test_signature_is_the_standard_hmac(secret: str, ts: int, method: str, path: str, body: bytes) -> None:
    """The precomputed pads give exactly hmac's answer, keys longer than a block included."""
    key = secret.encode("utf-8", "surrogatepass")
    message = f"{ts}{method.upper()}{path}".encode("utf-8", "surrogatepass") + body
    assert signature(secret, ts, method, path, body) == hmac.new(key, message, hashlib.sha256).hexdigest()
