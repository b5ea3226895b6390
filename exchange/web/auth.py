"""Who is calling: an HMAC-signed request (API key) or a browser session cookie (+ CSRF).

The user is always the authenticated one; nothing in a body or query names a user. A signed
request proves itself per request; a cookie-riding request that changes state must also carry
the session's CSRF token in ``X-CSRF-Token`` (pages carry it in a meta tag). The admin
routes (``/api/v1/admin/``) authenticate the same way, then ask ``authenticate_operator``
whether the account holds the operator role now (read from the database, not cached: a role
changed by the CLI holds at once).
"""

from __future__ import annotations

import hmac
from typing import NamedTuple

from aiohttp import web

from exchange import signing
from exchange.clock import monotonic, now_ms
from exchange.store.accounts import OPERATOR, Session
from exchange.web.errors import ApiError, rate_limited
from exchange.web.keys import ACCOUNTS, SETTINGS, USER_LIMITER

SESSION_COOKIE = "session"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class Principal(NamedTuple):
    user_id: int
    session: Session | None
    api_key: str | None


class Operator(NamedTuple):
    user_id: int
    username: str


def unauthorized(message: str) -> ApiError:
    return ApiError("UNAUTHORIZED", message)


async def authenticate(request: web.Request) -> Principal:
    """The caller, or 401/403; then the per-user rate limit (429 with Retry-After)."""
    principal = await _signed(request) if "X-API-KEY" in request.headers else _cookie(request)
    wait = request.app[USER_LIMITER].check(principal.user_id, monotonic())
    if wait:
        raise rate_limited(wait)
    return principal


async def authenticate_operator(request: web.Request) -> Operator:
    """The calling operator: 401 as ``authenticate`` without valid credentials, then 403
    ``FORBIDDEN`` if the account is not an operator."""
    principal = await authenticate(request)
    account = await request.app[ACCOUNTS].account(principal.user_id)
    if account is None or account.role != OPERATOR:
        raise ApiError("FORBIDDEN", "operators only")
    return Operator(account.id, account.username)


async def _signed(request: web.Request) -> Principal:
    headers = request.headers
    key = headers["X-API-KEY"]
    found = request.app[ACCOUNTS].api_key(key)
    if found is None:
        raise unauthorized("unknown or revoked API key")
    user_id, secret = found
    body = await request.read()
    problem = signing.verify(
        secret, headers.get("X-TIMESTAMP", ""), request.method, request.raw_path, body,
        headers.get("X-SIGNATURE", ""), now_ms(), request.app[SETTINGS].limits.signing_window_ms,
    )  # fmt: skip
    if problem is not None:
        raise unauthorized(problem)
    return Principal(user_id, None, key)


def _cookie(request: web.Request) -> Principal:
    token = request.cookies.get(SESSION_COOKIE)
    session = request.app[ACCOUNTS].session(token, now_ms()) if token else None
    if session is None:
        raise unauthorized("sign in, or sign the request with an API key")
    if request.method not in SAFE_METHODS:
        sent = request.headers.get("X-CSRF-Token", "")
        # surrogateescape: a header that was not UTF-8 must compare unequal, not raise.
        if not hmac.compare_digest(sent.encode("utf-8", "surrogateescape"), session.csrf_token.encode()):
            raise ApiError("FORBIDDEN", "missing or wrong X-CSRF-Token for a cookie session")
    return Principal(session.user_id, session, None)


def session_from_cookie(request: web.Request) -> Session | None:
    """The browser's session if any, without failing (pages, WebSocket)."""
    token = request.cookies.get(SESSION_COOKIE)
    return request.app[ACCOUNTS].session(token, now_ms()) if token else None
