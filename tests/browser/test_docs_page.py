"""``/docs``: the OpenAPI document rendered by Swagger UI, served from this server alone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from tests.browser.conftest import LiveServer, signup, watch

DESKTOP = {"width": 1440, "height": 900}


def test_docs_page_renders_the_order_route(browser: Any, live_server: LiveServer, screenshots: Path) -> None:
    context = browser.new_context(viewport=DESKTOP, device_scale_factor=1)
    page = context.new_page()
    seen = watch(page, live_server.url)
    page.goto(live_server.url + "/")
    page.click("#nav-docs")  # linked from every page's header
    expect(page).to_have_url(live_server.url + "/docs")
    place = page.locator('.opblock-post:has(.opblock-summary-path[data-path="/api/v1/order"])')
    expect(place).to_be_visible(timeout=15_000)
    place.locator(".opblock-summary").click()
    expect(place.locator(".opblock-body")).to_contain_text("INSUFFICIENT_FUNDS")  # its error codes
    expect(place.locator(".opblock-body")).to_contain_text("clientOrderId")  # its body's schema
    page.screenshot(path=screenshots / "docs-desktop.png", full_page=False)
    assert any(url.endswith("/api/v1/openapi.json") for url in seen.requested)
    seen.check()
    context.close()


def test_docs_page_sends_the_session_csrf_token(browser: Any, live_server: LiveServer) -> None:
    """Swagger UI's "Try it out" as a logged-in user: a write carries the page's CSRF token, so
    the server takes it (a cookie session without it is refused with 403)."""
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    seen = watch(page, live_server.url)
    signup(page, live_server.url, "docs_reader")
    page.goto(live_server.url + "/docs")
    expect(page.locator(".opblock-summary-path").first).to_be_visible(timeout=15_000)
    intercepted = page.evaluate(
        """async () => {
            const req = window.ui.getConfigs().requestInterceptor(
                {url: "/api/v1/apikeys", method: "POST", headers: {}, body: ""});
            const res = await fetch(req.url, {method: req.method, headers: req.headers, body: req.body});
            return {status: res.status, body: await res.json()};
        }"""
    )
    assert intercepted["status"] == 201, intercepted  # without the token: 403 (tests/web/test_api_auth.py)
    assert intercepted["body"]["apiKey"].startswith("ak_")
    seen.check()
    context.close()
