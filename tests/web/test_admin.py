"""The admin routes: operators only (403 for anyone else, 401 without credentials), each
action in the audit log, and what the user lookup and the fee account show.

One app per module: a maker and a taker who trade, a cookie-only user, and an operator made
as the CLI makes one (``Accounts.add_operator``) with an API key. The per-route checks are
parametrised over the operation table's admin entries, so a new admin route is covered.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import msgspec
import pytest
import pytest_asyncio
from aiohttp.test_utils import TestServer

from exchange.client import Client, ExchangeError
from exchange.clock import now_ms
from exchange.store.accounts import Accounts
from exchange.web.keys import ACCOUNTS
from exchange.web.spec.declare import Auth
from exchange.web.spec.openapi import V1
from exchange.web.spec.operations import OPERATIONS
from tests.web.conftest import PASSWORD, make_operator, serve, trader

SOL = "SOL_USDC"
pytestmark = pytest.mark.asyncio(loop_scope="module")
ADMIN = [op for op in OPERATIONS if op.auth is Auth.OPERATOR]
#: A value for each path parameter an admin route may have.
PATH_VALUES = {"username": "taker", "withdrawal_id": "1"}


class Scene(msgspec.Struct):
    server: TestServer
    accounts: Accounts
    maker: Client
    taker: Client
    #: a user signed in with a cookie session only
    browser: Client
    operator: Client
    bare: Client


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def scene(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Scene]:
    server, base_url = await serve(tmp_path_factory.mktemp("admin"))
    accounts = server.app[ACCOUNTS]
    maker, taker = await trader(base_url, "maker"), await trader(base_url, "taker")
    await maker.place_order(SOL, "sell", price="100", quantity="5")
    await taker.place_order(SOL, "buy", "market", quantity="2")
    await taker.place_order(SOL, "buy", price="90", quantity="1")  # stays open
    browser = Client(base_url)
    await browser.signup("browser", PASSWORD)
    operator = await make_operator(server, base_url)
    bare = Client(base_url)
    try:
        yield Scene(server, accounts, maker, taker, browser, operator, bare)
    finally:
        for client in (maker, taker, browser, operator, bare):
            await client.close()
        await server.close()


def _path(path: str) -> str:
    return V1 + path.format(**PATH_VALUES)


async def _refusal(client: Client, method: str, path: str, *, auth: bool = True) -> tuple[int, str]:
    with pytest.raises(ExchangeError) as refused:
        await client.request(method, path, auth=auth)
    return refused.value.status, refused.value.code


async def _audit(scene: Scene) -> list[dict[str, Any]]:
    """The log as it stands, read past the routes so that reading adds nothing."""
    return [msgspec.to_builtins(e) for e in await scene.accounts.audit_page(1000, None)]


@pytest.mark.parametrize("op", ADMIN, ids=lambda op: op.operation_id)
async def test_every_admin_route_refuses_users_with_403_and_strangers_with_401(scene: Scene, op: Any) -> None:
    before = await _audit(scene)
    path = _path(op.path)
    assert await _refusal(scene.taker, op.method, path) == (403, "FORBIDDEN")  # signed with a key
    assert await _refusal(scene.browser, op.method, path) == (403, "FORBIDDEN")  # a cookie session
    assert await _refusal(scene.bare, op.method, path, auth=False) == (401, "UNAUTHORIZED")
    assert await _audit(scene) == before  # a refusal records nothing


@pytest.mark.parametrize("op", [op for op in ADMIN if op.method == "GET"], ids=lambda op: op.operation_id)
async def test_every_admin_read_answers_an_operator_and_records_who_when_what(scene: Scene, op: Any) -> None:
    """The writes (funding) have their own tests: test_admin_funding.py."""
    start = now_ms()
    await scene.operator.request(op.method, _path(op.path), auth=True)
    newest = (await _audit(scene))[0]
    assert newest["operator"] == "boss" and start <= newest["at_ms"] <= now_ms()
    assert newest["action"] and isinstance(newest["details"], dict)
    assert newest["seq"] is None  # these routes only read


async def test_the_user_lookup_shows_the_account_balances_open_orders_and_fills(scene: Scene) -> None:
    found = await scene.operator.request("GET", f"{V1}/admin/users/TAKER", params={"limit": 1}, auth=True)
    assert found["username"] == "taker" and found["role"] == "user" and found["createdAt"] > 0
    assert found["balances"] == await scene.taker.balances()
    assert found["openOrders"] == await scene.taker.open_orders()
    assert [f["tradeId"] for f in found["fills"]] == [f["tradeId"] for f in await scene.taker.fills()][:1]
    audit = (await _audit(scene))[0]
    assert (audit["action"], audit["details"]) == ("user.lookup", {"username": "taker"})
    boss = await scene.operator.request("GET", f"{V1}/admin/users/boss", auth=True)
    assert boss["role"] == "operator"


async def test_an_unknown_user_is_404_and_a_bad_limit_400(scene: Scene) -> None:
    assert await _refusal(scene.operator, "GET", f"{V1}/admin/users/nobody") == (404, "UNKNOWN_USER")
    refused = await _refusal(scene.operator, "GET", f"{V1}/admin/users/taker?limit=0")
    assert refused == (400, "INVALID_REQUEST")


async def test_the_fee_account_holds_what_the_trade_charged(scene: Scene) -> None:
    fees = await scene.operator.request("GET", f"{V1}/admin/fees", auth=True)
    by_asset: dict[str, Decimal] = {}
    for fill in await scene.taker.fills() + await scene.maker.fills():
        by_asset[fill["feeAsset"]] = by_asset.get(fill["feeAsset"], Decimal(0)) + Decimal(fill["fee"])
    assert by_asset and all(v > 0 for v in by_asset.values())
    for asset, balance in fees.items():
        assert Decimal(balance["available"]) == by_asset.get(asset, 0) and Decimal(balance["locked"]) == 0


async def test_operators_are_listed(scene: Scene) -> None:
    listed = await scene.operator.request("GET", f"{V1}/admin/operators", auth=True)
    assert [o["username"] for o in listed] == ["boss"]


async def test_the_audit_log_pages_newest_first(scene: Scene) -> None:
    for _ in range(3):
        await scene.operator.request("GET", f"{V1}/admin/operators", auth=True)
    first = await scene.operator.request("GET", f"{V1}/admin/audit", params={"limit": 2}, auth=True)
    ids = [int(e["id"]) for e in first]
    assert len(ids) == 2 and ids[0] > ids[1]
    assert first[0]["operator"] == "boss" and first[0]["action"] == "operators.list"
    older = await scene.operator.request(
        "GET", f"{V1}/admin/audit", params={"limit": 2, "before": ids[1]}, auth=True
    )
    assert all(int(e["id"]) < ids[1] for e in older) and len(older) == 2
    newest = (await _audit(scene))[0]
    assert (newest["action"], newest["details"]) == ("audit.read", {"limit": 2, "before": ids[1]})


async def test_an_operator_may_use_a_session_too(scene: Scene) -> None:
    async with Client(str(scene.server.make_url("")).rstrip("/")) as session:
        await session.login("boss", PASSWORD)
        listed = await session.request("GET", f"{V1}/admin/operators", auth=True)
        assert [o["username"] for o in listed] == ["boss"]


async def test_a_demoted_operator_is_refused_at_once_and_a_promoted_user_admitted(scene: Scene) -> None:
    await scene.accounts.remove_operator("boss")
    try:
        assert await _refusal(scene.operator, "GET", f"{V1}/admin/fees") == (403, "FORBIDDEN")
    finally:
        await scene.accounts.add_operator("boss", PASSWORD, promote=True)
    await scene.operator.request("GET", f"{V1}/admin/fees", auth=True)


async def _statez(scene: Scene) -> Any:
    return (await scene.bare.request("GET", "/statez"))["stateHash"]


async def test_a_deposit_credits_once_per_reference_and_is_audited_with_its_sequence(scene: Scene) -> None:
    before = (await scene.taker.balances())["ETH"]["available"]
    deposit = {"username": "TAKER", "asset": "ETH", "amount": "1.5", "reference": "wire-0001"}
    first = await scene.operator.request("POST", f"{V1}/admin/deposits", body=deposit, auth=True)
    assert (first["username"], first["amount"], first["duplicate"]) == ("taker", "1.50000000", False)
    assert Decimal((await scene.taker.balances())["ETH"]["available"]) == Decimal(before) + Decimal("1.5")
    entry = (await _audit(scene))[0]
    assert (entry["action"], entry["details"]["reference"], entry["details"]["duplicate"]) == (
        "deposit", "wire-0001", False)  # fmt: skip
    assert isinstance(entry["seq"], int) and entry["seq"] > 0
    again = await scene.operator.request("POST", f"{V1}/admin/deposits", body=deposit, auth=True)
    assert again["duplicate"] is True and again["depositId"] == first["depositId"]
    assert Decimal((await scene.taker.balances())["ETH"]["available"]) == Decimal(before) + Decimal("1.5")
    assert [d["reference"] for d in await scene.taker.deposits()].count("wire-0001") == 1
    state = await _statez(scene)
    for body, refusal in (
        (deposit | {"amount": "2"}, (409, "DUPLICATE_REFERENCE")),
        (deposit | {"username": "nobody", "reference": "wire-x"}, (404, "UNKNOWN_USER")),
        (deposit | {"asset": "DOGE", "reference": "wire-x"}, (404, "UNKNOWN_ASSET")),
        (deposit | {"amount": "0.000000001", "reference": "wire-x"}, (400, "INVALID_QUANTITY")),
        (deposit | {"amount": "-1", "reference": "wire-x"}, (400, "INVALID_QUANTITY")),
        (deposit | {"amount": "0", "reference": "wire-x"}, (400, "INVALID_QUANTITY")),
    ):
        with pytest.raises(ExchangeError) as refused:
            await scene.operator.request("POST", f"{V1}/admin/deposits", body=body, auth=True)
        assert (refused.value.status, refused.value.code) == refusal, body
    assert await _statez(scene) == state  # refusals changed nothing


async def test_an_operator_completes_one_withdrawal_and_rejects_another(scene: Scene) -> None:
    start = await scene.taker.balances()
    sent = await scene.taker.request_withdrawal("USDC", "30", "IBAN DE00 1234")
    kept = await scene.taker.request_withdrawal("USDC", "20", "IBAN DE00 1234")
    held = (await scene.taker.balances())["USDC"]
    assert Decimal(held["withdrawing"]) == Decimal(start["USDC"]["withdrawing"]) + 50
    pending = await scene.operator.request("GET", f"{V1}/admin/withdrawals", auth=True)
    mine = [(p["withdrawalId"], p["username"]) for p in pending if p["username"] == "taker"]
    assert mine == [(sent["withdrawalId"], "taker"), (kept["withdrawalId"], "taker")]
    path = f"{V1}/admin/withdrawals"
    done = await scene.operator.request("POST", f"{path}/{sent['withdrawalId']}/complete", auth=True)
    assert done["status"] == "COMPLETED"
    assert (await _audit(scene))[0]["action"] == "withdrawal.complete"
    refused = {"reason": "name does not match the account"}
    back = await scene.operator.request(
        "POST", f"{path}/{kept['withdrawalId']}/reject", body=refused, auth=True
    )
    assert (back["status"], back["reason"]) == ("REJECTED", "name does not match the account")
    after = (await scene.taker.balances())["USDC"]
    assert Decimal(after["available"]) == Decimal(start["USDC"]["available"]) - 30
    assert after["withdrawing"] == start["USDC"]["withdrawing"]
    state = await _statez(scene)
    for route, body, refusal in (
        (f"{path}/{sent['withdrawalId']}/complete", None, (409, "WITHDRAWAL_NOT_PENDING")),
        (f"{path}/{kept['withdrawalId']}/reject", refused, (409, "WITHDRAWAL_NOT_PENDING")),
        (f"{path}/999999/complete", None, (404, "WITHDRAWAL_NOT_FOUND")),
        (f"{path}/abc/complete", None, (404, "WITHDRAWAL_NOT_FOUND")),
        (f"{path}/{kept['withdrawalId']}/reject", {"reason": ""}, (400, "INVALID_REQUEST")),
    ):
        with pytest.raises(ExchangeError) as no:
            await scene.operator.request("POST", route, body=body, auth=True)
        assert (no.value.status, no.value.code) == refusal, route
    assert await _statez(scene) == state
    looked_up = await scene.operator.request("GET", f"{V1}/admin/users/taker", auth=True)
    statuses = {w["withdrawalId"]: w["status"] for w in looked_up["withdrawals"]}
    assert (statuses[sent["withdrawalId"]], statuses[kept["withdrawalId"]]) == ("COMPLETED", "REJECTED")
