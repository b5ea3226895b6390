"""The browser UI: server-rendered pages (aiohttp-jinja2), static files and the chart library.

Pages are rendered from the same projections the REST API reads (market data, the engine's
balances and open orders), so the first paint has every number before the page's scripts open
the socket, and a browser without JavaScript still sees them. The signed-in state comes from
the session cookie; its CSRF token goes into ``<meta name="csrf-token">`` for the scripts.
Paths are found from the repository root (the package is installed editable).
"""

from __future__ import annotations

import mimetypes
import os
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp_jinja2
import jinja2
from aiohttp import web

import exchange
from exchange.clock import now_ms
from exchange.store.accounts import Session
from exchange.web import page_data
from exchange.web.auth import session_from_cookie
from exchange.web.keys import ACCOUNTS, CHART_PATH, MARKETDATA, READS, VENUE
from exchange.web.wire import market_json

ROOT = Path(exchange.__file__).resolve().parent.parent
TEMPLATES = ROOT / "templates"
STATIC = ROOT / "static"
CHARTS = ROOT / "node_modules" / "lightweight-charts" / "dist"
CHART_FILE = "lightweight-charts.standalone.{}.mjs"


def setup_templates(app: web.Application) -> None:
    """Jinja2 for the pages (called by ``create_app``); autoescaping on for every template."""
    aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=jinja2.select_autoescape(default=True),
        undefined=jinja2.StrictUndefined,
        filters={"hms": _hms, "datetime": _datetime},
    )


def _hms(ms: int) -> str:
    """A time of day (UTC) for a first paint; the scripts rewrite it in the browser's zone."""
    return time.strftime("%H:%M:%S", time.gmtime(ms / 1000))


def _datetime(ms: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ms / 1000))


def chart_module() -> Path:
    """The lightweight-charts build to serve: the asserting development build if EXCHANGE_UI_DEV=1."""
    flavour = "development" if os.environ.get("EXCHANGE_UI_DEV") == "1" else "production"
    path = CHARTS / CHART_FILE.format(flavour)
    if not path.is_file():
        raise RuntimeError(f"{path} is missing: node_modules/lightweight-charts is not installed; run npm ci")
    return path


def setup_pages(app: web.Application) -> None:
    """The page routes, ``/static``, the chart module and the favicon."""
    mimetypes.add_type("text/javascript", ".mjs")
    mimetypes.add_type("text/javascript", ".js")
    app[CHART_PATH] = chart_module()
    r = app.router
    r.add_get("/", markets_page)
    r.add_get("/trade", trade_redirect)
    r.add_get("/trade/{symbol}", trade_page)
    r.add_get("/login", login_page)
    r.add_get("/signup", signup_page)
    r.add_get("/account", account_page)
    r.add_get("/favicon.ico", favicon)
    r.add_get("/static/vendor/lightweight-charts.mjs", chart_vendor)
    r.add_static("/static", STATIC)


def page_context(request: web.Request, page: str, session: Session | None, **extra: Any) -> dict[str, Any]:
    """What every template gets; ``session``: the caller's, already read by the handler."""
    return {
        "page": page,
        "path": request.path,
        "username": session.username if session else None,
        "csrf_token": session.csrf_token if session else None,
        "markets": list(request.app[VENUE].markets),
        **extra,
    }


def _safe_next(raw: str | None) -> str:
    """Only a local path: an open redirect to another site is refused."""
    if raw and raw.startswith("/") and not raw.startswith("//") and "\\" not in raw:
        return raw
    return "/"


async def markets_page(request: web.Request) -> web.Response:
    markets = request.app[VENUE].markets
    rows = [{"market": market_json(markets[s]), **t} for s, t in _tickers(request).items()]
    return aiohttp_jinja2.render_template(
        "markets.html", request, page_context(request, "markets", session_from_cookie(request), rows=rows)
    )


async def trade_redirect(request: web.Request) -> web.Response:
    first = next(iter(request.app[VENUE].markets))
    raise web.HTTPFound(f"/trade/{first}")


