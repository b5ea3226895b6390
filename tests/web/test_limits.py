"""Every limit is one field of ``Limits`` (exchange/limits.py): set from the command line or the
config file's ``[limits]`` table, checked at load, enforced, announced and documented from it.

Two servers for the module: one at the default limits (what a client meets out of the box) and
one with tight ones, so the refusals come after a few messages rather than thousands.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import msgspec
import orjson
import pytest
import pytest_asyncio

from exchange.__main__ import _parser, _settings, main
from exchange.app import create_app
from exchange.client import ExchangeError
from exchange.config import ConfigError, Settings, demo_config_path, limits_table, load_venue
from exchange.limits import BENCH, Limits, bench_limits, describe, limits_json, load_limits, table_in
from exchange.wsclient import WsClient
from tests.web.conftest import serve, trader

API_MD = Path(__file__).resolve().parents[2] / "docs" / "API.md"
SOL = "SOL_USDC"
TIGHT = Limits(rate_per_s=10.0, rate_burst=20, ws_messages_per_s=50.0, ws_burst=100, api_keys_per_user=2)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def urls(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[dict[str, str]]:
    """``default`` and ``tight``: the base URLs of the module's two servers."""
    default, default_url = await serve(tmp_path_factory.mktemp("default"), limits=Limits())
    tight, tight_url = await serve(tmp_path_factory.mktemp("tight"), limits=TIGHT)
    try:
        yield {"default": default_url, "tight": tight_url}
    finally:
        await default.close()
        await tight.close()


# -- enforced -----------------------------------------------------------------------------------
@pytest.mark.asyncio(loop_scope="module")
async def test_order_round_trips_one_after_another_on_the_socket_are_never_refused(
    urls: dict[str, str],
) -> None:
    """As a latency benchmark sends them: 500 place + cancel, each waiting for its answer. The
    socket used to refuse the 101st message (50/s, bursts of 100) while the user's own limit
    allowed hundreds more; now the socket's limit is never below the user's."""
    alice = await trader(urls["default"], "alice", {"USDC": "100000"})
    async with alice, WsClient(urls["default"]) as ws:
        await ws.auth(alice.api_key or "", alice.secret or "")
        for i in range(500):
            try:
                placed = await ws.place_order(symbol=SOL, side="buy", type="limit", price="100", quantity="1")
                await ws.cancel_order(symbol=SOL, orderId=placed["orderId"])
            except ExchangeError as exc:
                pytest.fail(f"round trip {i} refused: {exc}")
        assert await alice.open_orders() == []


async def _flood(ws: aiohttp.ClientWebSocketResponse, count: int) -> list[dict[str, Any]]:
    for i in range(count):
        await ws.send_str(orjson.dumps({"method": "LIST_SUBSCRIPTIONS", "id": i}).decode())
    return [orjson.loads(await ws.receive_str(timeout=5)) for _ in range(count)]


@pytest.mark.asyncio(loop_scope="module")
async def test_message_flood_is_refused_then_the_abuser_is_closed(urls: dict[str, str]) -> None:
    async with aiohttp.ClientSession() as s:
        ws = await s.ws_connect(urls["tight"] + "/ws")
        answers = await _flood(ws, TIGHT.ws_burst + 50)
        codes = [a.get("error", {}).get("code") for a in answers]
        assert codes.count(None) >= TIGHT.ws_burst and codes.count("RATE_LIMITED") >= 40
        for i in range(2 * TIGHT.ws_refusals):  # keeps pushing past the refusals: closed as an abuser
            await ws.send_str(orjson.dumps({"method": "LIST_SUBSCRIPTIONS", "id": i}).decode())
        while (await ws.receive(timeout=5)).type is aiohttp.WSMsgType.TEXT:
            pass
        assert ws.close_code == 1008


@pytest.mark.asyncio(loop_scope="module")
async def test_a_refused_message_says_when_to_retry_as_rest_does(urls: dict[str, str]) -> None:
    """The socket has no Retry-After header: its 429 carries the same whole seconds as retryAfter."""
    async with aiohttp.ClientSession() as s:
        ws = await s.ws_connect(urls["tight"] + "/ws")
        answers = await _flood(ws, TIGHT.ws_burst + 20)
        refused = [a["error"] for a in answers if "error" in a]
        assert refused and all(e["code"] == "RATE_LIMITED" and e["retryAfter"] == 1 for e in refused)
        await ws.close()


@pytest.mark.asyncio(loop_scope="module")
async def test_api_keys_per_user_is_the_configured_number(urls: dict[str, str]) -> None:
    bob = await trader(urls["tight"], "bob", {"USDC": "100000"})  # holds one key
    async with bob:
        await bob.create_api_key()
        with pytest.raises(ExchangeError) as err:
            await bob.create_api_key()
        assert err.value.code == "INVALID_REQUEST" and "at most 2 API keys" in str(err.value)


