"""The browser pages over real HTTP: server-rendered numbers, redirects, static files, sessions."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from exchange.app import create_app
from exchange.config import Settings
from exchange.web import pages
from tests.waiting import until
from tests.web.conftest import PASSWORD, MakeUser
from tests.web.page_dom import Node, parse

SOL = "SOL_USDC"
DEPLOYMENTS = ("all", "cluster")  # the pages of a gateway read through the bus


@pytest.fixture
async def browser(base_url: str) -> AsyncIterator[aiohttp.ClientSession]:
    """A cookie-keeping HTTP session that does not follow redirects on its own."""
    async with aiohttp.ClientSession(base_url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        yield session


async def _page(session: aiohttp.ClientSession, path: str, status: int = 200) -> Node:
    async with session.get(path, allow_redirects=False) as response:
        assert response.status == status, await response.text()
        assert response.content_type == "text/html"
        return parse(await response.text())


async def _sign_up(session: aiohttp.ClientSession, username: str) -> dict[str, Any]:
    async with session.post("/api/v1/auth/signup", json={"username": username, "password": PASSWORD}) as r:
        assert r.status == 200
        answer: dict[str, Any] = await r.json()
        return answer


def _page_data(doc: Node) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(doc.by_id("page-data").text)
    return data


async def _trade(make_user: MakeUser, browser: aiohttp.ClientSession) -> None:
    """A resting bid at 149.00 and ask at 151.00, and one trade at 150.00 (a buy taker); in a
    cluster the orders go through gateway B, so wait until the pages' gateway A has seen them."""
    maker, taker = await make_user(), await make_user()
    await maker.place_order(SOL, "buy", price="149.00", quantity="2.00")
    await maker.place_order(SOL, "sell", price="151.00", quantity="3.00")
    await maker.place_order(SOL, "sell", price="150.00", quantity="1.50")
    await taker.place_order(SOL, "buy", type="market", quantity="1.50")

    async def traded() -> bool:
        async with browser.get(f"/api/v1/trades?symbol={SOL}") as r:
            return r.status == 200 and bool(await r.json())

    await until(traded, interval=0.01, message="the trade never reached the pages' gateway")


async def test_markets_page_after_a_trade_shows_the_last_price(make_user: MakeUser, browser: Any) -> None:
    await _trade(make_user, browser)
    doc = await _page(browser, "/")
    assert doc.by_id("markets").tag == "table"
    body = doc.find_all(lambda n: n.tag == "body")[0]
    assert body.attrs["data-page"] == "markets"
    rows = {r.attrs["data-symbol"]: r for r in doc.find_all(lambda n: "data-symbol" in n.attrs)}
    assert {"SOL_USDC", "BTC_USDC", "ETH_USDC"} <= rows.keys()
    sol = rows[SOL]
    assert sol.first_class("last").text == "150.00"
    assert (sol.first_class("high").text, sol.first_class("low").text) == ("150.00", "150.00")
    assert sol.first_class("volume").text == "1.50"
    assert any(a.attrs.get("href") == "/trade/SOL_USDC" for a in sol.find_all(lambda n: n.tag == "a"))
    assert rows["ETH_USDC"].first_class("last").text == "—"


async def test_trade_page_preloads_ticker_book_and_trades(make_user: MakeUser, browser: Any) -> None:
    await _trade(make_user, browser)
    doc = await _page(browser, f"/trade/{SOL}")
    body = doc.find_all(lambda n: n.tag == "body")[0]
    assert (body.attrs["data-page"], body.attrs["data-symbol"]) == ("trade", SOL)
    ticker = doc.by_id("ticker")
    fields = {n.attrs["data-field"]: n.text for n in ticker.find_all(lambda n: "data-field" in n.attrs)}
    assert (fields["last"], fields["high"], fields["low"], fields["volume"]) == (
        "150.00",
        "150.00",
        "150.00",
        "1.50",
    )
    asks = [
        (lv.attrs["data-price"], lv.first_class("qty").text)
        for lv in doc.by_id("book-asks").by_class("level")
    ]
    bids = [
        (lv.attrs["data-price"], lv.first_class("qty").text)
        for lv in doc.by_id("book-bids").by_class("level")
    ]
    assert asks == [("151.00", "3.00")] and bids == [("149.00", "2.00")]
    assert "2.00" in doc.by_id("spread").text
    trades = doc.by_id("trades").by_class("trade")
    assert len(trades) == 1
    assert trades[0].first_class("price").text == "150.00" and "buy" in trades[0].classes
    assert trades[0].first_class("qty").text == "1.50"
    data = _page_data(doc)
    assert data["market"]["tickSize"] == "0.01" and data["signedIn"] is False
    assert data["book"]["bids"][0]["price"] == "149.00"


