"""The operators' funding routes under /api/v1/admin/: credit a deposit, the withdrawals waiting
for an operator, and completing or rejecting one. Each is web/funding.py's function behind the
operator guard, recorded in the audit log with the engine sequence of its command."""

from __future__ import annotations

from aiohttp import web

from exchange.domain.reasons import Reason
from exchange.web import funding, schemas
from exchange.web.admin_api import audit
from exchange.web.auth import authenticate_operator
from exchange.web.common import json_response
from exchange.web.errors import ApiError


async def deposit(request: web.Request) -> web.Response:
    who = await authenticate_operator(request)
    done = await funding.deposit(request.app, who.user_id, await request.read())
    a = done.answer
    details = {k: a[k] for k in ("depositId", "username", "asset", "amount", "reference", "duplicate")}
    await audit(request.app, who, "deposit", details, done.seq)
    return json_response(a)


async def pending(request: web.Request) -> web.Response:
    who = await authenticate_operator(request)
    found = await funding.pending_withdrawals(request.app)
    await audit(request.app, who, "withdrawals.pending", {}, None)
    return json_response(found)


async def complete(request: web.Request) -> web.Response:
    who = await authenticate_operator(request)
    wid = _withdrawal_id(request)
    done = await funding.complete_withdrawal(request.app, who.user_id, wid)
    await audit(request.app, who, "withdrawal.complete", _about(done.answer), done.seq)
    return json_response(done.answer)


async def reject(request: web.Request) -> web.Response:
    who = await authenticate_operator(request)
    wid = _withdrawal_id(request)
    body = schemas.decode(schemas.RejectWithdrawalBody, await request.read())
    done = await funding.reject_withdrawal(request.app, who.user_id, wid, body.reason)
    await audit(
        request.app, who, "withdrawal.reject", _about(done.answer) | {"reason": body.reason}, done.seq
    )
    return json_response(done.answer)


def _withdrawal_id(request: web.Request) -> int:
    """The path's id, or no such withdrawal (as a malformed order id finds no order)."""
    found = schemas.decimal_id(request.match_info["withdrawal_id"])
    if found is None:
        raise ApiError.of(Reason.WITHDRAWAL_NOT_FOUND, "no such withdrawal")
    return found


def _about(answer: dict[str, object]) -> dict[str, object]:
    return {k: answer[k] for k in ("withdrawalId", "username", "asset", "amount")}