# -- announced ----------------------------------------------------------------------------------
@pytest.mark.asyncio(loop_scope="module")
async def test_a_client_reads_every_limit_and_the_onramp_caps(urls: dict[str, str]) -> None:
    async with aiohttp.ClientSession() as s:
        for name, limits in (("default", Limits()), ("tight", TIGHT)):
            async with s.get(urls[name] + "/api/v1/limits") as resp:
                body = await resp.json()
            assert body["limits"] == limits_json(limits)
            assert body["onrampLimits"] == load_venue().onramp_caps()
    assert body["limits"]["ws_burst"] == {
        "value": 100,
        "unit": "messages",
        "description": _described("ws_burst"),
    }
    assert body["onrampLimits"]["BTC"] == "20"


def test_the_docs_table_is_the_one_rendered_from_the_struct() -> None:
    """Rewrite it with ``python -m exchange limits --write docs/API.md``."""
    assert table_in(API_MD.read_text(encoding="utf-8")) == limits_table()


# -- set from the command line and the config file -------------------------------------------
def _limits_of(*argv: str) -> Limits:
    return _settings(_parser().parse_args(["serve", *argv])).limits


def test_every_field_has_its_option() -> None:
    doubled = {lim.name: lim.type(lim.default * 2) for lim in describe()}  # keeps the rules between them
    argv = [arg for name, value in doubled.items() for arg in (f"--{name.replace('_', '-')}", str(value))]
    assert _limits_of(*argv) == Limits(**doubled)
    assert _limits_of() == Limits()


def _venue_with(tmp_path: Path, table: str) -> Path:
    path = tmp_path / "venue.toml"
    path.write_text(demo_config_path().read_text(encoding="utf-8") + "\n[limits]\n" + table, encoding="utf-8")
    return path


def test_the_config_file_sets_limits_and_an_option_overrides_it(tmp_path: Path) -> None:
    path = str(_venue_with(tmp_path, "rate_per_s = 10\nws_streams = 7\n"))
    assert (_limits_of("--config", path).rate_per_s, _limits_of("--config", path).ws_streams) == (10.0, 7)
    assert _limits_of("--config", path, "--ws-streams", "9").ws_streams == 9
    load_venue(path)  # the venue itself takes a file with a [limits] table


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ("rate_per_sec = 10\n", "limits.rate_per_sec: unknown key"),
        ("ws_burst = 0\n", "limits.ws_burst: Expected `int` >= 1"),
        ("ws_burst = 1.5\n", "limits.ws_burst: Expected `int`, got `float`"),
        ("rate_per_s = 5000\n", "limits.ws_messages_per_s (1000) must be at least limits.rate_per_s (5000)"),
        ("recv_window_default_ms = 70000\n", "limits.recv_window_max_ms (60000) must be at least"),
    ],
)
def test_a_bad_limit_in_the_file_is_refused_naming_its_key(tmp_path: Path, table: str, message: str) -> None:
    with pytest.raises(ConfigError, match="limits") as err:
        _limits_of("--config", str(_venue_with(tmp_path, table)))
    assert message in str(err.value)


def test_a_bad_option_is_refused_naming_it(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["limits", "--ws-streams", "0"]) == 2
    assert "--ws-streams: Expected `int` >= 1" in capsys.readouterr().err
    assert main(["limits", "--ws-messages-per-s", "100"]) == 2  # below the user's 1000/s
    assert (
        "limits.ws_messages_per_s (100) must be at least limits.rate_per_s (1000)" in capsys.readouterr().err
    )


def test_bench_limits_lift_every_rate_and_an_explicit_option_still_wins() -> None:
    lifted = _limits_of("--bench-limits")
    assert {name: getattr(lifted, name) for name in bench_limits()} == bench_limits()
    assert lifted.rate_per_s == lifted.ws_messages_per_s == BENCH and lifted.binance_orders_per_10s == BENCH
    assert lifted.ws_streams == Limits().ws_streams  # counts and sizes are not rates: unchanged
    assert _limits_of("--bench-limits", "--auth-burst", "3").auth_burst == 3


def test_limits_built_in_code_are_checked_as_the_command_line_s_are(tmp_path: Path) -> None:
    settings = Settings(data_dir=str(tmp_path), limits=msgspec.structs.replace(Limits(), ws_burst=10))
    with pytest.raises(ConfigError, match=r"limits.ws_burst \(10\) must be at least limits.rate_burst"):
        create_app(settings)
    assert load_limits(None, {}) == Limits()


def _described(name: str) -> str:
    return next(lim.description for lim in describe() if lim.name == name)
