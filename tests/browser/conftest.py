"""Browser tests: real headless Chromium (Debian's package, never `playwright install`) against
the real server.

The server is the real CLI (`python -m exchange serve`) in a subprocess, started once per
module on a free port with its own data directory, so a test sees exactly what a trader who ran
`make run` sees. Tests are synchronous: Playwright's sync API must not run inside an event loop.

Every page a test opens goes through ``watch(page)``: it records console errors, uncaught page
errors and any request that leaves the server's origin, and the test asserts none happened.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.live_server import LiveServer

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).parent / "screenshots"
PASSWORD = "correct horse battery"

# Never skipped: `make test` and .ci/run install Chromium (apt-get) before the tests run.
if not Path(CHROMIUM).exists():
    raise RuntimeError(f"{CHROMIUM} is missing: `make system-deps` installs it (apt-get install chromium)")


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
            "--disable-default-apps", "--disable-extensions",
        ],
    }  # fmt: skip


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = LiveServer(tmp_path_factory.mktemp("exchange") / "data", "--no-bot").start()
    yield server
    server.stop()


@dataclass
class Watch:
    """What a page did that a test must not accept: console errors and foreign requests."""

    origin: str
    errors: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)
    requested: list[str] = field(default_factory=list)

    def check(self) -> None:
        assert self.foreign == [], f"requests left {self.origin}: {self.foreign}"
        assert self.errors == [], f"console errors: {self.errors}"


def watch(page: Any, origin: str) -> Watch:
    seen = Watch(origin)

    def on_console(msg: Any) -> None:
        if msg.type == "error":
            seen.errors.append(f"{msg.text} @ {msg.location}")

    def on_request(request: Any) -> None:
        url = request.url
        seen.requested.append(url)
        if not url.startswith((origin, "ws" + origin[4:], "data:", "blob:")):
            seen.foreign.append(url)

    page.on("console", on_console)
    page.on("pageerror", lambda exc: seen.errors.append(f"page error: {exc}"))
    page.on("request", on_request)
    page.on("websocket", on_request)  # a WebSocket has a url too; ws://127.0.0.1:P starts the same way
    return seen


def signup(page: Any, base: str, username: str) -> None:
    page.goto(f"{base}/signup")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("#signup-form [type=submit]")
    page.wait_for_selector("#nav-logout")


def onramp(page: Any, base: str, asset: str, amount: str) -> None:
    page.goto(f"{base}/account")
    page.select_option("#onramp-asset", asset)
    page.fill("#onramp-amount", amount)
    page.click("#onramp-form [type=submit]")
    page.wait_for_selector(f'#balances tr[data-asset="{asset}"]')


@pytest.fixture(scope="session")
def screenshots() -> Path:
    if SCREENSHOTS.exists():
        shutil.rmtree(SCREENSHOTS)
    SCREENSHOTS.mkdir(parents=True)
    return SCREENSHOTS
