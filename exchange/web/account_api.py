"""Accounts: signup, login, logout, API keys, balances and the onramp."""

from __future__ import annotations

from aiohttp import web

from exchange.clock import monotonic, now_ms
from exchange.domain.commands import Onramp
from exchange.store.accounts import AccountError, Session, User
from exchange.web import schemas
from exchange.web.auth import SESSION_COOKIE, authenticate, session_from_cookie
from exchange.web.common import execute, json_response
from exchange.web.errors import ApiError, rate_limited
from exchange.web.funding import asset_amount
from exchange.web.keys import ACCOUNTS, AUTH_LIMITER, READS, SETTINGS, VENUE
from exchange.web.wire import balances_json


def _guard(request: web.Request) -> None:
    """Signup and login are rate limited per client address, against password guessing."""
    wait = request.app[AUTH_LIMITER].check(request.remote or "?", monotonic())
    if wait:
        raise rate_limited(wait, "too many attempts; wait a moment")


async def _credentials(request: web.Request) -> schemas.CredentialsBody:
    _guard(request)
    return schemas.decode(schemas.CredentialsBody, await request.read())


async def _start_session(request: web.Request, user: User) -> web.Response:
    token, session = await request.app[ACCOUNTS].create_session(user, now_ms())
    response = json_response({"username": user.username, "csrfToken": session.csrf_token})
    max_age = max(1, (session.expires_at_ms - now_ms()) // 1000)
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="Strict", path="/", max_age=max_age)
    return response


async def signup(request: web.Request) -> web.Response:
    body = await _credentials(request)
    try:
        user = await request.app[ACCOUNTS].signup(body.username, body.password)
    except AccountError as exc:
        raise ApiError(exc.code, exc.message) from None
    return await _start_session(request, user)


async def login(request: web.Request) -> web.Response:
    body = await _credentials(request)
    user = await request.app[ACCOUNTS].login(body.username, body.password)
    if user is None:
        raise ApiError("UNAUTHORIZED", "wrong username or password")
    return await _start_session(request, user)


async def logout(request: web.Request) -> web.Response:
    session = session_from_cookie(request)
    if session is not None:
        await authenticate(request)  # a cookie logout is a state change: CSRF applies
        await request.app[ACCOUNTS].end_session(request.cookies[SESSION_COOKIE])
    response = json_response({"ok": True})
    response.del_cookie(SESSION_COOKIE, path="/")
    return response


async def me(request: web.Request) -> web.Response:
    who = await authenticate(request)
    session: Session | None = who.session
    username = session.username if session else request.app[ACCOUNTS].username(who.user_id)
    return json_response({"username": username, "csrfToken": session.csrf_token if session else None})


async def create_api_key(request: web.Request) -> web.Response:
    who = await authenticate(request)
    try:
        key, secret = await request.app[ACCOUNTS].create_api_key(who.user_id, now_ms())
    except AccountError as exc:
        raise ApiError(exc.code, exc.message) from None
    return json_response({"apiKey": key, "secret": secret}, status=201)


async def list_api_keys(request: web.Request) -> web.Response:
    who = await authenticate(request)
    keys = await request.app[ACCOUNTS].list_api_keys(who.user_id)
    return json_response([{"apiKey": k.api_key, "createdAt": k.created_at} for k in keys])


async def revoke_api_key(request: web.Request) -> web.Response:
    who = await authenticate(request)
    key = request.match_info["api_key"]
    if not await request.app[ACCOUNTS].revoke_api_key(who.user_id, key):
        raise ApiError("NOT_FOUND", "no such API key")
    return json_response({"apiKey": key, "revoked": True})


async def balances(request: web.Request) -> web.Response:
    who = await authenticate(request)
    venue = request.app[VENUE]
    return json_response(balances_json(await request.app[READS].balances(who.user_id), venue.assets))


async def onramp(request: web.Request) -> web.Response:
    who = await authenticate(request)
    body = schemas.decode(schemas.OnrampBody, await request.read())
    settings, venue = request.app[SETTINGS], request.app[VENUE]
    is_admin = request.app[ACCOUNTS].username(who.user_id) in settings.admins
    if not settings.demo and not is_admin:
        raise ApiError("FORBIDDEN", "onramp is for administrators outside demo mode")
    asset, amount = asset_amount(request.app, body.asset, body.amount)
    limit = None if is_admin else venue.onramp_limits.get(asset.name)
    await execute(request.app, Onramp(user_id=who.user_id, asset=asset.name, amount=amount, limit=limit))
    return json_response(balances_json(await request.app[READS].balances(who.user_id), venue.assets))