async def test_trade_page_book_totals_are_cumulative_from_the_best(make_user: MakeUser, browser: Any) -> None:
    maker = await make_user()
    for price, qty in (("149.00", "1.25"), ("148.50", "2.00"), ("148.00", "0.75")):
        await maker.place_order(SOL, "buy", price=price, quantity=qty)
    doc = await _page(browser, f"/trade/{SOL}")
    levels = doc.by_id("book-bids").by_class("level")
    assert [lv.first_class("total").text for lv in levels] == ["1.25", "3.25", "4.00"]


async def test_trade_page_signed_out_offers_log_in_instead_of_submit(browser: Any) -> None:
    doc = await _page(browser, f"/trade/{SOL}")
    assert doc.by_id("login-to-trade").attrs["href"] == "/login?next=/trade/SOL_USDC"
    assert not doc.find_all(lambda n: n.attrs.get("id") == "submit-order")
    assert not doc.find_all(lambda n: n.tag == "meta" and n.attrs.get("name") == "csrf-token")
    assert doc.by_id("nav-login") and doc.by_id("nav-signup")
    assert doc.by_id("ws-status").attrs["data-state"] == "connecting"
    assert "0.1%" in doc.by_id("fee").text and "0.2%" in doc.by_id("fee").text


async def test_unknown_symbol_answers_a_404_page(browser: Any) -> None:
    doc = await _page(browser, "/trade/NOPE_USDC", status=404)
    assert "NOPE_USDC" in doc.first_class("notfound").text


async def test_docs_page_links_both_documents_and_serves_only_its_viewer(browser: Any) -> None:
    doc = await _page(browser, "/")
    assert doc.by_id("nav-docs").attrs["href"] == "/docs"
    doc = await _page(browser, "/docs")
    assert doc.by_id("openapi-link").attrs["href"] == "/api/v1/openapi.json"
    assert doc.by_id("asyncapi-link").attrs["href"] == "/api/v1/asyncapi.json"
    scripts = [n.attrs.get("src") for n in doc.find_all(lambda n: n.tag == "script")]
    assert scripts == ["/static/vendor/swagger-ui/swagger-ui-bundle.js", "/static/js/docs.js"]
    for name, kind in (("swagger-ui-bundle.js", "text/javascript"), ("swagger-ui.css", "text/css")):
        async with browser.get(f"/static/vendor/swagger-ui/{name}") as response:
            assert response.status == 200 and response.content_type == kind
    for name in ("package.json", "index.html", "..%2Fpackage.json"):  # nothing else of the package
        async with browser.get(f"/static/vendor/swagger-ui/{name}") as response:
            assert response.status == 404, name


async def test_trade_without_symbol_redirects_to_the_first_market(browser: Any) -> None:
    async with browser.get("/trade", allow_redirects=False) as response:
        assert response.status == 302 and response.headers["Location"] == "/trade/SOL_USDC"


async def test_trade_page_in_lower_case_redirects_to_the_listed_symbol(browser: Any) -> None:
    async with browser.get("/trade/btc_usdc", allow_redirects=False) as response:
        assert response.status == 302 and response.headers["Location"] == "/trade/BTC_USDC"


async def test_account_signed_out_redirects_to_login(browser: Any) -> None:
    async with browser.get("/account", allow_redirects=False) as response:
        assert response.status == 302 and response.headers["Location"] == "/login?next=/account"


async def test_signed_in_pages_carry_the_sessions_csrf_token(browser: Any) -> None:
    answer = await _sign_up(browser, "pageuser")
    for path in ("/", f"/trade/{SOL}", "/account", "/docs"):
        doc = await _page(browser, path)
        metas = doc.find_all(lambda n: n.tag == "meta" and n.attrs.get("name") == "csrf-token")
        assert [m.attrs["content"] for m in metas] == [answer["csrfToken"]], path
        assert doc.by_id("nav-user").text == "pageuser"
        assert doc.by_id("nav-logout").tag == "button"
        assert not doc.find_all(lambda n: n.attrs.get("id") == "nav-login")


