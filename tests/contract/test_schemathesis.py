"""Schemathesis against the real server process: every operation of ``/api/v1/openapi.json``
with generated requests, signed with an API key and sent with a cookie session, and the
document's links walked as a state machine (sign up -> create a key -> place -> read, amend,
cancel).

Every answer must be one the document allows (status, content type, body schema, no 5xx), and
a refused request must change nothing: the engine's state hash (``/statez``), the trader's
balances, open orders and API keys are read before and after it. The examples per operation
come from ``FUZZ_EXAMPLES`` (`make fuzz` raises it); CI's count keeps this module near a minute.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import ignored_auth, positive_data_acceptance
from schemathesis.specs.openapi.stateful import OpenAPIStateMachine

from exchange import signing
from exchange.clock import now_ms
from exchange.web.spec.declare import Auth, Operation
from exchange.web.spec.openapi import V1
from exchange.web.spec.operations import OPERATIONS
from tests.live_server import LiveServer

pytestmark = pytest.mark.once  # the contract, whichever engine build serves it
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "25"))
STEPS = int(os.environ.get("FUZZ_STATEFUL_STEPS", "30"))
#: Where `make fuzz` wants the figures: calls per operation and status, written at the end.
SUMMARY = os.environ.get("FUZZ_SUMMARY")
CALLS: Counter[tuple[str, str, int]] = Counter()
PASSWORD = "correct horse battery"
VALID, INVALID = GenerationMode.POSITIVE, GenerationMode.NEGATIVE
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=os.environ.get("FUZZ_RANDOM") != "1",  # CI: the same cases every run
    suppress_health_check=list(HealthCheck),
)


class HmacAuth(requests.auth.AuthBase):
    """Signs the request exactly as it leaves (path with query, body bytes), as exchange/client.py does."""

    def __init__(self, key: str, secret: str) -> None:
        self.key, self.secret = key, secret

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        ts = str(now_ms())
        body = r.body or b""
        body = body.encode() if isinstance(body, str) else body
        r.headers.pop("Cookie", None)  # a generated session cookie must not decide who this is
        r.headers["X-API-KEY"] = self.key
        r.headers["X-TIMESTAMP"] = ts
        r.headers["X-SIGNATURE"] = signing.signature(self.secret, ts, r.method or "GET", r.path_url, body)
        return r


class CookieAuth(requests.auth.AuthBase):
    """The browser's way: the session cookie, and its CSRF token on every write."""

    def __init__(self, cookie: str, csrf: str) -> None:
        self.cookie, self.csrf = cookie, csrf

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        for name in ("X-API-KEY", "X-TIMESTAMP", "X-SIGNATURE"):
            r.headers.pop(name, None)
        r.headers["Cookie"] = f"session={self.cookie}"
        r.headers["X-CSRF-Token"] = self.csrf
        return r


class NoAuth(requests.auth.AuthBase):
    """Neither: whatever key headers or session cookie schemathesis generated are taken off."""

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        for name in ("X-API-KEY", "X-TIMESTAMP", "X-SIGNATURE", "Cookie", "X-CSRF-Token"):
            r.headers.pop(name, None)
        return r


class Trader:
    """One funded user with an API key and a cookie session; what a refused request must not move."""

    def __init__(self, base: str, name: str) -> None:
        self.base, self.name, self.http = base, name, requests.Session()
        answer = self.http.post(f"{base}/api/v1/auth/signup", json={"username": name, "password": PASSWORD})
        answer.raise_for_status()
        self.cookie = CookieAuth(self.http.cookies["session"], answer.json()["csrfToken"])
        created = self.http.post(f"{base}/api/v1/apikeys", auth=self.cookie)
        created.raise_for_status()
        self.key = HmacAuth(created.json()["apiKey"], created.json()["secret"])
        self.http.cookies.clear()
        for asset, amount in (("USDC", "100000"), ("SOL", "500"), ("BTC", "1")):
            self.get_ok("POST", "/api/v1/onramp", json={"asset": asset, "amount": amount})
        # something to cancel, amend and read: a bid and an ask far from each other
        for side, price in (("buy", "10.00"), ("sell", "900.00")):
            order = {"symbol": "SOL_USDC", "side": side, "type": "limit", "price": price, "quantity": "1.00"}
            self.get_ok("POST", "/api/v1/order", json=order)

    def get_ok(self, method: str, path: str, **kwargs: Any) -> Any:
        answer = self.http.request(method, self.base + path, auth=self.key, **kwargs)
        answer.raise_for_status()
        return answer.json()

    def state(self) -> tuple[Any, ...]:
        engine = requests.get(f"{self.base}/statez").json()
        return (
            engine["stateHash"], self.get_ok("GET", "/api/v1/balances"),
            self.get_ok("GET", "/api/v1/orders/open"), self.get_ok("GET", "/api/v1/apikeys"),
        )  # fmt: skip


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = LiveServer(
        tmp_path_factory.mktemp("schemathesis") / "data", "--no-bot", "--bench-limits"
    ).start()
    yield server
    server.stop()


