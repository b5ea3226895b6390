"""Authentication, CSRF, request signing, user isolation, rate limits and body size, over real HTTP.

Raw requests go through ``aiohttp.ClientSession`` so every byte that is signed, tampered with or
sent as a cookie is under the test's control; ``Client`` is used only to set the scene and to read
state back.
"""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp.test_utils import TestServer

from exchange import signing
from exchange.app import create_app
from exchange.client import Client, ExchangeError
from exchange.config import Limits, Settings
from tests.web.conftest import PASSWORD, MakeUser, state_of

SOL = "SOL_USDC"
DEPLOYMENTS = ("all", "cluster")
V1 = "/api/v1"


# -- raw HTTP helpers ----------------------------------------------------------------------------


class Answer:
    """One raw HTTP answer: status, headers, the decoded JSON body (or None)."""

    def __init__(self, status: int, headers: Any, raw: bytes) -> None:
        self.status = status
        self.headers = headers
        self.raw = raw
        self.json = orjson.loads(raw) if raw else None

    @property
    def code(self) -> str | None:
        return self.json.get("code") if isinstance(self.json, dict) else None

    def error(self) -> tuple[int, str | None]:
        assert isinstance(self.json, dict), self.raw
        assert isinstance(self.json.get("message"), str) and self.json["message"], self.json
        return self.status, self.json.get("code")


