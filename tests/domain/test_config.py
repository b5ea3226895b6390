"""Config: the demo venue loads; every bad key is named in the error."""

from __future__ import annotations

from pathlib import Path

import pytest

from exchange.config import ConfigError, demo_config_path, load_venue

GOOD_MARKET = """
[assets.USDC]
decimals = 6
[assets.SOL]
decimals = 9
[markets.SOL_USDC]
base = "SOL"
quote = "USDC"
tickSize = "0.01"
stepSize = "0.01"
minQty = "0.01"
minNotional = "1"
maxPrice = "1000000"
maxQty = "1000000"
makerFee = "0.001"
takerFee = "0.002"
"""


def _load(tmp_path: Path, text: str) -> None:
    path = tmp_path / "venue.toml"
    path.write_text(text)
    load_venue(path)


def test_demo_config_has_the_three_markets_with_exact_grids() -> None:
    venue = load_venue()
    assert {"SOL_USDC", "BTC_USDC", "ETH_USDC"} <= venue.markets.keys()
    sol = venue.markets["SOL_USDC"]
    assert sol.quote_per_tick_step == 100  # 0.01 USDC x 0.01 SOL = 0.0001 USDC = 100 atomic
    assert sol.base_per_step == 10_000_000
    assert demo_config_path().exists()


def test_good_config_loads(tmp_path: Path) -> None:
    _load(tmp_path, GOOD_MARKET)


@pytest.mark.parametrize(
    ("change", "names"),
    [
        (('tickSize = "0.01"', 'tickSize = "0.0000001"'), "markets.SOL_USDC.tickSize"),
        (('stepSize = "0.01"', 'stepSize = "0.0000000001"'), "markets.SOL_USDC.stepSize"),
        (('minQty = "0.01"', 'minQty = "0.015"'), "markets.SOL_USDC.minQty"),
        (('makerFee = "0.001"', 'makerFee = "1.5"'), "markets.SOL_USDC.makerFee"),
        (('takerFee = "0.002"', 'takerFee = "abc"'), "markets.SOL_USDC.takerFee"),
        (('base = "SOL"', 'base = "DOGE"'), "markets.SOL_USDC.base"),
        (('minNotional = "1"', 'minNotional = "0.0000001"'), "markets.SOL_USDC.minNotional"),
        (('maxPrice = "1000000"', 'maxPrice = "1000000000000000"'), "markets.SOL_USDC"),
        (('decimals = 9', 'decimals = 40'), "assets.SOL.decimals"),
        (('quote = "USDC"', 'quote = "USDC"\nextra = 1'), "extra"),
        (('takerFee = "0.002"', ''), "takerFee"),
    ],
)  # fmt: skip
def test_bad_config_names_the_key(tmp_path: Path, change: tuple[str, str], names: str) -> None:
    with pytest.raises(ConfigError, match=names.replace(".", r"\.")):
        _load(tmp_path, GOOD_MARKET.replace(*change))


def test_symbol_must_match_its_assets(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="symbol must be SOL_USDC"):
        _load(tmp_path, GOOD_MARKET.replace("[markets.SOL_USDC]", "[markets.SOLUSDC]"))


def test_missing_file_and_bad_toml_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        load_venue(tmp_path / "nope.toml")
    with pytest.raises(ConfigError):
        _load(tmp_path, "[assets\n")