@pytest.fixture(scope="module", autouse=True)
def summary() -> Iterator[None]:
    """The module's figures, for `make fuzz`: requests sent per operation and answer status."""
    CALLS.clear()
    yield
    if SUMMARY:
        by_operation: dict[str, dict[str, int]] = {}
        for (method, path, status), n in sorted(CALLS.items()):
            by_operation.setdefault(f"{method} {path}", {})[str(status)] = n
        errors = sum(n for (_, _, status), n in CALLS.items() if status >= 500)
        figures = {"examples_per_operation": EXAMPLES, "requests": sum(CALLS.values()),
                   "server_errors": errors, "operations": len(by_operation),
                   "by_operation": by_operation}  # fmt: skip
        Path(SUMMARY).write_text(json.dumps(figures, indent=1) + "\n")


@pytest.fixture(scope="module")
def trader(live: LiveServer) -> Trader:
    return Trader(live.url, "fuzz_trader")


@pytest.fixture(scope="module")
def api_schema(live: LiveServer) -> Any:
    return schemathesis.openapi.from_url(f"{live.url}/api/v1/openapi.json")


def call_checked(case: Any, trader: Trader, auth: requests.auth.AuthBase, skip: list[Any]) -> Any:
    """Send ``case`` as ``trader``; its answer must be one the document allows (every check of
    schemathesis but ``skip``), and a refusal must leave everything as it was. ``ignored_auth``
    is always skipped: it resends with the auth stripped, which a session's own auth puts back
    (test_every_private_operation_refuses_no_auth does that check)."""
    before = trader.state()
    session = requests.Session()
    session.auth = auth
    response = case.call(session=session)
    CALLS[case.method, case.path, response.status_code] += 1
    case.validate_response(response, excluded_checks=skip)
    if response.status_code >= 400:
        assert trader.state() == before, (
            f"{case.method} {case.path} answered {response.status_code} but moved state"
        )
    if case.path == "/api/v1/auth/logout" and response.status_code == 200:
        trader.cookie = _relogin(trader)
    return response


def _relogin(trader: Trader) -> CookieAuth:
    answer = trader.http.post(
        f"{trader.base}/api/v1/auth/login", json={"username": trader.name, "password": PASSWORD}
    )
    answer.raise_for_status()
    auth = CookieAuth(trader.http.cookies["session"], answer.json()["csrfToken"])
    trader.http.cookies.clear()
    return auth


#: Operations that refuse some well-formed requests for reasons no schema can state, so the
#: check that a request valid by the document is accepted does not apply to them: a market's
#: filters, the funds and the open orders (orders, withdrawals), a window whose start is after
#: its end (trades, klines, history, fills), a cap per user (keys, onramp), a body's ``symbol``
#: and ``market`` (the seed's alias) that disagree (cancelAll). Their refusals are still held to
#: the codes the document lists and to changing nothing.
#: The admin operations refuse the trader (not an operator) whatever it sends: 403, nothing changed.
BEYOND_THE_SCHEMA = frozenset({
    "placeOrder", "cancelOrder", "amendOrder", "getOrder", "trades", "klines", "orderHistory", "fills",
    "createApiKey", "onramp", "cancelAll", "requestWithdrawal",
    *(o.operation_id for o in OPERATIONS if o.auth is Auth.OPERATOR),
})  # fmt: skip
#: (operation, how to generate): valid requests for every operation, invalid ones for every
#: operation that takes input (there is nothing to break in the others).
CASES = [(o, mode) for o in OPERATIONS for mode in (VALID, INVALID)
         if mode is VALID or o.body is not None or o.query is not None or "{" in o.path]  # fmt: skip


