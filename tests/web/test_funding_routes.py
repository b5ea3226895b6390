"""Funding through a real app: a user's withdrawal requests and lists over REST, the functions the
operators' routes will call (web/funding.py) on the same app, and the ``balances`` stream
following every funding event. A refused request changes nothing (``/statez``'s hash)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
import pytest_asyncio
from aiohttp.test_utils import TestServer

from exchange.client import Client, ExchangeError
from exchange.web import funding
from exchange.web.errors import ApiError
from exchange.wsclient import WsClient
from tests.web.conftest import PASSWORD, serve

pytestmark = pytest.mark.asyncio(loop_scope="module")
OPERATOR = 1_000_000  # the operators' routes pass who acts; the engine trusts it as any user id


class Venue:
    def __init__(self, server: TestServer, base_url: str) -> None:
        self.server, self.base_url, self.app = server, base_url, server.app
        self.users = 0

    async def user(self) -> tuple[Client, str]:
        """A fresh user with an API key and no money: (client, username)."""
        self.users += 1
        name = f"user{self.users}"
        client = Client(self.base_url)
        await client.signup(name, PASSWORD)
        created = await client.create_api_key()
        client.use_key(created["apiKey"], created["secret"])
        return client, name

    async def deposit(self, username: str, amount: str, reference: str, asset: str = "USDC") -> Any:
        body = {"username": username, "asset": asset, "amount": amount, "reference": reference}
        return (await funding.deposit(self.app, OPERATOR, orjson.dumps(body))).answer

    async def state_hash(self, client: Client) -> str:
        return (await client.request("GET", "/statez"))["stateHash"]  # type: ignore[no-any-return]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def venue(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Venue]:
    server, base_url = await serve(tmp_path_factory.mktemp("funding"))
    try:
        yield Venue(server, base_url)
    finally:
        await server.close()


async def _refused(code: str, call: Any) -> None:
    with pytest.raises(ApiError) as caught:
        await call
    assert caught.value.code == code, caught.value.message


async def test_a_deposit_credits_once_per_reference(venue: Venue) -> None:
    alice, name = await venue.user()
    first = await venue.deposit(name, "250.5", "0xdead-1")
    assert first["duplicate"] is False and first["amount"] == "250.500000" and first["source"] == "operator"
    again = await venue.deposit(name, "250.50", "0xdead-1")  # the same amount, written otherwise
    assert again == first | {"duplicate": True}
    assert (await alice.balances())["USDC"] == {"available": "250.500000", "locked": "0.000000",
                                                "withdrawing": "0.000000"}  # fmt: skip
    before = await venue.state_hash(alice)
    await _refused("DUPLICATE_REFERENCE", venue.deposit(name, "250.4", "0xdead-1"))
    await _refused("UNKNOWN_USER", venue.deposit("nobody", "1", "0xdead-2"))
    await _refused("INVALID_QUANTITY", venue.deposit(name, "1.0000001", "0xdead-2"))  # off the grid
    await _refused("INVALID_QUANTITY", venue.deposit(name, "0", "0xdead-2"))
    await _refused("INVALID_QUANTITY", venue.deposit(name, "-1", "0xdead-2"))
    await _refused("UNKNOWN_ASSET", venue.deposit(name, "1", "0xdead-2", asset="DOGE"))
    await _refused("INVALID_REQUEST", venue.deposit(name, "1", "faucet:1"))
    await _refused("INVALID_REQUEST", venue.deposit(name, "1", ""))
    assert await venue.state_hash(alice) == before
    await alice.onramp("SOL", "2")
    listed = await alice.deposits()
    assert [(d["source"], d["asset"], d["reference"]) for d in listed] == [
        ("faucet", "SOL", f"faucet:{listed[0]['depositId']}"), ("operator", "USDC", "0xdead-1"),
    ]  # fmt: skip
    await alice.close()


async def test_a_withdrawal_is_held_then_completed_and_the_stream_follows(venue: Venue) -> None:
    alice, name = await venue.user()
    async with WsClient(venue.base_url) as ws:
        await ws.auth(alice.api_key or "", alice.secret or "")
        await ws.subscribe("balances")
        await venue.deposit(name, "100", f"in-{name}")
        assert (await ws.next("balances"))["available"] == "100.000000"
        w = await alice.request_withdrawal("USDC", "40", "bc1q-alice")
        assert (w["status"], w["amount"], w["destination"]) == ("PENDING", "40.000000", "bc1q-alice")
        assert w["reason"] is None
        held = await ws.next("balances")
        assert (held["available"], held["locked"], held["withdrawing"]) == (
            "60.000000",
            "0.000000",
            "40.000000",
        )
        assert (await alice.balances())["USDC"]["withdrawing"] == "40.000000"
        pending = [p for p in await funding.pending_withdrawals(venue.app) if p["username"] == name]
        assert pending == [w | {"userId": pending[0]["userId"], "username": name}]
        done = (await funding.complete_withdrawal(venue.app, OPERATOR, int(w["withdrawalId"]))).answer
        assert done["status"] == "COMPLETED" and done["withdrawalId"] == w["withdrawalId"]
        sent = await ws.next("balances")
        assert (sent["available"], sent["withdrawing"]) == ("60.000000", "0.000000")
        before = await venue.state_hash(alice)
        await _refused(
            "WITHDRAWAL_NOT_PENDING", funding.complete_withdrawal(venue.app, OPERATOR, int(w["withdrawalId"]))
        )
        await _refused(
            "WITHDRAWAL_NOT_PENDING",
            funding.reject_withdrawal(venue.app, OPERATOR, int(w["withdrawalId"]), "no"),
        )
        await _refused("WITHDRAWAL_NOT_FOUND", funding.complete_withdrawal(venue.app, OPERATOR, 10**9))
        assert await venue.state_hash(alice) == before
        assert ws.drain("balances") == []
    assert [x["status"] for x in await alice.withdrawals()] == ["COMPLETED"]
    await alice.close()


async def test_a_rejected_withdrawal_gives_the_funds_back(venue: Venue) -> None:
    alice, name = await venue.user()
    await venue.deposit(name, "10", f"in-{name}")
    w = await alice.request_withdrawal("USDC", "10", "somewhere")
    await _refused(
        "INVALID_REQUEST", funding.reject_withdrawal(venue.app, OPERATOR, int(w["withdrawalId"]), "")
    )
    wid = int(w["withdrawalId"])
    rejected = (await funding.reject_withdrawal(venue.app, OPERATOR, wid, "address blocked")).answer
    assert (rejected["status"], rejected["reason"], rejected["username"]) == (
        "REJECTED",
        "address blocked",
        name,
    )
    assert (await alice.balances())["USDC"] == {"available": "10.000000", "locked": "0.000000",
                                                "withdrawing": "0.000000"}  # fmt: skip
    assert await alice.withdrawals() == [
        {k: v for k, v in rejected.items() if k not in ("userId", "username")}
    ]
    await alice.close()


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"asset": "USDC", "amount": "5.01", "destination": "x"}, 400, "INSUFFICIENT_FUNDS"),
        ({"asset": "USDC", "amount": "1.0000001", "destination": "x"}, 400, "INVALID_QUANTITY"),
        ({"asset": "USDC", "amount": "0", "destination": "x"}, 400, "INVALID_QUANTITY"),
        ({"asset": "USDC", "amount": "-1", "destination": "x"}, 400, "INVALID_QUANTITY"),
        ({"asset": "USDC", "amount": "1e2", "destination": "x"}, 400, "INVALID_QUANTITY"),
        ({"asset": "DOGE", "amount": "1", "destination": "x"}, 404, "UNKNOWN_ASSET"),
        ({"asset": "USDC", "amount": "1", "destination": ""}, 400, "INVALID_REQUEST"),
        ({"asset": "USDC", "amount": "1", "destination": "d" * 129}, 400, "INVALID_REQUEST"),
        ({"asset": "USDC", "amount": "1", "destination": "tab\there"}, 400, "INVALID_REQUEST"),
        ({"asset": "USDC", "amount": "1"}, 400, "INVALID_REQUEST"),
        ({"asset": "USDC", "amount": "1", "destination": "x", "userId": 1}, 400, "INVALID_REQUEST"),
    ],
)
async def test_a_bad_withdrawal_request_is_refused_and_changes_nothing(
    venue: Venue, body: dict[str, Any], status: int, code: str
) -> None:
    alice, name = await venue.user()
    await venue.deposit(name, "5", f"in-{name}")
    before = await venue.state_hash(alice)
    with pytest.raises(ExchangeError) as caught:
        await alice.request("POST", "/api/v1/withdrawals", body=body, auth=True)
    assert (caught.value.status, caught.value.code) == (status, code)
    assert await venue.state_hash(alice) == before
    assert await alice.withdrawals() == []
    await alice.close()