async def send(
    base_url: str, method: str, path_qs: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> Answer:
    """Send exactly these bytes, with no cookie jar (cookies go in ``headers`` when wanted)."""
    async with (
        aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as http,
        http.request(method, base_url + path_qs, data=body, headers=headers or {}) as resp,
    ):
        return Answer(resp.status, resp.headers, await resp.read())


def signed_headers(
    key: str, secret: str, method: str, path_qs: str, body: bytes, *, ts: str | None = None
) -> dict[str, str]:
    stamp = ts if ts is not None else str(time.time_ns() // 1_000_000)
    return {
        "X-API-KEY": key,
        "X-TIMESTAMP": stamp,
        "X-SIGNATURE": signing.signature(secret, stamp, method, path_qs, body),
    }


def json_headers(extra: dict[str, str] | None = None) -> dict[str, str]:
    return {"Content-Type": "application/json", **(extra or {})}


async def signed(
    base_url: str, client: Client, method: str, path_qs: str, body: Any = None, **sign: Any
) -> Answer:
    """A request signed with ``client``'s key.

    ``sign`` overrides what is signed (``sign_key``, ``sign_secret``, ``sign_method``, ``sign_path``,
    ``sign_data``, ``ts``), so that exactly one thing differs between what is signed and what is sent.
    """
    data = orjson.dumps(body) if body is not None else b""
    assert client.api_key and client.secret
    headers = signed_headers(
        sign.get("sign_key", client.api_key),
        sign.get("sign_secret", client.secret),
        sign.get("sign_method", method),
        sign.get("sign_path", path_qs),
        sign.get("sign_data", data),
        ts=sign.get("ts"),
    )
    if body is not None:
        headers["Content-Type"] = "application/json"
    return await send(base_url, method, path_qs, data or None, headers)


def session_cookie(resp: Answer) -> str:
    """The session token from a raw Set-Cookie header."""
    for header in resp.headers.getall("Set-Cookie", []):
        name, _, rest = header.partition("=")
        if name.strip() == "session":
            return rest.split(";", 1)[0]
    raise AssertionError(f"no session cookie in {resp.headers!r}")


async def raw_signup(base_url: str, username: str, password: str = PASSWORD) -> tuple[str, str]:
    """Sign up over raw HTTP: (session token, CSRF token)."""
    body = orjson.dumps({"username": username, "password": password})
    resp = await send(base_url, "POST", f"{V1}/auth/signup", body, json_headers())
    assert resp.status == 200, resp.raw
    return session_cookie(resp), resp.json["csrfToken"]


def cookie(token: str, csrf: str | None = None) -> dict[str, str]:
    headers = {"Cookie": f"session={token}"}
    if csrf is not None:
        headers["X-CSRF-Token"] = csrf
    return headers


async def raw_http(base_url: str, head: bytes, body: bytes = b"") -> tuple[int, Any]:
    """One request as raw bytes on a socket (for header bytes aiohttp would not send): (status, JSON)."""
    host, port = base_url.removeprefix("http://").rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(
            head + b"\r\nHost: test\r\nConnection: close\r\nContent-Length: %d\r\n\r\n" % len(body) + body
        )
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()
        await writer.wait_closed()
    status_line, _, rest = answer.partition(b"\r\n")
    payload = rest.partition(b"\r\n\r\n")[2]
    return int(status_line.split()[1]), orjson.loads(payload) if payload else None


async def expect_error(call: Any, status: int, code: str) -> ExchangeError:
    with pytest.raises(ExchangeError) as err:
        await call
    assert (err.value.status, err.value.code) == (status, code), err.value
    return err.value


# -- signup, login, logout -----------------------------------------------------------------------


async def test_signup_answers_username_and_csrf_and_sets_strict_httponly_cookie(base_url: str) -> None:
    body = orjson.dumps({"username": "Alice_1", "password": PASSWORD})
    resp = await send(base_url, "POST", f"{V1}/auth/signup", body, json_headers())
    assert resp.status == 200
    assert set(resp.json) == {"username", "csrfToken"}
    assert resp.json["username"] == "Alice_1"
    assert isinstance(resp.json["csrfToken"], str) and len(resp.json["csrfToken"]) >= 16
    (set_cookie,) = [h for h in resp.headers.getall("Set-Cookie") if h.startswith("session=")]
    attributes = {part.strip().split("=", 1)[0].lower(): part.strip() for part in set_cookie.split(";")[1:]}
    assert "httponly" in attributes
    assert attributes["samesite"].lower() == "samesite=strict"
    assert attributes["path"] == "Path=/"
    token = session_cookie(resp)
    assert len(token) >= 32 and token != resp.json["csrfToken"]
    me = await send(base_url, "GET", f"{V1}/auth/me", headers=cookie(token))
    assert me.status == 200 and me.json["username"] == "Alice_1"


async def test_login_with_right_password_answers_a_new_session(base_url: str) -> None:
    await raw_signup(base_url, "bob")
    body = orjson.dumps({"username": "bob", "password": PASSWORD})
    resp = await send(base_url, "POST", f"{V1}/auth/login", body, json_headers())
    assert resp.status == 200 and resp.json["username"] == "bob" and resp.json["csrfToken"]
    balances = await send(base_url, "GET", f"{V1}/balances", headers=cookie(session_cookie(resp)))
    assert balances.status == 200 and "USDC" in balances.json


async def test_login_wrong_password_and_unknown_user_answer_same_401(base_url: str) -> None:
    await raw_signup(base_url, "carol")
    answers = []
    for username, password in [("carol", "wrong password"), ("nobody_here", PASSWORD)]:
        body = orjson.dumps({"username": username, "password": password})
        resp = await send(base_url, "POST", f"{V1}/auth/login", body, json_headers())
        assert resp.error() == (401, "UNAUTHORIZED")
        assert "Set-Cookie" not in resp.headers
        answers.append(resp.json)
    assert answers[0] == answers[1]


@pytest.mark.parametrize("second", ["dave", "DAVE", "Dave"], ids=["same", "upper", "mixed"])
async def test_duplicate_username_any_case_answers_409(base_url: str, second: str) -> None:
    await raw_signup(base_url, "dave")
    body = orjson.dumps({"username": second, "password": PASSWORD})
    resp = await send(base_url, "POST", f"{V1}/auth/signup", body, json_headers())
    status, code = resp.error()
    assert status == 409 and code is not None and re.fullmatch(r"[A-Z]+(_[A-Z]+)*", code)
    assert "Set-Cookie" not in resp.headers
    # The first account is untouched: its password still works, the second one's never existed.
    login = orjson.dumps({"username": "dave", "password": PASSWORD})
    assert (await send(base_url, "POST", f"{V1}/auth/login", login, json_headers())).status == 200


@pytest.mark.parametrize(
    ("username", "password"),
    [
        ("ab", PASSWORD),
        ("a" * 33, PASSWORD),
        ("bad name", PASSWORD),
        ("bad/name", PASSWORD),
        ("émile", PASSWORD),
        ("", PASSWORD),
        ("validname", "x" * 7),
        ("validname", "x" * 129),
        ("validname", ""),
    ],
    ids=[
        "user-too-short", "user-too-long", "user-space", "user-slash", "user-non-ascii", "user-empty",
        "password-7", "password-129", "password-empty",
    ],
)  # fmt: skip
async def test_invalid_credentials_on_signup_answer_400(base_url: str, username: str, password: str) -> None:
    body = orjson.dumps({"username": username, "password": password})
    resp = await send(base_url, "POST", f"{V1}/auth/signup", body, json_headers())
    assert resp.error() == (400, "INVALID_REQUEST")
    assert "Set-Cookie" not in resp.headers
    # Nothing was created: the name (when valid) is still free.
    if username == "validname":
        await raw_signup(base_url, "validname")


async def test_signup_with_invalid_utf8_body_answers_400(base_url: str) -> None:
    body = b'{"username": "caf\xe9", "password": "correct horse"}'
    status, error = await raw_http(
        base_url, b"POST /api/v1/auth/signup HTTP/1.1\r\nContent-Type: application/json", body
    )
    assert (status, error["code"]) == (400, "INVALID_REQUEST")


async def test_boundary_credentials_are_accepted(base_url: str) -> None:
    await raw_signup(base_url, "abc", "x" * 8)
    await raw_signup(base_url, "A" * 32, "y" * 128)
    await raw_signup(base_url, "a.b-c_9", PASSWORD)


async def test_logout_ends_the_session_so_the_old_cookie_answers_401(base_url: str) -> None:
    token, csrf = await raw_signup(base_url, "erin")
    assert (await send(base_url, "GET", f"{V1}/balances", headers=cookie(token))).status == 200
    out = await send(base_url, "POST", f"{V1}/auth/logout", headers=cookie(token, csrf))
    assert out.status == 200
    assert any(h.startswith("session=") for h in out.headers.getall("Set-Cookie", []))
    after = await send(base_url, "GET", f"{V1}/balances", headers=cookie(token))
    assert after.error() == (401, "UNAUTHORIZED")
    again = await send(base_url, "POST", f"{V1}/order", b"{}", json_headers(cookie(token, csrf)))
    assert again.error() == (401, "UNAUTHORIZED")


async def test_logout_with_cookie_but_without_csrf_answers_403_and_keeps_session(base_url: str) -> None:
    token, _ = await raw_signup(base_url, "erin2")
    out = await send(base_url, "POST", f"{V1}/auth/logout", headers=cookie(token))
    assert out.error() == (403, "FORBIDDEN")
    assert (await send(base_url, "GET", f"{V1}/balances", headers=cookie(token))).status == 200


# -- cookie sessions and CSRF --------------------------------------------------------------------


async def _funded_cookie_user(base_url: str, name: str) -> tuple[str, str, Answer]:
    """A cookie user with funds and one resting buy: (token, csrf, the order's answer)."""
    token, csrf = await raw_signup(base_url, name)
    for asset, amount in (("USDC", "1000"), ("SOL", "10")):
        body = orjson.dumps({"asset": asset, "amount": amount})
        resp = await send(base_url, "POST", f"{V1}/onramp", body, json_headers(cookie(token, csrf)))
        assert resp.status == 200, resp.raw
    order = orjson.dumps({"symbol": SOL, "side": "buy", "type": "limit", "price": "10", "quantity": "1"})
    placed = await send(base_url, "POST", f"{V1}/order", order, json_headers(cookie(token, csrf)))
    assert placed.status == 200, placed.raw
    return token, csrf, placed


async def _cookie_state(base_url: str, token: str) -> tuple[Any, ...]:
    out = []
    for path in ("/balances", "/orders/open", "/apikeys", "/orders/history"):
        resp = await send(base_url, "GET", V1 + path, headers=cookie(token))
        assert resp.status == 200, resp.raw
        out.append(resp.json)
    out.append((await send(base_url, "GET", f"{V1}/depth?symbol={SOL}")).json)
    return tuple(out)


async def test_cookie_get_private_route_needs_no_csrf(base_url: str) -> None:
    token, _, placed = await _funded_cookie_user(base_url, "frank")
    for path in ("/balances", "/orders/open", "/apikeys", "/fills", "/orders/history", "/auth/me"):
        assert (await send(base_url, "GET", V1 + path, headers=cookie(token))).status == 200, path
    path = f"{V1}/order?symbol={SOL}&orderId={placed.json['orderId']}"
    one = await send(base_url, "GET", path, headers=cookie(token))
    assert one.status == 200 and one.json["orderId"] == placed.json["orderId"]


STATE_CHANGES = [
    ("POST", f"{V1}/order", {"symbol": SOL, "side": "buy", "type": "limit", "price": "11", "quantity": "1"}),
    ("DELETE", f"{V1}/orders", None),
    ("POST", f"{V1}/onramp", {"asset": "USDC", "amount": "5"}),
    ("POST", f"{V1}/apikeys", None),
]
STATE_IDS = ["place-order", "cancel-all", "onramp", "create-apikey"]


@pytest.mark.parametrize(("method", "path", "body"), STATE_CHANGES, ids=STATE_IDS)
@pytest.mark.parametrize("csrf", ["missing", "wrong", "empty"])
async def test_cookie_state_change_without_right_csrf_answers_403_and_changes_nothing(
    base_url: str, method: str, path: str, body: Any, csrf: str
) -> None:
    token, right, _ = await _funded_cookie_user(base_url, "grace")
    before = await _cookie_state(base_url, token)
    headers = cookie(token, {"missing": None, "wrong": right[:-2] + "xx", "empty": ""}[csrf])
    data = orjson.dumps(body) if body is not None else None
    if data is not None:
        headers["Content-Type"] = "application/json"
    resp = await send(base_url, method, path, data, headers)
    assert resp.error() == (403, "FORBIDDEN")
    assert await _cookie_state(base_url, token) == before


@pytest.mark.parametrize(("method", "path", "body"), STATE_CHANGES, ids=STATE_IDS)
async def test_cookie_state_change_with_right_csrf_works(
    base_url: str, method: str, path: str, body: Any
) -> None:
    token, csrf, _ = await _funded_cookie_user(base_url, "heidi")
    before = await _cookie_state(base_url, token)
    headers = cookie(token, csrf)
    data = orjson.dumps(body) if body is not None else None
    if data is not None:
        headers["Content-Type"] = "application/json"
    resp = await send(base_url, method, path, data, headers)
    assert resp.status in (200, 201), resp.raw
    assert await _cookie_state(base_url, token) != before


async def test_cookie_with_non_utf8_csrf_header_answers_403_and_changes_nothing(base_url: str) -> None:
    token, _, _ = await _funded_cookie_user(base_url, "mallory")
    before = await _cookie_state(base_url, token)
    head = (
        b"DELETE /api/v1/orders HTTP/1.1\r\nCookie: session=" + token.encode() + b"\r\nX-CSRF-Token: \xff\xfe"
    )
    status, error = await raw_http(base_url, head)
    assert await _cookie_state(base_url, token) == before
    assert (status, error["code"]) == (403, "FORBIDDEN")


async def test_cookie_with_non_ascii_csrf_or_cookie_header_is_refused(base_url: str) -> None:
    token, _, _ = await _funded_cookie_user(base_url, "mallory2")
    before = await _cookie_state(base_url, token)
    head = (
        b"DELETE /api/v1/orders HTTP/1.1\r\nCookie: session="
        + token.encode()
        + b"\r\nX-CSRF-Token: caf\xc3\xa9"
    )
    assert (await raw_http(base_url, head))[0] == 403
    head = b"DELETE /api/v1/orders HTTP/1.1\r\nCookie: session=\xff\xfe"
    assert (await raw_http(base_url, head))[0] == 401
    assert await _cookie_state(base_url, token) == before


async def test_csrf_token_of_another_session_is_refused(base_url: str) -> None:
    token, _, _ = await _funded_cookie_user(base_url, "ivan")
    _, other_csrf = await raw_signup(base_url, "judy")
    before = await _cookie_state(base_url, token)
    resp = await send(base_url, "DELETE", f"{V1}/orders", None, cookie(token, other_csrf))
    assert resp.error() == (403, "FORBIDDEN")
    assert await _cookie_state(base_url, token) == before


# -- signed requests -----------------------------------------------------------------------------


async def test_private_route_without_credentials_answers_401(base_url: str) -> None:
    routes = [("GET", "/balances"), ("GET", "/orders/open"), ("DELETE", "/orders"), ("POST", "/apikeys")]
    for method, path in routes:
        resp = await send(base_url, method, V1 + path)
        assert resp.error() == (401, "UNAUTHORIZED"), path
    bogus = await send(base_url, "GET", f"{V1}/balances", headers={"Cookie": "session=not-a-session"})
    assert bogus.error() == (401, "UNAUTHORIZED")


async def test_correctly_signed_request_works(base_url: str, make_user: MakeUser) -> None:
    alice = await make_user()
    resp = await signed(base_url, alice, "GET", f"{V1}/orders/open?symbol={SOL}")
    assert resp.status == 200 and resp.json == []
    order = {"symbol": SOL, "side": "buy", "type": "limit", "price": "10", "quantity": "1"}
    placed = await signed(base_url, alice, "POST", f"{V1}/order", order)
    assert placed.status == 200 and placed.json["status"] == "NEW"


async def test_unknown_api_key_answers_401(base_url: str, make_user: MakeUser) -> None:
    alice = await make_user()
    resp = await signed(base_url, alice, "GET", f"{V1}/balances", sign_key="no-such-key")
    assert resp.error() == (401, "UNAUTHORIZED")


ORDER = {"symbol": SOL, "side": "buy", "type": "limit", "price": "10", "quantity": "1"}
ORDER_BYTES = orjson.dumps(ORDER)


@pytest.mark.parametrize(
    "tamper",
    [
        {"sign_secret": "0" * 64},
        {"sign_data": orjson.dumps({**ORDER, "quantity": "2"})},
        {"sign_data": b""},
        {"sign_path": f"{V1}/order?symbol={SOL}"},
        {"sign_path": f"{V1}/orders"},
        {"sign_method": "PATCH"},
        {"sign_method": "GET"},
        {"ts": "0"},
    ],
    ids=[
        "wrong-secret", "body-tampered", "body-dropped", "query-added", "path-changed", "method-patch",
        "method-get", "timestamp-zero",
    ],
)  # fmt: skip
async def test_wrong_signature_on_place_answers_401_and_places_nothing(
    base_url: str, make_user: MakeUser, tamper: dict[str, Any]
) -> None:
    alice = await make_user()
    before = await state_of(alice)
    resp = await signed(base_url, alice, "POST", f"{V1}/order", ORDER, **tamper)
    assert resp.error() == (401, "UNAUTHORIZED")
    assert await state_of(alice) == before


async def test_query_tampered_after_signing_answers_401(base_url: str, make_user: MakeUser) -> None:
    alice = await make_user()
    await alice.place_order(SOL, "buy", price="10", quantity="1")
    await alice.place_order("BTC_USDC", "buy", price="10000", quantity="0.001")
    before = await state_of(alice)
    # Signed to cancel only BTC_USDC orders, sent to cancel SOL_USDC ones.
    resp = await signed(
        base_url, alice, "DELETE", f"{V1}/orders?symbol={SOL}", sign_path=f"{V1}/orders?symbol=BTC_USDC"
    )
    assert resp.error() == (401, "UNAUTHORIZED")
    # Signed without any query (cancel everything), sent with one.
    resp = await signed(base_url, alice, "DELETE", f"{V1}/orders?symbol={SOL}", sign_path=f"{V1}/orders")
    assert resp.error() == (401, "UNAUTHORIZED")
    assert await state_of(alice) == before
    assert len(await alice.open_orders()) == 2


async def test_method_changed_after_signing_answers_401(base_url: str, make_user: MakeUser) -> None:
    alice = await make_user()
    order = await alice.place_order(SOL, "buy", price="10", quantity="1")
    before = await state_of(alice)
    ref = {"symbol": SOL, "orderId": order["orderId"]}
    # Signed as a read (or an amend), sent as a DELETE that would cancel.
    resp = await signed(base_url, alice, "DELETE", f"{V1}/order", ref, sign_method="GET")
    assert resp.error() == (401, "UNAUTHORIZED")
    resp = await signed(base_url, alice, "DELETE", f"{V1}/order", ref, sign_method="PATCH")
    assert resp.error() == (401, "UNAUTHORIZED")
    assert await state_of(alice) == before


async def test_upper_case_signature_is_accepted(base_url: str, make_user: MakeUser) -> None:
    alice = await make_user()
    assert alice.api_key and alice.secret
    headers = signed_headers(alice.api_key, alice.secret, "GET", f"{V1}/balances", b"")
    headers["X-SIGNATURE"] = headers["X-SIGNATURE"].upper()
    assert (await send(base_url, "GET", f"{V1}/balances", headers=headers)).status == 200


@pytest.mark.parametrize(
    "ts",
    [
        lambda now: str(now - 6000),
        lambda now: str(now + 6000),
        lambda now: str(now - 60_000_000),
        lambda now: f"{now}.0",
        lambda now: f"{now / 1000:.3f}",
        lambda now: f"{now:e}",
        lambda now: f"-{now}",
        lambda now: f"+{now}",
        lambda now: f" {now}",
        lambda now: "abc",
        lambda now: "",
        lambda now: "9" * 30,
    ],
    ids=[
        "stale-6s", "future-6s", "stale-1000min", "fraction", "seconds", "exponent", "negative", "plus",
        "leading-space", "letters", "empty", "huge",
    ],
)  # fmt: skip
async def test_bad_timestamp_answers_401_and_places_nothing(
    base_url: str, make_user: MakeUser, ts: Any
) -> None:
    alice = await make_user()
    before = await state_of(alice)
    stamp = ts(time.time_ns() // 1_000_000)
    resp = await signed(base_url, alice, "POST", f"{V1}/order", ORDER, ts=stamp)
    assert resp.error() == (401, "UNAUTHORIZED")
    assert await state_of(alice) == before


async def test_timestamp_within_window_is_accepted(base_url: str, make_user: MakeUser) -> None:
    alice = await make_user()
    for offset in (-3000, 3000):
        stamp = str(time.time_ns() // 1_000_000 + offset)
        resp = await signed(base_url, alice, "GET", f"{V1}/balances", ts=stamp)
        assert resp.status == 200, (offset, resp.raw)


async def test_signed_request_missing_header_answers_401(base_url: str, make_user: MakeUser) -> None:
    alice = await make_user()
    assert alice.api_key and alice.secret
    full = signed_headers(alice.api_key, alice.secret, "GET", f"{V1}/balances", b"")
    for drop in ("X-TIMESTAMP", "X-SIGNATURE"):
        headers = {k: v for k, v in full.items() if k != drop}
        resp = await send(base_url, "GET", f"{V1}/balances", headers=headers)
        assert resp.error() == (401, "UNAUTHORIZED"), drop


async def test_signed_request_with_non_utf8_headers_answers_401(base_url: str, make_user: MakeUser) -> None:
    alice = await make_user()
    assert alice.api_key and alice.secret
    before = await state_of(alice)
    good = signed_headers(alice.api_key, alice.secret, "DELETE", f"{V1}/orders", b"")
    variants = {
        "X-API-KEY": b"\xff\xfe",
        "X-SIGNATURE": good["X-SIGNATURE"][:-2].encode() + b"\xff\xfe",
        "X-TIMESTAMP": "\u0661\u0662\u0663".encode(),  # Arabic-Indic digits: not ASCII digits
    }
    for name, value in variants.items():
        lines = [f"{k}: {v}".encode() for k, v in good.items() if k != name] + [name.encode() + b": " + value]
        status, error = await raw_http(base_url, b"\r\n".join([b"DELETE /api/v1/orders HTTP/1.1", *lines]))
        assert (status, error["code"]) == (401, "UNAUTHORIZED"), name
    assert await state_of(alice) == before


async def test_revoked_key_answers_401_while_second_key_works(base_url: str, make_user: MakeUser) -> None:
    alice = await make_user()
    assert alice.api_key and alice.secret
    first_key, first_secret = alice.api_key, alice.secret
    second = await alice.create_api_key()
    assert second["apiKey"] != first_key and second["secret"] != first_secret
    revoked = await alice.revoke_api_key(first_key)  # signed with the first key itself
    assert revoked["apiKey"] == first_key
    resp = await signed(base_url, alice, "GET", f"{V1}/balances")
    assert resp.error() == (401, "UNAUTHORIZED")
    alice.use_key(second["apiKey"], second["secret"])
    assert "USDC" in await alice.balances()
    await expect_error(alice.revoke_api_key(first_key), 404, "NOT_FOUND")
    assert [k["apiKey"] for k in await alice.api_keys()] == [second["apiKey"]]


async def test_api_keys_list_has_no_secrets(base_url: str, make_user: MakeUser) -> None:
    alice = await make_user()
    assert alice.api_key and alice.secret
    second = await alice.create_api_key()
    listed = await alice.api_keys()
    assert {k["apiKey"] for k in listed} == {alice.api_key, second["apiKey"]}
    for entry in listed:
        assert set(entry) == {"apiKey", "createdAt"}
        assert isinstance(entry["createdAt"], int)
    raw = orjson.dumps(listed).decode()
    assert alice.secret not in raw and second["secret"] not in raw


async def test_revoking_another_users_key_answers_404_and_key_keeps_working(
    base_url: str, make_user: MakeUser
) -> None:
    alice, bob = await make_user(), await make_user()
    assert alice.api_key
    await expect_error(bob.revoke_api_key(alice.api_key), 404, "NOT_FOUND")
    assert "USDC" in await alice.balances()
    assert [k["apiKey"] for k in await alice.api_keys()] == [alice.api_key]
    await expect_error(bob.revoke_api_key("no-such-key"), 404, "NOT_FOUND")


async def test_api_key_of_one_user_never_acts_as_another(base_url: str, make_user: MakeUser) -> None:
    alice, bob = await make_user(), await make_user(fund={"USDC": "7"})
    assert (await bob.balances())["USDC"]["available"] == "7.000000"
    assert (await alice.balances())["USDC"]["available"] == "100000.000000"


# -- isolation between users ---------------------------------------------------------------------


async def test_other_user_cannot_cancel_amend_or_read_an_order(base_url: str, make_user: MakeUser) -> None:
    alice, bob = await make_user(), await make_user()
    order = await alice.place_order(SOL, "buy", price="50", quantity="2", client_order_id="alice-bid")
    await bob.place_order(SOL, "buy", price="40", quantity="1", client_order_id="bob-bid")
    oid = order["orderId"]
    alice_before, bob_before = await state_of(alice), await state_of(bob)
    alice_order = await alice.get_order(SOL, oid)
    attempts = [
        bob.cancel_order(SOL, order_id=oid),
        bob.cancel_order(SOL, client_order_id="alice-bid"),
        bob.amend_order(SOL, oid, quantity="1"),
        bob.amend_order(SOL, oid, price="51"),
        bob.amend_order(SOL, client_order_id="alice-bid", quantity="1"),
        bob.get_order(SOL, oid),
        bob.get_order(SOL, client_order_id="alice-bid"),
    ]
    for attempt in attempts:
        await expect_error(attempt, 404, "ORDER_NOT_FOUND")
    assert await alice.get_order(SOL, oid) == alice_order
    assert (await state_of(alice), await state_of(bob)) == (alice_before, bob_before)
    # The error for another user's order is the one for an order that never existed.
    theirs = await expect_error(bob.cancel_order(SOL, order_id=oid), 404, "ORDER_NOT_FOUND")
    never = await expect_error(bob.cancel_order(SOL, order_id="987654"), 404, "ORDER_NOT_FOUND")
    assert theirs.message == never.message


async def test_other_users_lists_never_include_someone_elses_orders_or_fills(make_user: MakeUser) -> None:
    alice, bob, carol = await make_user(), await make_user(), await make_user()
    mine: dict[str, set[str]] = {"alice": set(), "bob": set()}
    for price in ("101", "102"):
        mine["alice"].add((await alice.place_order(SOL, "sell", price=price, quantity="1"))["orderId"])
    canceled = await alice.place_order(SOL, "buy", price="90", quantity="1")
    mine["alice"].add(canceled["orderId"])
    await alice.cancel_order(SOL, order_id=canceled["orderId"])
    mine["alice"].add((await alice.place_order(SOL, "buy", price="91", quantity="1"))["orderId"])
    # Carol trades with Alice; Bob trades with Alice too (so they share a trade, not an order).
    await carol.place_order(SOL, "buy", price="101", quantity="1")
    mine["bob"].add((await bob.place_order(SOL, "buy", price="102", quantity="1"))["orderId"])
    mine["bob"].add((await bob.place_order(SOL, "buy", price="80", quantity="1"))["orderId"])
    canceled = await bob.place_order(SOL, "sell", price="200", quantity="1")
    mine["bob"].add(canceled["orderId"])
    await bob.cancel_order(SOL, order_id=canceled["orderId"])

    for who, client in (("alice", alice), ("bob", bob)):
        other = mine["bob" if who == "alice" else "alice"]
        opened = {o["orderId"] for o in await client.open_orders()}
        history = {o["orderId"] for o in await client.order_history()}
        filled = {f["orderId"] for f in await client.fills()}
        assert opened and history and filled
        assert opened | history | filled <= mine[who], who
        assert not (opened | history | filled) & other, who
    bob_fills = await bob.fills()
    assert [(f["side"], f["role"]) for f in bob_fills] == [("buy", "taker")]


async def test_user_id_in_body_is_refused_and_never_acts_as_that_user(
    base_url: str, make_user: MakeUser
) -> None:
    alice, bob = await make_user(), await make_user()  # alice is user 1 of this fresh app
    order = await alice.place_order(SOL, "buy", price="50", quantity="1", client_order_id="a1")
    alice_before, bob_before = await state_of(alice), await state_of(bob)
    bodies = [
        ("POST", f"{V1}/order", {**ORDER, "userId": 1}),
        ("POST", f"{V1}/order", {**ORDER, "userId": "1"}),
        ("DELETE", f"{V1}/order", {"symbol": SOL, "orderId": order["orderId"], "userId": 1}),
        ("PATCH", f"{V1}/order", {"symbol": SOL, "clientOrderId": "a1", "quantity": "2", "userId": 1}),
        ("DELETE", f"{V1}/orders", {"symbol": SOL, "userId": 1}),
        ("POST", f"{V1}/onramp", {"asset": "USDC", "amount": "1", "userId": 1}),
    ]
    for method, path, body in bodies:
        resp = await signed(base_url, bob, method, path, body)
        assert resp.error() == (400, "INVALID_REQUEST"), (method, path)
        assert "userId" in resp.json["message"] or "unknown" in resp.json["message"].lower()
    assert (await state_of(alice), await state_of(bob)) == (alice_before, bob_before)
    # A userId in the query is ignored or refused, never obeyed.
    for path in (f"{V1}/orders/open?userId=1", f"{V1}/orders/history?userId=1", f"{V1}/fills?userId=1"):
        resp = await signed(base_url, bob, "GET", path)
        assert resp.status in (200, 400), resp.raw
        if resp.status == 200:
            assert all(o["orderId"] != order["orderId"] for o in resp.json)
    resp = await signed(base_url, bob, "GET", f"{V1}/order?symbol={SOL}&orderId={order['orderId']}&userId=1")
    assert resp.status in (400, 404) and resp.code in ("INVALID_REQUEST", "ORDER_NOT_FOUND")
    resp = await signed(base_url, bob, "DELETE", f"{V1}/orders?symbol={SOL}&userId=1")
    assert resp.status in (200, 400)
    assert await state_of(alice) == alice_before


# -- rate limits ---------------------------------------------------------------------------------


@pytest.fixture
async def tight_url(aiohttp_server: Any, tmp_path: Path) -> str:
    settings = Settings(
        data_dir=str(tmp_path / "tight"),
        limits=Limits(rate_per_s=1.0, rate_burst=5, auth_rate_per_s=0.5, auth_burst=3),
        bot=False,
    )
    server: TestServer = await aiohttp_server(create_app(settings))
    return str(server.make_url("")).rstrip("/")


async def test_sixth_private_request_in_a_burst_answers_429_with_retry_after(tight_url: str) -> None:
    token, _ = await raw_signup(tight_url, "rita")
    for i in range(5):
        resp = await send(tight_url, "GET", f"{V1}/balances", headers=cookie(token))
        assert resp.status == 200, (i, resp.raw)
    limited = await send(tight_url, "GET", f"{V1}/balances", headers=cookie(token))
    assert limited.error() == (429, "RATE_LIMITED")
    assert int(limited.headers["Retry-After"]) >= 1
    # The limit is per user: someone else is not slowed down by Rita.
    other, _ = await raw_signup(tight_url, "sam")
    assert (await send(tight_url, "GET", f"{V1}/balances", headers=cookie(other))).status == 200


async def test_rate_limit_applies_to_signed_requests_and_changes_nothing(tight_url: str) -> None:
    async with Client(tight_url) as rita:
        await rita.signup("rita2", PASSWORD)
        key = await rita.create_api_key()  # 1 token
        rita.use_key(key["apiKey"], key["secret"])
        for _ in range(4):
            await rita.balances()
        resp = await signed(tight_url, rita, "POST", f"{V1}/order", ORDER)
        assert resp.error() == (429, "RATE_LIMITED")
        assert int(resp.headers["Retry-After"]) >= 1


async def test_login_attempts_past_the_burst_answer_429_even_for_wrong_passwords(tight_url: str) -> None:
    await raw_signup(tight_url, "tom")  # 1 of the 3 attempts
    codes = []
    for password in ("wrong password 1", "wrong password 2", "wrong password 3", PASSWORD):
        body = orjson.dumps({"username": "tom", "password": password})
        resp = await send(tight_url, "POST", f"{V1}/auth/login", body, json_headers())
        codes.append(resp.error())
        if resp.status == 429:
            assert int(resp.headers["Retry-After"]) >= 1
            assert "Set-Cookie" not in resp.headers
    wrong, limited = (401, "UNAUTHORIZED"), (429, "RATE_LIMITED")
    assert codes == [wrong, wrong, limited, limited]
    # Signup is guarded by the same bucket.
    body = orjson.dumps({"username": "newcomer", "password": PASSWORD})
    resp = await send(tight_url, "POST", f"{V1}/auth/signup", body, json_headers())
    assert resp.error() == (429, "RATE_LIMITED")


# -- body size -----------------------------------------------------------------------------------


def _big_order_body() -> bytes:
    body = orjson.dumps({**ORDER, "clientOrderId": "x" * (70 * 1024)})
    assert len(body) > 64 * 1024
    return body


async def test_order_body_over_64_kib_answers_413_json_signed(base_url: str, make_user: MakeUser) -> None:
    alice = await make_user()
    assert alice.api_key and alice.secret
    before = await state_of(alice)
    body = _big_order_body()
    headers = signed_headers(alice.api_key, alice.secret, "POST", f"{V1}/order", body)
    resp = await send(base_url, "POST", f"{V1}/order", body, json_headers(headers))
    assert resp.error() == (413, "PAYLOAD_TOO_LARGE")
    assert resp.headers["Content-Type"].startswith("application/json")
    assert await state_of(alice) == before


async def test_order_body_over_64_kib_answers_413_json_with_cookie(base_url: str) -> None:
    token, csrf, _ = await _funded_cookie_user(base_url, "uma")
    before = await _cookie_state(base_url, token)
    resp = await send(base_url, "POST", f"{V1}/order", _big_order_body(), json_headers(cookie(token, csrf)))
    assert resp.error() == (413, "PAYLOAD_TOO_LARGE")
    assert await _cookie_state(base_url, token) == before


async def test_body_just_under_64_kib_is_read_normally(base_url: str, make_user: MakeUser) -> None:
    alice = await make_user()
    body = orjson.dumps({**ORDER, "clientOrderId": "x" * (60 * 1024)})
    assert alice.api_key and alice.secret
    headers = signed_headers(alice.api_key, alice.secret, "POST", f"{V1}/order", body)
    resp = await send(base_url, "POST", f"{V1}/order", body, json_headers(headers))
    assert resp.error() == (400, "INVALID_REQUEST")  # read, then refused for the too-long clientOrderId
