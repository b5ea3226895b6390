"""Funding at the edge: a user's withdrawal request and their deposits and withdrawals, and the
functions the operators' routes call (a deposit, completing or rejecting a withdrawal, the
pending queue). Each takes the app and who acts, returns the JSON answer or raises ``ApiError``;
the rules are the engine's (domain/rules.py), the shapes web/schemas.py's.

Who may act as an operator is the route's business, not these functions': they trust
``operator_id`` as the engine trusts any command's ``user_id``.
"""

from __future__ import annotations

from typing import Any, NamedTuple, cast

import msgspec
from aiohttp import web

from exchange.domain.commands import CompleteWithdrawal, Deposit, RejectWithdrawal, RequestWithdrawal
from exchange.domain.events import DepositCredited, Event, WithdrawalChanged, WithdrawalState
from exchange.domain.markets import Asset
from exchange.domain.reasons import Reason
from exchange.web import schemas
from exchange.web.common import execute
from exchange.web.errors import ApiError
from exchange.web.keys import ACCOUNTS, READS, VENUE
from exchange.web.wire import deposit_json, withdrawal_json

Json = dict[str, Any]


class Applied(NamedTuple):
    """An operator's command done: its answer, and the engine sequence it got (for the audit)."""

    answer: Json
    seq: int


def asset_amount(app: web.Application, name: str, raw: msgspec.Raw | schemas.Absent) -> tuple[Asset, int]:
    """The asset a body names and its ``amount`` on that asset's grid (atomic units)."""
    asset = app[VENUE].assets.get(name)
    if asset is None:
        raise ApiError.of(Reason.UNKNOWN_ASSET, f"unknown asset {name!r}")
    amount = schemas.on_grid(raw, asset.grid("amount"), "amount")
    if amount is None:
        raise ApiError.of(Reason.INVALID_QUANTITY, "amount is required")
    return asset, amount


# -- the user's ------------------------------------------------------------------------------
async def request_withdrawal(app: web.Application, user_id: int, body: bytes) -> Json:
    """Hold ``amount`` for sending to ``destination``; the withdrawal, PENDING."""
    req = schemas.decode(schemas.WithdrawalBody, body)
    asset, amount = asset_amount(app, req.asset, req.amount)
    cmd = RequestWithdrawal(user_id=user_id, asset=asset.name, amount=amount, destination=req.destination)
    return withdrawal_json(_withdrawal(await execute(app, cmd)), asset)


async def deposits(app: web.Application, user_id: int) -> list[Json]:
    assets = app[VENUE].assets
    return [deposit_json(d, assets[d.asset]) for d in await app[READS].deposits(user_id)]


async def withdrawals(app: web.Application, user_id: int) -> list[Json]:
    assets = app[VENUE].assets
    return [withdrawal_json(w, assets[w.asset]) for w in await app[READS].withdrawals(user_id)]


# -- the operators' --------------------------------------------------------------------------
async def deposit(app: web.Application, operator_id: int, body: bytes) -> Applied:
    """Credit ``username`` with ``amount`` of ``asset`` that arrived as ``reference``. The same
    reference again with the same details credits nothing and answers ``duplicate: true``."""
    req = schemas.decode(schemas.DepositBody, body)
    account = app[ACCOUNTS].user_id(req.username)
    if account is None:
        raise ApiError("UNKNOWN_USER", f"no user named {req.username!r}")
    asset, amount = asset_amount(app, req.asset, req.amount)
    ref = req.reference
    cmd = Deposit(user_id=operator_id, account=account, asset=asset.name, amount=amount, reference=ref)
    credited = cast(DepositCredited, (await execute(app, cmd))[0])
    who = {"userId": str(account), "username": app[ACCOUNTS].username(account)}  # as it was signed up
    answer = deposit_json(credited.deposit, asset) | who
    return Applied(answer | {"duplicate": credited.duplicate}, credited.seq)


async def complete_withdrawal(app: web.Application, operator_id: int, withdrawal_id: int) -> Applied:
    """The money was sent: the hold leaves the venue."""
    cmd = CompleteWithdrawal(user_id=operator_id, withdrawal_id=withdrawal_id)
    return _operator_applied(app, await execute(app, cmd))


async def reject_withdrawal(
    app: web.Application, operator_id: int, withdrawal_id: int, reason: str
) -> Applied:
    """Refuse it, saying why: the hold returns to the user's available balance."""
    cmd = RejectWithdrawal(user_id=operator_id, withdrawal_id=withdrawal_id, reason=reason)
    return _operator_applied(app, await execute(app, cmd))


async def pending_withdrawals(app: web.Application) -> list[Json]:
    """Every withdrawal waiting for an operator, oldest first, with whose it is."""
    return [_operator_json(app, w) for w in await app[READS].pending_withdrawals()]


def _withdrawal(events: list[Event]) -> WithdrawalState:
    """The withdrawal an accepted withdrawal command is about: its first event's."""
    return cast(WithdrawalChanged, events[0]).withdrawal


def _operator_applied(app: web.Application, events: list[Event]) -> Applied:
    return Applied(_operator_json(app, _withdrawal(events)), events[0].seq)


def _operator_json(app: web.Application, w: WithdrawalState) -> Json:
    body = withdrawal_json(w, app[VENUE].assets[w.asset])
    return {**body, "userId": str(w.user_id), "username": app[ACCOUNTS].username(w.user_id)}