async def trade_page(request: web.Request) -> web.Response:
    app, symbol = request.app, request.match_info["symbol"]
    venue, md = app[VENUE], app[MARKETDATA]
    m = venue.markets.get(symbol)
    if m is None:
        if symbol.upper() in venue.markets:  # /trade/sol_usdc: the market, spelled as it is listed
            raise web.HTTPFound(f"/trade/{symbol.upper()}")
        return _not_found(request, f"There is no market {symbol}.")
    session = session_from_cookie(request)
    market = market_json(m)
    tickers = _tickers(request)
    ticker = tickers[symbol]
    book, trades = page_data.book_view(md, m), page_data.trades_view(md, m)
    balances, orders = await _user_views(request, session, symbol)
    spend = {b["asset"]: b["available"] for b in balances}
    # Only what static/js/trade.js reads; the rest of the page is already in the HTML.
    data = {"market": market, "book": book, "balances": balances, "openOrders": orders,
            "signedIn": session is not None, "bookRows": page_data.BOOK_LEVELS,
            "tradeRows": page_data.TRADE_ROWS}  # fmt: skip
    ctx = page_context(
        request, "trade", session, symbol=symbol, market=market, ticker=ticker, book=book, trades=trades,
        balances=balances, open_orders=orders, available=spend, page_json=page_data.script_json(data),
        fee_text=_fee_text(market), tickers=list(tickers.values()),
    )  # fmt: skip
    return aiohttp_jinja2.render_template("trade.html", request, ctx)


async def _user_views(
    request: web.Request, session: Session | None, symbol: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Through READS (service/reads.py): the engine here, or its process behind the bus."""
    if session is None:
        return [], []
    reads, venue = request.app[READS], request.app[VENUE]
    return (
        await page_data.balances_view(reads, venue, session.user_id),
        await page_data.open_orders_view(reads, venue, session.user_id, symbol),
    )


def _tickers(request: web.Request) -> dict[str, dict[str, Any]]:
    """Every market's ticker, by symbol (each one scans the market's minute buckets: once)."""
    md, now = request.app[MARKETDATA], now_ms()
    return {s: page_data.ticker_view(md, m, now) for s, m in request.app[VENUE].markets.items()}


def _fee_text(market: dict[str, Any]) -> str:
    return f"Maker {page_data.percent(market['makerFee'])} · Taker {page_data.percent(market['takerFee'])}"


async def login_page(request: web.Request) -> web.Response:
    return _auth_page(request, "login")


async def signup_page(request: web.Request) -> web.Response:
    return _auth_page(request, "signup")


def _auth_page(request: web.Request, page: str) -> web.Response:
    target = _safe_next(request.query.get("next"))
    if session_from_cookie(request) is not None:
        raise web.HTTPFound(target)
    ctx = page_context(request, page, None, next=target, next_query=quote(target, safe="/"))
    return aiohttp_jinja2.render_template("auth.html", request, ctx)


async def account_page(request: web.Request) -> web.Response:
    session = session_from_cookie(request)
    if session is None:
        raise web.HTTPFound("/login?next=/account")
    app = request.app
    venue = app[VENUE]
    balances = await page_data.balances_view(app[READS], venue, session.user_id)
    keys = await app[ACCOUNTS].list_api_keys(session.user_id)
    key_rows = [{"apiKey": k.api_key, "createdAt": k.created_at} for k in keys]
    data = {"balances": balances}  # what static/js/account.js reads
    ctx = page_context(
        request, "account", session, balances=balances, api_keys=key_rows, assets=list(venue.assets),
        onramp_limits=venue.onramp_caps(), page_json=page_data.script_json(data),
    )  # fmt: skip
    return aiohttp_jinja2.render_template("account.html", request, ctx)


def _not_found(request: web.Request, message: str) -> web.Response:
    ctx = page_context(request, "notfound", session_from_cookie(request), message=message)
    return aiohttp_jinja2.render_template("404.html", request, ctx, status=404)


async def favicon(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "favicon.svg", headers={"Content-Type": "image/svg+xml"})


async def chart_vendor(request: web.Request) -> web.FileResponse:
    return web.FileResponse(request.app[CHART_PATH], headers={"Content-Type": "text/javascript"})