async def test_signed_in_trade_page_shows_balances_and_open_orders(browser: Any) -> None:
    token = (await _sign_up(browser, "trader"))["csrfToken"]
    headers = {"X-CSRF-Token": token}
    async with browser.post("/api/v1/onramp", json={"asset": "USDC", "amount": "1000"}, headers=headers) as r:
        assert r.status == 200
    body = {"symbol": SOL, "side": "buy", "type": "limit", "price": "100.00", "quantity": "2.00"}
    async with browser.post("/api/v1/order", json=body, headers=headers) as r:
        assert r.status == 200
        order_id = (await r.json())["orderId"]
    doc = await _page(browser, f"/trade/{SOL}")
    rows = doc.by_id("open-orders").find_all(lambda n: "data-order-id" in n.attrs)
    assert [r.attrs["data-order-id"] for r in rows] == [order_id]
    assert rows[0].by_class("cancel") and doc.by_id("cancel-all")
    usdc = doc.by_id("balances").find_all(lambda n: n.attrs.get("data-asset") == "USDC")[0]
    assert (usdc.first_class("available").text, usdc.first_class("locked").text) == (
        "800.000000",
        "200.000000",
    )
    assert doc.by_id("available").text == "800.000000 USDC"
    assert doc.by_id("submit-order").attrs["type"] == "submit"


async def test_account_page_lists_balances_and_api_keys(browser: Any) -> None:
    token = (await _sign_up(browser, "keyholder"))["csrfToken"]
    async with browser.post("/api/v1/apikeys", json={}, headers={"X-CSRF-Token": token}) as r:
        key = (await r.json())["apiKey"]
    doc = await _page(browser, "/account")
    assert [r.attrs["data-key"] for r in doc.by_id("api-keys").find_all(lambda n: "data-key" in n.attrs)] == [
        key
    ]
    assert "secret" not in json.dumps(_page_data(doc))
    assert {o.attrs["value"] for o in doc.by_id("onramp-asset").find_all(lambda n: n.tag == "option")} >= {
        "USDC",
        "SOL",
    }
    assert doc.by_id("balances").find_all(lambda n: n.attrs.get("data-asset") == "SOL")


async def test_login_page_keeps_only_a_local_next(browser: Any) -> None:
    doc = await _page(browser, "/login?next=/trade/BTC_USDC")
    assert doc.by_id("login-form").attrs["data-next"] == "/trade/BTC_USDC"
    doc = await _page(browser, "/login?next=//evil.example/x")
    assert doc.by_id("login-form").attrs["data-next"] == "/"
    doc = await _page(browser, "/signup")
    form = doc.by_id("signup-form")
    assert form.find_all(lambda n: n.attrs.get("id") == "username") and doc.by_id("auth-error")


async def test_signed_in_login_page_redirects_to_next(browser: Any) -> None:
    await _sign_up(browser, "already")
    async with browser.get("/login?next=/account", allow_redirects=False) as response:
        assert response.status == 302 and response.headers["Location"] == "/account"


async def test_static_files_and_chart_module_are_served_as_javascript(browser: Any) -> None:
    for path in ("/static/js/ws.js", "/static/js/trade.js", "/static/vendor/lightweight-charts.mjs"):
        async with browser.get(path) as response:
            assert response.status == 200, path
            assert "javascript" in response.content_type, (path, response.content_type)
    async with browser.get("/static/vendor/lightweight-charts.mjs") as response:
        assert "createOptionsChart" in await response.text()
    async with browser.get("/static/css/app.css") as response:
        assert response.status == 200 and response.content_type == "text/css"
    async with browser.get("/favicon.ico") as response:
        assert response.status == 200 and response.content_type == "image/svg+xml"


async def test_pages_reference_nothing_outside_the_server(make_user: MakeUser, browser: Any) -> None:
    await _trade(make_user, browser)
    for path in ("/", f"/trade/{SOL}", "/login", "/signup"):
        doc = await _page(browser, path)
        for node in doc.walk():
            for attr in ("src", "href", "action"):
                value = node.attrs.get(attr, "")
                assert not value.startswith(("http:", "https:", "//")), (path, value)


async def test_dev_flag_serves_the_asserting_chart_build(
    aiohttp_server: Any, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EXCHANGE_UI_DEV", "1")
    server: TestServer = await aiohttp_server(create_app(settings))
    url = server.make_url("/static/vendor/lightweight-charts.mjs")
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        served = await response.read()
    development = pages.CHARTS / "lightweight-charts.standalone.development.mjs"
    assert served == development.read_bytes()


def test_missing_chart_package_fails_with_npm_ci_advice(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(pages, "CHARTS", tmp_path / "nowhere")
    with pytest.raises(RuntimeError, match="npm ci"):
        pages.chart_module()
