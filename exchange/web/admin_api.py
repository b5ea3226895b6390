"""The admin routes under /api/v1/admin/: operators only (web/auth.py:authenticate_operator),
each action recorded in the audit log (``audit``) once it succeeded."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from exchange.domain.ledger import FEE_ACCOUNT
from exchange.store.accounts import Account
from exchange.web import funding, queries
from exchange.web.auth import Operator, authenticate_operator
from exchange.web.common import json_response
from exchange.web.errors import ApiError
from exchange.web.keys import ACCOUNTS, READS, VENUE
from exchange.web.wire import balances_json, fill_json, order_json


async def audit(app: web.Application, operator: Operator, action: str, details: dict[str, Any],
                seq: int | None) -> None:  # fmt: skip
    """Record what ``operator`` did; ``seq``: the engine sequence of the command the action
    submitted, None for a read. Called after the action succeeded, so a refusal leaves no entry."""
    await app[ACCOUNTS].audit(operator.username, action, details, seq)


def _account_json(account: Account) -> dict[str, Any]:
    return {"id": str(account.id), "username": account.username, "createdAt": account.created_at}


async def audit_log(request: web.Request) -> web.Response:
    who = await authenticate_operator(request)
    q = queries.read(request, queries.AuditQuery)
    entries = await request.app[ACCOUNTS].audit_page(q.limit, q.before)
    await audit(request.app, who, "audit.read", {"limit": q.limit, "before": q.before}, None)
    return json_response([
        {"id": str(e.id), "at": e.at_ms, "operator": e.operator, "action": e.action, "details": e.details,
         "seq": e.seq}
        for e in entries
    ])  # fmt: skip


async def user(request: web.Request) -> web.Response:
    """One user: its account, balances, open orders, recent fills, deposits and withdrawals (the
    reads the user's own routes make, wherever the engine is)."""
    who = await authenticate_operator(request)
    q = queries.read(request, queries.UserLookupQuery)
    account = await request.app[ACCOUNTS].find(request.match_info["username"])
    if account is None:
        raise ApiError("UNKNOWN_USER", f"no user named {request.match_info['username']!r}")
    reads, venue = request.app[READS], request.app[VENUE]
    balances = await reads.balances(account.id)
    open_orders = await reads.open_orders(account.id, None)
    fills = await reads.fills(account.id, None, q.limit, None, None)
    await audit(request.app, who, "user.lookup", {"username": account.username}, None)
    return json_response({
        **_account_json(account), "role": account.role,
        "balances": balances_json(balances, venue.assets),
        "openOrders": [order_json(s, venue.markets[s.symbol]) for s in reversed(open_orders)],
        "fills": [fill_json(f, venue.markets[f.order.symbol], venue.assets) for f in fills],
        "deposits": await funding.deposits(request.app, account.id),
        "withdrawals": await funding.withdrawals(request.app, account.id),
    })  # fmt: skip


async def fees(request: web.Request) -> web.Response:
    """The fee account's balances per asset (domain/ledger.py: every trading fee goes there)."""
    who = await authenticate_operator(request)
    found = await request.app[READS].balances(FEE_ACCOUNT)
    await audit(request.app, who, "fees.read", {}, None)
    return json_response(balances_json(found, request.app[VENUE].assets))


async def operators(request: web.Request) -> web.Response:
    who = await authenticate_operator(request)
    found = await request.app[ACCOUNTS].operators()
    await audit(request.app, who, "operators.list", {}, None)
    return json_response([_account_json(a) for a in found])
