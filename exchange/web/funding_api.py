"""Private REST for funding: the caller's deposits and withdrawals, and a withdrawal request."""

from __future__ import annotations

from aiohttp import web

from exchange.web import funding
from exchange.web.auth import authenticate
from exchange.web.common import json_response


async def list_deposits(request: web.Request) -> web.Response:
    who = await authenticate(request)
    return json_response(await funding.deposits(request.app, who.user_id))


async def list_withdrawals(request: web.Request) -> web.Response:
    who = await authenticate(request)
    return json_response(await funding.withdrawals(request.app, who.user_id))


async def request_withdrawal(request: web.Request) -> web.Response:
    who = await authenticate(request)
    answer = await funding.request_withdrawal(request.app, who.user_id, await request.read())
    return json_response(answer, status=201)
