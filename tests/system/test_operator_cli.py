"""``python -m exchange operator``: the key it prints works on the admin routes of a real server
process on the same data directory; duplicates are refused, operators listed and removed, and
a running server sees a removal or a promotion on the next request."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from exchange.client import Client, ExchangeError
from tests.live_server import ROOT, LiveServer

PASSWORD = "correct horse battery"
V1 = "/api/v1"


def cli(data_dir: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "exchange", "operator", *args, "--data-dir", str(data_dir)]
    return subprocess.run(cmd, cwd=ROOT, input=stdin, capture_output=True, text=True, timeout=60)


def _key(printed: str) -> tuple[str, str]:
    found = re.search(r"^apiKey: (ak_[0-9a-f]{32})\nsecret: ([0-9a-f]{64})$", printed, re.M)
    assert found, printed
    return found.group(1), found.group(2)


@pytest.fixture(scope="module")
def first(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[LiveServer, subprocess.CompletedProcess[str]]]:
    """``operator add boss`` (a password from stdin) on a fresh data directory, then the server
    started on it."""
    data = tmp_path_factory.mktemp("operators") / "data"
    added = cli(data, "add", "boss", "--password-stdin", stdin=PASSWORD + "\n")
    server = LiveServer(data, "--no-bot").start()
    yield server, added
    server.stop()


def _admin(url: str, key: tuple[str, str], path: str) -> object:
    async def call() -> object:
        async with Client(url, *key) as client:
            return await client.request("GET", V1 + path, auth=True)

    return asyncio.run(call())


def _refused(url: str, key: tuple[str, str], path: str) -> tuple[int, str]:
    with pytest.raises(ExchangeError) as refused:
        _admin(url, key, path)
    return refused.value.status, refused.value.code


def test_the_printed_key_works_on_an_admin_route(
    first: tuple[LiveServer, subprocess.CompletedProcess[str]],
) -> None:
    server, added = first
    assert added.returncode == 0, added.stderr
    assert added.stdout.count("secret:") == 1 and "created" in added.stdout
    operators = _admin(server.url, _key(added.stdout), "/admin/operators")
    assert [o["username"] for o in operators] == ["boss"]  # type: ignore[attr-defined]
    audit = _admin(server.url, _key(added.stdout), "/admin/audit")
    assert [(e["operator"], e["action"]) for e in audit][-1] == ("cli", "operator.add")  # type: ignore[attr-defined]

    async def by_session() -> object:
        async with Client(server.url) as browser:
            await browser.login("boss", PASSWORD)
            return await browser.request("GET", V1 + "/admin/operators", auth=True)

    assert asyncio.run(by_session()) == operators


def test_a_duplicate_is_refused_with_a_reason_and_changes_nothing(
    first: tuple[LiveServer, subprocess.CompletedProcess[str]],
) -> None:
    server, _ = first
    again = cli(server.data_dir, "add", "BOSS")
    assert again.returncode == 1 and "'boss' is already an operator" in again.stderr
    assert "secret" not in again.stdout
    listed = cli(server.data_dir, "list")
    assert listed.returncode == 0 and re.findall(r"^\d+\tboss\t\d+$", listed.stdout, re.M)


def test_a_running_server_sees_a_promotion_and_a_removal_on_the_next_request(
    first: tuple[LiveServer, subprocess.CompletedProcess[str]],
) -> None:
    server, added = first
    boss = _key(added.stdout)

    async def signup() -> tuple[str, str]:
        async with Client(server.url) as client:
            await client.signup("carol", PASSWORD)
            made = await client.create_api_key()
            return made["apiKey"], made["secret"]

    carol = asyncio.run(signup())
    assert _refused(server.url, carol, "/admin/fees") == (403, "FORBIDDEN")
    promoted = cli(server.data_dir, "add", "carol", "--promote")
    assert promoted.returncode == 0, promoted.stderr
    _admin(server.url, carol, "/admin/fees")  # her own key, the role read from the database
    removed = cli(server.data_dir, "remove", "boss")
    assert removed.returncode == 0, removed.stderr
    assert _refused(server.url, boss, "/admin/operators") == (403, "FORBIDDEN")
    assert cli(server.data_dir, "remove", "boss").returncode == 1
    assert (
        "carol" in cli(server.data_dir, "list").stdout and "boss" not in cli(server.data_dir, "list").stdout
    )
