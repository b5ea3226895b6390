"""Config: the demo venue loads; every bad key is named in the error."""

from __future__ import annotations

from pathlib import Path

import pytest

from exchange.config import ConfigError, compact_symbol, demo_config_path, load_venue

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


def test_markets_that_would_share_a_compact_symbol_are_refused_naming_both(tmp_path: Path) -> None:
    """AB_C and A_BC are both ABC where symbols have no separator (the Binance-style name)."""
    market = GOOD_MARKET.split("[markets.SOL_USDC]")[1]
    text = (
        "[assets.AB]\ndecimals = 6\n[assets.C]\ndecimals = 6\n[assets.A]\ndecimals = 6\n"
        "[assets.BC]\ndecimals = 6\n"
        + "[markets.AB_C]" + market.replace('"SOL"', '"AB"').replace('"USDC"', '"C"')
        + "[markets.A_BC]" + market.replace('"SOL"', '"A"').replace('"USDC"', '"BC"')
    )  # fmt: skip
    with pytest.raises(ConfigError, match=r"markets\.AB_C and markets\.A_BC are both ABC"):
        _load(tmp_path, text)


def test_compact_symbols_of_the_demo_venue_map_one_to_one() -> None:
    venue = load_venue()
    compact = {compact_symbol(s): s for s in venue.markets}
    assert compact["SOLUSDC"] == "SOL_USDC" and len(compact) == len(venue.markets)
