"""The exchange as `make run` serves it (demo bot on): pages look alive, fit a phone, survive
a server restart; screenshots for people land in tests/browser/screenshots/."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import LiveServer, watch

DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def busy_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = LiveServer(tmp_path_factory.mktemp("busy") / "data").start()  # the demo bot trades
    yield server
    server.stop()


def open_page(browser: Any, server: LiveServer, path: str, viewport: dict[str, int]) -> tuple[Any, Any, Any]:
    context = browser.new_context(viewport=viewport, device_scale_factor=1)
    page = context.new_page()
    seen = watch(page, server.url)
    page.goto(server.url + path)
    expect(page.locator("#ws-status")).to_have_attribute("data-state", "open")
    return context, page, seen


def test_markets_page_lists_markets_moving(browser: Any, busy_server: LiveServer, screenshots: Path) -> None:
    context, page, seen = open_page(browser, busy_server, "/", DESKTOP)
    rows = page.locator("#markets tr[data-symbol]")
    expect(rows).to_have_count(3)
    for symbol in ("SOL_USDC", "BTC_USDC", "ETH_USDC"):
        last = page.locator(f'#markets tr[data-symbol="{symbol}"] td.last')
        expect(last).to_have_text(re.compile(r"\d"), timeout=15_000)
    page.screenshot(path=screenshots / "markets-desktop.png", full_page=True)
    assert not [url for url in seen.requested if "lightweight-charts" in url]  # only the trade page loads it
    seen.check()
    context.close()


@pytest.mark.parametrize(("name", "viewport"), [("desktop", DESKTOP), ("phone", PHONE)])
def test_trade_page_alive_and_fits(
    browser: Any, busy_server: LiveServer, screenshots: Path, name: str, viewport: dict[str, int]
) -> None:
    context, page, seen = open_page(browser, busy_server, "/trade/SOL_USDC", viewport)
    expect(page.locator("#book-asks .level").first).to_be_visible(timeout=15_000)
    expect(page.locator("#book-bids .level").first).to_be_visible()
    expect(page.locator("#trades .trade").first).to_be_visible(timeout=15_000)
    expect(page.locator("#chart canvas").first).to_be_visible()
    expect(page.locator("#depth-chart canvas").first).to_be_visible()
    assert [url for url in seen.requested if url.endswith("/static/vendor/lightweight-charts.mjs")]
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the page is {overflow}px wider than a {viewport['width']}px screen"
    first = page.locator("#trades .trade").first.inner_text()  # the bot moves the tape for the picture
    expect(page.locator("#trades .trade").first).not_to_have_text(first, timeout=15_000)
    page.screenshot(path=screenshots / f"trade-{name}.png", full_page=name == "desktop")
    seen.check()
    context.close()


def test_interval_switch_reloads_candles(browser: Any, busy_server: LiveServer) -> None:
    context, page, seen = open_page(browser, busy_server, "/trade/SOL_USDC", DESKTOP)
    legend = page.locator("#chart-legend")
    expect(legend).to_have_attribute("data-start", re.compile(r"^\d+$"), timeout=15_000)
    page.click('#intervals button[data-interval="1h"]')
    expect(page.locator('#intervals button[data-interval="1h"]')).to_have_class("active")
    hour = 3_600_000
    page.wait_for_function(
        f"() => Number(document.querySelector('#chart-legend').dataset.start) % {hour} === 0"
    )
    seen.check()
    context.close()


def test_socket_reconnects_after_server_restart(browser: Any, tmp_path_factory: Any) -> None:
    server = LiveServer(tmp_path_factory.mktemp("restart") / "data").start()
    try:
        context, page, seen = open_page(browser, server, "/trade/SOL_USDC", DESKTOP)
        server.stop()
        expect(page.locator("#ws-status")).not_to_have_attribute("data-state", "open")
        server.start()  # same port, same data: the book comes back from the journal
        expect(page.locator("#ws-status")).to_have_attribute("data-state", "open", timeout=20_000)
        first = page.locator("#trades .trade").first.inner_text()
        expect(page.locator("#trades .trade").first).not_to_have_text(first, timeout=15_000)
        # The browser logs the refused connections while the server is down; nothing else.
        seen.errors = [e for e in seen.errors if "WebSocket" not in e and "ERR_CONNECTION_REFUSED" not in e]
        seen.check()
        context.close()
    finally:
        server.stop()
