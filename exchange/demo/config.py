"""The demo liquidity bot's settings: the ``[demo]`` section of the venue TOML.

Two steps, as for the venue itself: ``parse_bot_config`` checks the shape (types, unknown keys),
``resolve`` puts every price and quantity on its market's grid. Every problem is a
``ConfigError`` naming its key (``demo.markets.SOL_USDC.mid``), so an operator fixes the file
without reading code. Prices and sizes stay decimal text in the file and become exact integers
(ticks, steps, atomic units) here; only the random walk's rates are floats.
"""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import msgspec

from exchange.config import ConfigError, read_toml
from exchange.domain.markets import Asset, Market, grid_value

T = TypeVar("T")

__all__ = ["BotConfig", "MarketPlan", "MarketSpec", "load_bot_config", "parse_bot_config", "resolve"]


class MarketSpec(msgspec.Struct, forbid_unknown_fields=True, rename="camel", frozen=True):
    """One market the bot quotes (decimal text, as in the file)."""

    #: Where the mid starts and what its random walk reverts to.
    mid: str
    #: Size of the nearest level, in base; deeper levels grow (see demo_quotes.ladder).
    size: str
    #: The largest taker order, in base.
    taker_size: str
    #: Bids and asks on each side.
    levels: int = 5
    #: Ticks between two levels, and at least half of it between the mid and the first level.
    spacing: int = 5
    #: Relative volatility of the mid per square root of a second.
    volatility: float = 0.001
    #: Ticks the whole ladder moves against a fully one-sided inventory.
    skew_ticks: int = 10


class BotConfig(msgspec.Struct, forbid_unknown_fields=True, rename="camel", frozen=True):
    """The ``[demo]`` section."""

    markets: dict[str, MarketSpec]
    #: The most either bot user ever holds of each asset (available + locked), decimal text.
    inventory: dict[str, str]
    maker: str = "demo-maker"
    taker: str = "demo-taker"
    #: Seconds between two requotes of the maker (the mids move at the same pace).
    requote_seconds: float = 0.5
    #: Taker orders per second and per market, Poisson.
    taker_rate: float = 3.0
    #: Per second: how hard each mid is pulled back to its start (Ornstein-Uhlenbeck).
    mean_reversion: float = 0.005
    #: Onramp up to this share of the inventory; the rest is headroom for what trades bring in.
    fund_ratio: float = 0.5
    #: A fixed seed makes the walk and the takers repeatable (tests); none: random.
    seed: int | None = None


class MarketPlan(msgspec.Struct, frozen=True):
    """One market's settings on its grid: ticks, steps, and the domain market for arithmetic."""

    market: Market
    mid: int
    size: int
    taker_size: int
    levels: int
    spacing: int
    volatility: float
    skew_ticks: int


def load_bot_config(path: Path | str | None = None) -> BotConfig | None:
    """The ``[demo]`` section of the venue file (the shipped demo config by default), or None."""
    section = read_toml(path).get("demo")
    return None if section is None else parse_bot_config(section)


def parse_bot_config(section: object) -> BotConfig:
    # msgspec names a place as `$.levels` but a dict entry only as `[...]`: each market and
    # inventory entry is checked on its own first, so the error names it (demo.markets.X.mid).
    if isinstance(section, dict):
        for symbol, spec in _table(section, "markets").items():
            _convert(spec, MarketSpec, f"demo.markets.{symbol}")
        for asset, amount in _table(section, "inventory").items():
            _convert(amount, str, f"demo.inventory.{asset}")
    config = _convert(section, BotConfig, "demo")
    _check_numbers(config)
    return config


def _table(section: dict[str, object], key: str) -> dict[str, object]:
    table = section.get(key)
    return table if isinstance(table, dict) else {}


def _convert(raw: object, kind: type[T], where: str) -> T:
    try:
        return msgspec.convert(raw, kind)
    except msgspec.ValidationError as exc:
        message = str(exc)
        if "`$" in message:
            raise ConfigError(message.replace("`$", f"`{where}")) from None
        raise ConfigError(f"{where}: {message}") from None


def _check_numbers(config: BotConfig) -> None:
    positive = {"requoteSeconds": config.requote_seconds, "takerRate": config.taker_rate}
    for key, value in positive.items():
        if not value > 0:
            raise ConfigError(f"demo.{key} must be above 0, not {value}")
    if not 0 <= config.mean_reversion < 1:
        raise ConfigError(f"demo.meanReversion must be in [0, 1), not {config.mean_reversion}")
    if not 0 < config.fund_ratio <= 1:
        raise ConfigError(f"demo.fundRatio must be in (0, 1], not {config.fund_ratio}")
    if config.maker == config.taker:
        raise ConfigError("demo.taker must differ from demo.maker")
    for symbol, spec in config.markets.items():
        _check_market(f"demo.markets.{symbol}", spec)


def _check_market(key: str, spec: MarketSpec) -> None:
    if not 1 <= spec.levels <= 50:
        raise ConfigError(f"{key}.levels must be between 1 and 50, not {spec.levels}")
    if spec.spacing < 1:
        raise ConfigError(f"{key}.spacing must be at least 1 tick, not {spec.spacing}")
    if not 0 <= spec.volatility < 1:
        raise ConfigError(f"{key}.volatility must be in [0, 1), not {spec.volatility}")
    if spec.skew_ticks < 0:
        raise ConfigError(f"{key}.skewTicks must not be negative, not {spec.skew_ticks}")


def resolve(config: BotConfig, markets: dict[str, Market]) -> dict[str, MarketPlan]:
    """Every configured market on its grid; a market or asset the venue lacks is an error."""
    plans = {}
    for symbol, spec in config.markets.items():
        market = markets.get(symbol)
        if market is None:
            raise ConfigError(f"demo.markets.{symbol}: the venue has no such market")
        for asset in (market.base, market.quote):
            if asset.name not in config.inventory:
                raise ConfigError(f"demo.inventory.{asset.name}: missing (market {symbol} trades it)")
        plans[symbol] = _plan(symbol, spec, market)
    return plans


def inventory_units(config: BotConfig, decimals: dict[str, int]) -> dict[str, int]:
    """``demo.inventory`` in atomic units of each asset."""
    out = {}
    for name, text in config.inventory.items():
        if name not in decimals:
            raise ConfigError(f"demo.inventory.{name}: the venue has no such asset")
        out[name] = grid_value(Asset(name, decimals[name]).grid("inventory"), text, f"demo.inventory.{name}")
    return out


def _plan(symbol: str, spec: MarketSpec, m: Market) -> MarketPlan:
    key = f"demo.markets.{symbol}"
    mid = grid_value(m.price, spec.mid, f"{key}.mid")
    size, taker = (
        grid_value(m.qty, spec.size, f"{key}.size"),
        grid_value(m.qty, spec.taker_size, f"{key}.takerSize"),
    )
    if size < m.min_qty or m.notional(mid, size) < m.min_notional:
        raise ConfigError(f"{key}.size: below the market's minQty or minNotional at the mid")
    if mid <= spec.levels * spec.spacing:
        raise ConfigError(f"{key}.mid: too close to zero for {spec.levels} levels {spec.spacing} ticks apart")
    return MarketPlan(m, mid, size, taker, spec.levels, spec.spacing, spec.volatility, spec.skew_ticks)
