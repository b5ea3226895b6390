"""Two traders in two browser contexts trade through the UI and watch each other's effects live.

Each test uses its own market (or its own prices) on the module's one server, so the order in
which they run does not matter.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import ccxt
import pytest
from playwright.sync_api import expect

from exchange.client import Client
from tests.binance.ccxt_setup import binance
from tests.browser.conftest import PASSWORD, LiveServer, Watch, onramp, signup, watch
from tests.waiting import until_sync

DESKTOP = {"width": 1440, "height": 900}


class Trader:
    """One signed-in user in their own browser context (own cookies, own socket)."""

    def __init__(self, browser: Any, server: LiveServer, name: str) -> None:
        self.context = browser.new_context(viewport=DESKTOP)
        self.page = self.context.new_page()
        self.page.set_default_timeout(5_000)
        self.seen: Watch = watch(self.page, server.url)
        self.base, self.name = server.url, name
        signup(self.page, server.url, name)

    def open_market(self, symbol: str) -> None:
        self.page.goto(f"{self.base}/trade/{symbol}")
        expect(self.page.locator("#ws-status")).to_have_attribute("data-state", "open")

    def place(self, side: str, price: str, quantity: str, *, kind: str = "limit") -> None:
        page = self.page
        page.click(f"#side-{side}")
        page.click(f"#type-{kind}")
        if kind == "limit":
            page.fill("#price", price)
        page.fill("#quantity", quantity)
        page.click("#submit-order")

    def create_key(self) -> tuple[str, str]:
        """An API key made on the account page: (key, the secret shown once)."""
        page = self.page
        page.goto(f"{self.base}/account")
        page.click("#create-key")
        key = page.locator("#new-key .api-key").inner_text().strip()
        return key, page.locator("#new-key .secret").inner_text().strip()

    def close(self) -> None:
        self.seen.check()
        self.context.close()


@pytest.fixture
def traders(browser: Any, live_server: LiveServer) -> Iterator[Callable[[str], Trader]]:
    made: list[Trader] = []

    def make(name: str) -> Trader:
        made.append(Trader(browser, live_server, name))
        return made[-1]

    yield make
    for trader in made:
        trader.close()


def number(locator: Any) -> Decimal:
    return Decimal(locator.inner_text().replace(",", "").strip())


def shows(locator: Any, value: str | int, timeout: float = 3.0) -> None:
    """Wait until ``locator`` shows the number ``value``, whatever its formatting."""
    want, text = Decimal(value), [""]

    def showing() -> bool:
        text[0] = locator.inner_text()
        try:
            return Decimal(text[0].replace(",", "").strip()) == want
        except ArithmeticError:
            return False

    until_sync(showing, timeout, interval=0.05, message=lambda: f"{locator} shows {text[0]!r}, not {value}")


def test_resting_order_reaches_other_book_within_a_second_then_fills_for_both(traders: Any) -> None:
    alice, bob = traders("alice_ui"), traders("bob_ui")
    onramp(alice.page, alice.base, "USDC", "10000")
    onramp(bob.page, bob.base, "SOL", "50")
    alice.open_market("SOL_USDC")
    bob.open_market("SOL_USDC")

    alice.place("buy", "101.50", "2")
    started = time.monotonic()
    bob.page.wait_for_selector('#book-bids .level[data-price="101.50"]', timeout=1_000)
    assert time.monotonic() - started < 1.0
    expect(bob.page.locator('#book-bids .level[data-price="101.50"] .qty')).to_have_text("2.00")
    expect(alice.page.locator("#open-orders tr[data-order-id]")).to_have_count(1)
    shows(alice.page.locator('#balances tr[data-asset="USDC"] td.locked'), 203)

    bob.place("sell", "101.50", "2")
    for trader in (alice, bob):
        first = trader.page.locator("#trades .trade").first
        expect(first.locator(".price")).to_have_text("101.50")
        expect(first).to_have_class("trade sell")  # the buyer rested: the taker sold
        expect(trader.page.locator('#book-bids .level[data-price="101.50"]')).to_have_count(0)
        shows(trader.page.locator('#chart-legend [data-field="close"]'), "101.5")
        shows(trader.page.locator('#chart-legend [data-field="volume"]'), 2)
    expect(alice.page.locator("#open-orders tr[data-order-id]")).to_have_count(0)
    # The maker fee (0.1%) comes out of what alice receives, the taker fee (0.2%) out of bob's.
    alice_sol = alice.page.locator('#balances tr[data-asset="SOL"] td.available')
    shows(alice_sol, "1.998")
    shows(alice.page.locator('#balances tr[data-asset="USDC"] td.locked'), 0)
    shows(bob.page.locator('#balances tr[data-asset="USDC"] td.available'), "202.594")
    shows(bob.page.locator('#balances tr[data-asset="SOL"] td.available'), 48)


def test_cancel_from_open_orders_table_removes_order_and_book_level(traders: Any) -> None:
    carol, dave = traders("carol_ui"), traders("dave_ui")
    onramp(carol.page, carol.base, "USDC", "20000")
    carol.open_market("ETH_USDC")
    dave.open_market("ETH_USDC")
    carol.place("buy", "2500.00", "0.5")
    carol.place("buy", "2400.00", "0.5")
    rows = carol.page.locator("#open-orders tr[data-order-id]")
    expect(rows).to_have_count(2)
    dave.page.wait_for_selector('#book-bids .level[data-price="2500.00"]')

    carol.page.locator("#open-orders tr[data-order-id]", has_text="2500").locator("button.cancel").click()
    expect(rows).to_have_count(1)
    expect(dave.page.locator('#book-bids .level[data-price="2500.00"]')).to_have_count(0)
    expect(dave.page.locator('#book-bids .level[data-price="2400.00"]')).to_have_count(1)

    carol.page.click("#cancel-all")
    expect(rows).to_have_count(0)
    expect(dave.page.locator('#book-bids .level[data-price="2400.00"]')).to_have_count(0)
    shows(carol.page.locator('#balances tr[data-asset="USDC"] td.locked'), 0)


def test_rejected_order_shows_error_in_words_and_changes_nothing(traders: Any) -> None:
    erin = traders("erin_ui")
    onramp(erin.page, erin.base, "USDC", "1000")
    erin.open_market("BTC_USDC")
    usdc = erin.page.locator('#balances tr[data-asset="USDC"] td.available')
    shows(usdc, 1000)

    erin.place("buy", "60000.0", "1")  # 60,000 USDC wanted, 1,000 held
    error = erin.page.locator("#form-error")
    expect(error).to_contain_text("not enough USDC")
    assert "INSUFFICIENT_FUNDS" not in error.inner_text()

    erin.place("buy", "60000.05", "0.001")  # off the 0.1 tick grid
    expect(error).to_contain_text("not a multiple of 0.1")
    expect(erin.page.locator("#open-orders tr[data-order-id]")).to_have_count(0)
    assert number(usdc) == 1000


def in_thread(coro: Coroutine[Any, Any, None]) -> None:
    """Playwright's sync API owns this thread's event loop: the async client runs in another."""
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, coro).result()


async def trade_through_api(base: str, tag: str, symbol: str, price: str, far: str) -> None:
    """A maker rests 1.5 (and 0.25 at a ``far`` price) at ``price``; a taker lifts 0.5 of it."""
    async with Client(base) as maker, Client(base) as taker:
        funding = ((maker, "maker", symbol.split("_")[0], "5"), (taker, "taker", "USDC", "400000"))
        for client, name, asset, amount in funding:
            await client.signup(f"{name}_{tag}", PASSWORD)
            await client.onramp(asset, amount)
        await maker.place_order(symbol, "sell", price=price, quantity="1.5")
        await maker.place_order(symbol, "sell", price=far, quantity="0.25")
        await taker.place_order(symbol, "buy", price=price, quantity="0.5")


def test_trade_page_arrives_with_ticker_book_and_trades_rendered_by_the_server(
    browser: Any, live_server: LiveServer
) -> None:
    in_thread(trade_through_api(live_server.url, "preload", "BTC_USDC", "61000.0", "62000.0"))
    # No JavaScript at all: whatever shows was in the HTML the server sent.
    context = browser.new_context(java_script_enabled=False, viewport=DESKTOP)
    page = context.new_page()
    seen = watch(page, live_server.url)
    page.goto(f"{live_server.url}/trade/BTC_USDC")
    expect(page.locator('#ticker [data-field="last"]')).to_have_text("61000.0")
    expect(page.locator("#trades .trade").first.locator(".price")).to_have_text("61000.0")
    assert number(page.locator('#book-asks .level[data-price="61000.0"] .qty')) == 1
    expect(page.locator('#book-asks .level[data-price="62000.0"]')).to_have_count(1)
    page.goto(live_server.url)
    expect(page.locator('#markets tr[data-symbol="BTC_USDC"] td.last')).to_have_text("61000.0")
    seen.check()
    context.close()


def test_markets_page_updates_last_price_live(traders: Any, live_server: LiveServer) -> None:
    viewer = traders("frank_ui")
    viewer.page.goto(live_server.url)
    expect(viewer.page.locator("#ws-status")).to_have_attribute("data-state", "open")
    in_thread(trade_through_api(live_server.url, "live", "ETH_USDC", "3190.00", "3333.00"))
    expect(viewer.page.locator('#markets tr[data-symbol="ETH_USDC"] td.last')).to_have_text("3190.00")


def test_api_key_secret_shown_once_listed_then_revoked(traders: Any) -> None:
    grace = traders("grace_ui")
    page = grace.page
    key, secret = grace.create_key()
    assert len(secret) >= 32 and key
    row = page.locator(f'#api-keys tr[data-key="{key}"]')
    expect(row).to_have_count(1)
    page.reload()
    expect(row).to_have_count(1)
    assert secret not in page.content()  # shown once, never again
    row.locator("button.revoke").click()
    expect(row).to_have_count(0)
    page.reload()
    expect(page.locator(f'#api-keys tr[data-key="{key}"]')).to_have_count(0)


async def _rest_sell(base: str, name: str, symbol: str, price: str, quantity: str) -> None:
    async with Client(base) as seller:
        await seller.signup(name, PASSWORD)
        await seller.onramp(symbol.split("_")[0], quantity)
        await seller.place_order(symbol, "sell", price=price, quantity=quantity)


def test_form_helpers_history_tabs_and_a_logout_login_cycle(traders: Any, live_server: LiveServer) -> None:
    henry = traders("henry_ui")
    page = henry.page
    onramp(page, henry.base, "USDC", "1000")
    in_thread(_rest_sell(live_server.url, "ivan_api", "SOL_USDC", "95.00", "1"))
    henry.open_market("SOL_USDC")

    page.click('#book-asks .level[data-price="95.00"]')  # a level click fills the price
    expect(page.locator("#price")).to_have_value("95.00")
    page.click("#side-buy")
    page.click('button[data-pct="25"]')  # a quarter of 1,000 USDC at 95.00, down to the 0.01 step
    expect(page.locator("#quantity")).to_have_value("2.63")

    henry.place("buy", "", "0.5", kind="market")
    expect(page.locator('#book-asks .level[data-price="95.00"] .qty')).to_have_text("0.50")
    page.click("#tab-history")
    history = page.locator("#order-history tbody tr").first
    expect(history).to_contain_text("Filled", ignore_case=True)
    expect(history).to_contain_text("0.50")
    page.click("#tab-fills")
    fill = page.locator("#fills tbody tr").first
    expect(fill).to_contain_text("95.00")
    expect(fill).to_contain_text("taker", ignore_case=True)

    page.click("#nav-logout")
    expect(page.locator("#nav-login")).to_be_visible()
    page.goto(f"{henry.base}/login?next=/trade/SOL_USDC")
    page.fill("#username", "henry_ui")
    page.fill("#password", PASSWORD)
    page.click("#login-form [type=submit]")
    expect(page.locator("#nav-user")).to_have_text("henry_ui")
    assert page.url.endswith("/trade/SOL_USDC")
    shows(page.locator('#balances tr[data-asset="SOL"] td.available'), "0.499")  # 0.5 less the 0.2% taker fee


def test_orders_of_ccxt_on_the_binance_face_show_in_the_ui_and_the_ui_orders_in_ccxt(traders: Any) -> None:
    """One account, two faces: a bot's ccxt order appears live in its owner's open orders, and an
    order placed in the browser is one of the bot's open orders."""
    ivan = traders("ivan_ui")
    page = ivan.page
    key, secret = ivan.create_key()
    onramp(page, ivan.base, "USDC", "5000")
    ivan.open_market("ETH_USDC")
    bot = binance(ccxt.binance, ivan.base, key, secret)
    placed = bot.create_order("ETH/USDC", "limit", "buy", 0.25, 1234.5)
    expect(page.locator(f'#open-orders tr[data-order-id="{placed["id"]}"]')).to_have_count(1)
    ivan.place("buy", "1200.00", "0.5")
    rows = page.locator("#open-orders tr[data-order-id]")
    expect(rows).to_have_count(2)
    from_ui = {o["id"] for o in bot.fetch_open_orders("ETH/USDC")} - {placed["id"]}
    assert len(from_ui) == 1
    expect(page.locator(f'#open-orders tr[data-order-id="{from_ui.pop()}"]')).to_have_count(1)
