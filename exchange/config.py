"""Venue configuration: assets and markets from a TOML file, checked into domain objects.

Every problem is a ``ConfigError`` whose message names the key, e.g.
``markets.SOL_USDC.tickSize``, so an operator can fix the file without reading code.
"""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

import msgspec

from exchange.domain.markets import Asset, ConfigError, Market, grid_value
from exchange.limits import Limits, load_limits, markdown_table

__all__ = [
    "AssetConfig", "ConfigError", "Limits", "MarketConfig", "Settings", "Venue", "demo_config_path",
    "limits_table", "load_venue", "read_limits",
]  # fmt: skip


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    """How one process runs; built by the CLI (``python -m exchange serve --help``)."""

    host: str = "127.0.0.1"
    port: int = 8080
    config: str | None = None
    data_dir: str = "data"
    fsync: str = "batch"
    #: False only for benchmarks that measure what the journal costs: nothing survives a restart.
    journal: bool = True
    bus: str = "memory"
    role: str = "all"
    #: Redis bus: seconds a gateway waits for the engine's answer (then 503 ENGINE_TIMEOUT),
    #: and the prefix of its keys and channels (clusters sharing one Redis use different ones).
    bus_timeout: float = 5.0
    bus_prefix: str = "ex"
    demo: bool = True
    bot: bool = True
    queue_size: int = 10_000
    #: A snapshot every this many commands or seconds, whichever comes first; keep this many.
    snapshot_every: int = 100_000
    snapshot_seconds: float = 300.0
    snapshots_kept: int = 2
    #: Closed orders and fills per user kept in memory; older ones are read from SQLite.
    recent_history: int = 1000
    #: Usernames allowed to onramp without limits (and at all outside demo mode).
    admins: tuple[str, ...] = ()
    #: Every limit a client can meet (exchange/limits.py): the CLI's options, ``[limits]`` in the file.
    limits: Limits = msgspec.field(default_factory=Limits)
    #: WebSocket: the bytes aiohttp buffers for a connection before its writer waits.
    ws_writer_limit: int = 256 * 1024
    #: Kernel send buffer per WebSocket (0: the kernel's autotuning, up to tcp_wmem's 4 MiB).
    #: A cap bounds memory per connection and lets a stalled reader be noticed sooner.
    ws_sndbuf: int = 0


class AssetConfig(msgspec.Struct, forbid_unknown_fields=True, rename="camel", frozen=True):
    decimals: int
    onramp_limit: str | None = None


class MarketConfig(msgspec.Struct, forbid_unknown_fields=True, rename="camel", frozen=True):
    base: str
    quote: str
    tick_size: str
    step_size: str
    min_qty: str
    min_notional: str
    max_price: str
    max_qty: str
    maker_fee: str
    taker_fee: str
    status: str = "TRADING"


class VenueConfig(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    assets: dict[str, AssetConfig]
    markets: dict[str, MarketConfig]
    #: The liquidity bot's section, checked by exchange/demo/config.py (the venue ignores it).
    demo: dict[str, object] | None = None
    #: The limits (exchange/limits.py), checked by ``read_limits`` (the venue ignores them).
    limits: dict[str, object] | None = None


class Venue(msgspec.Struct, frozen=True):
    """What the engine and the gateway need: domain assets and markets, onramp limits."""

    assets: dict[str, Asset]
    markets: dict[str, Market]
    onramp_limits: dict[str, int]

    def onramp_caps(self) -> dict[str, str | None]:
        """The self-service onramp cap per asset, as decimal text without atomic digits
        (``"1000000"``, not ``"1000000.000000"``); None: no cap."""
        out: dict[str, str | None] = {}
        for name, asset in self.assets.items():
            limit = self.onramp_limits.get(name)
            text = asset.format(limit) if limit is not None else None
            out[name] = text.rstrip("0").rstrip(".") if text is not None and "." in text else text
        return out


def demo_config_path() -> Path:
    return Path(str(resources.files("exchange.demo") / "demo.toml"))


def read_toml(path: Path | str | None) -> dict[str, Any]:
    """The venue file (the shipped demo config by default), parsed; a ConfigError naming it."""
    path = Path(path) if path is not None else demo_config_path()
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: {exc}") from None


def load_venue(path: Path | str | None = None) -> Venue:
    path = Path(path) if path is not None else demo_config_path()
    raw = read_toml(path)
    try:
        config = msgspec.convert(raw, VenueConfig)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    return build_venue(config)


def read_limits(path: Path | str | None, overrides: dict[str, Any]) -> Limits:
    """The limits: the file's ``[limits]`` table (the demo config's by default), then ``overrides``."""
    shown = str(path) if path is not None else str(demo_config_path())
    return load_limits(read_toml(path).get("limits"), overrides, source=shown)


def limits_table(limits: Limits | None = None, path: Path | str | None = None) -> str:
    """The Limits table in markdown: docs/API.md's is the defaults with the demo config's onramp caps."""
    venue = load_venue(path)
    caps = ", ".join(f"{name} {cap}" for name, cap in venue.onramp_caps().items() if cap is not None)
    return markdown_table(limits or Limits(), f"the asset's `onrampLimit` in the venue TOML: {caps}")


def build_venue(config: VenueConfig) -> Venue:
    if not config.markets:
        raise ConfigError("markets: at least one market is needed")
    assets = {name: Asset(name, a.decimals) for name, a in config.assets.items()}
    limits = {
        name: _limit(assets[name], a.onramp_limit)
        for name, a in config.assets.items()
        if a.onramp_limit is not None
    }
    markets = {symbol: _market(symbol, spec, assets) for symbol, spec in config.markets.items()}
    _check_compact_symbols(markets)
    return Venue(assets=assets, markets=markets, onramp_limits=limits)


def compact_symbol(symbol: str) -> str:
    """A market's name where symbols have no separator, as on Binance: ``SOL_USDC`` -> ``SOLUSDC``
    (upper case; stream names use it in lower case). One to one over a loaded venue."""
    return symbol.replace("_", "").upper()


def _check_compact_symbols(markets: dict[str, Market]) -> None:
    """Two markets whose names differ only by where the separator is (``AB_C`` and ``A_BC``)
    would be one symbol without it: refused, naming both."""
    seen: dict[str, str] = {}
    for symbol in markets:
        compact = compact_symbol(symbol)
        if compact in seen:
            raise ConfigError(f"markets.{seen[compact]} and markets.{symbol} are both {compact} without "
                              "the '_' (as Binance-style clients name markets): rename an asset")  # fmt: skip
        seen[compact] = symbol


def _limit(asset: Asset, text: str) -> int:
    return grid_value(asset.grid("limit"), text, f"assets.{asset.name}.onrampLimit")


def _market(symbol: str, spec: MarketConfig, assets: dict[str, Asset]) -> Market:
    for key in ("base", "quote"):
        name = getattr(spec, key)
        if name not in assets:
            raise ConfigError(f"markets.{symbol}.{key}: unknown asset {name!r}")
    if symbol != f"{spec.base}_{spec.quote}":
        raise ConfigError(f"markets.{symbol}: symbol must be {spec.base}_{spec.quote}")
    fields = msgspec.to_builtins(spec)
    return Market.build(symbol, assets[spec.base], assets[spec.quote], fields)