@pytest.mark.parametrize("how", ["key", "cookie"])
@pytest.mark.parametrize(("op", "mode"), CASES, ids=[f"{o.operation_id}-{m.value}" for o, m in CASES])
def test_every_operation(
    op: Operation, mode: GenerationMode, how: str, api_schema: Any, trader: Trader
) -> None:
    """Generated requests, valid and not, for one operation, signed with the trader's key or
    sent with its cookie session."""
    operation = api_schema[V1 + op.path][op.method]
    skip = [ignored_auth] + ([positive_data_acceptance] if op.operation_id in BEYOND_THE_SCHEMA else [])

    @FUZZ
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        response = call_checked(case, trader, trader.key if how == "key" else trader.cookie, skip)
        if op.auth is Auth.OPERATOR:
            assert response.status_code == 403, (op.operation_id, response.status_code, response.text)

    run()


#: The operations the walk takes: the keys' and the orders' (the links between them), not the
#: rest, which every_operation covers and which would leave a walk few steps for the links. Each
#: walk signs its own trader up first; signup and login are not steps, as a generated username
#: taken by an earlier walk would answer a replayed one differently.
CHAIN = ["me", "createApiKey", "revokeApiKey", "listApiKeys", "placeOrder", "getOrder", "amendOrder",
         "cancelOrder", "openOrders"]  # fmt: skip


def test_the_documents_links_as_a_state_machine(tmp_path: Path) -> None:
    """A trader signed up, then createApiKey -> revokeApiKey; placeOrder -> getOrder / amendOrder /
    cancelOrder, with generated data between, every step checked as above.

    Hypothesis replays prefixes of earlier walks and refuses a server that answers them
    differently (a bundle filled once and empty the next time), so every walk starts from the
    same state: a server of its own, a new trader per walk, its orders cancelled after it."""
    server = LiveServer(tmp_path / "data", "--no-bot", "--bench-limits").start()
    try:
        api = schemathesis.openapi.from_url(f"{server.url}/api/v1/openapi.json").include(operation_id=CHAIN)
        walked = _walk(api, server.url)
    finally:
        server.stop()
    placed = [i for i, step in enumerate(walked) if step == ("POST", "/api/v1/order", 200)]
    assert placed, "no order was placed: the walk never reached the order links"
    followed = {(m, s) for m, p, s in walked[placed[0] + 1 :] if p == "/api/v1/order" and m != "POST"}
    assert {("GET", 200), ("DELETE", 200)} & followed, str(walked)  # a link from a placed order was followed
    assert ("POST", "/api/v1/apikeys", 201) in walked


def _walk(api: Any, url: str) -> list[tuple[str, str, int]]:
    walked: list[tuple[str, str, int]] = []
    walks = iter(range(1_000_000))

    class Walk(api.as_state_machine()):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.trader = Trader(url, f"walker{next(walks)}")

        def call(self, case: Any, **kwargs: Any) -> Any:
            skip = [ignored_auth, positive_data_acceptance]
            response = call_checked(case, self.trader, self.trader.key, skip)
            walked.append((case.method, case.path, response.status_code))
            return response

        def validate_response(self, response: Any, case: Any, **kwargs: Any) -> None:
            pass  # call_checked did, with the state comparison

        def teardown(self) -> None:
            self.trader.get_ok("DELETE", "/api/v1/orders")  # the next walk meets an empty book

    assert issubclass(Walk, OpenAPIStateMachine)
    Walk.run(settings=settings(FUZZ, max_examples=max(EXAMPLES // 2, 5), stateful_step_count=STEPS))
    return walked


@pytest.mark.parametrize(
    "op",
    [o for o in OPERATIONS if o.auth in (Auth.KEY_OR_SESSION, Auth.OPERATOR)],
    ids=lambda o: o.operation_id,
)
def test_every_private_operation_refuses_no_auth(op: Operation, api_schema: Any, trader: Trader) -> None:
    """Without a key or a session: 401 UNAUTHORIZED and nothing changed, whatever the request."""

    @settings(FUZZ, max_examples=5)
    @given(case=api_schema[V1 + op.path][op.method].as_strategy())
    def run(case: Any) -> None:
        before = trader.state()
        bare = requests.Session()
        bare.auth = NoAuth()
        response = case.call(session=bare)
        assert response.status_code == 401, (op.operation_id, response.status_code, response.text)
        assert response.json()["code"] == "UNAUTHORIZED"
        assert trader.state() == before

    run()
