"""The bot's ``[demo]`` section: the shipped one resolves on its venue; each bad key is named."""

from __future__ import annotations

import tomllib
from typing import Any

import pytest

from exchange.app.demo_bot import serving_url
from exchange.config import ConfigError, demo_config_path, load_venue
from exchange.demo.config import inventory_units, load_bot_config, parse_bot_config, resolve


def _section() -> dict[str, Any]:
    section: dict[str, Any] = tomllib.loads(demo_config_path().read_text())["demo"]
    return section


def test_shipped_section_resolves_on_the_demo_venue_to_exact_integers() -> None:
    config = load_bot_config()
    assert config is not None
    venue = load_venue()
    plans = resolve(config, venue.markets)
    assert set(plans) == {"SOL_USDC", "BTC_USDC", "ETH_USDC"}
    assert plans["SOL_USDC"].mid == 15_000  # 150 in 0.01 ticks
    assert plans["BTC_USDC"].size == 2000  # 0.02 in 0.00001 steps
    caps = inventory_units(config, {a.name: a.decimals for a in venue.assets.values()})
    assert caps["BTC"] == 4 * 10**8


def test_a_file_without_the_section_gives_none(tmp_path: Any) -> None:
    path = tmp_path / "venue.toml"
    path.write_text(demo_config_path().read_text().split("\n[demo]\n")[0])
    assert load_bot_config(path) is None
    load_venue(path)  # and the venue does not need it


@pytest.mark.parametrize(
    ("path", "value", "named"),
    [
        (("takerRate",), 0, "demo.takerRate"),
        (("fundRatio",), 1.5, "demo.fundRatio"),
        (("bogus",), 1, "bogus"),
        (("markets", "SOL_USDC", "levels"), "five", "demo.markets.SOL_USDC.levels"),
        (("markets", "SOL_USDC", "levels"), 0, "demo.markets.SOL_USDC.levels"),
        (("markets", "SOL_USDC", "spacing"), 0, "demo.markets.SOL_USDC.spacing"),
        (("markets", "SOL_USDC", "colour"), "red", "colour"),
        (("taker",), "demo-maker", "demo.taker"),
    ],
)
def test_bad_shape_or_range_names_its_key(path: tuple[str, ...], value: object, named: str) -> None:
    section = _section()
    target = section
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(ConfigError, match=named.replace(".", r"\.")):
        parse_bot_config(section)


@pytest.mark.parametrize(
    ("symbol", "key", "value", "named"),
    [
        ("SOL_USDC", "mid", "150.001", "demo.markets.SOL_USDC.mid"),
        ("BTC_USDC", "size", "0.000001", "demo.markets.BTC_USDC.size"),
        ("ETH_USDC", "takerSize", "abc", "demo.markets.ETH_USDC.takerSize"),
        ("BTC_USDC", "size", "0.00001", "demo.markets.BTC_USDC.size"),  # under minNotional
    ],
)
def test_off_grid_values_name_their_key(symbol: str, key: str, value: str, named: str) -> None:
    section = _section()
    section["markets"][symbol][key] = value
    with pytest.raises(ConfigError, match=named.replace(".", r"\.")):
        resolve(parse_bot_config(section), load_venue().markets)


def test_unknown_market_and_missing_inventory_are_named() -> None:
    section = _section()
    section["markets"]["DOGE_USDC"] = dict(section["markets"]["SOL_USDC"])
    with pytest.raises(ConfigError, match=r"demo\.markets\.DOGE_USDC"):
        resolve(parse_bot_config(section), load_venue().markets)
    section = _section()
    del section["inventory"]["ETH"]
    with pytest.raises(ConfigError, match=r"demo\.inventory\.ETH"):
        resolve(parse_bot_config(section), load_venue().markets)


def test_inventory_off_the_asset_grid_is_named() -> None:
    section = _section()
    section["inventory"]["USDC"] = "1.0000001"
    config = parse_bot_config(section)
    with pytest.raises(ConfigError, match=r"demo\.inventory\.USDC"):
        inventory_units(config, {"USDC": 6, "SOL": 9, "BTC": 8, "ETH": 8})


@pytest.mark.parametrize(
    ("host", "url"),
    [
        ("127.0.0.1", "http://127.0.0.1:8080"),
        ("0.0.0.0", "http://127.0.0.1:8080"),
        ("::", "http://[::1]:8080"),
        ("localhost", "http://localhost:8080"),
    ],
)
def test_bot_reaches_a_wildcard_host_on_loopback(host: str, url: str) -> None:
    assert serving_url(host, 8080) == url
