"""Assets and markets as the engine sees them: every amount an exact integer.

Units of a market ``BASE_QUOTE``:
- price in ticks (``tickSize``), quantity in steps (``stepSize``);
- base amount = ``qty * base_per_step`` base atomic units;
- quote amount = ``price * qty * quote_per_tick_step`` quote atomic units.
Both multipliers must be whole numbers, which ``Market.build`` checks: that is what makes
price x quantity exact in the quote asset's atomic unit.
"""

from __future__ import annotations

from typing import Final

from exchange.domain.reasons import Reason
from exchange.domain.units import Grid, format_scaled, fraction_of, split_decimal

#: Every balance, hold and notional stays below this, so it fits a signed 64-bit integer.
MAX_AMOUNT: Final = 2**62


class ConfigError(ValueError):
    """A market or asset definition that cannot be traded exactly; names the bad key."""


class Asset:
    __slots__ = ("name", "decimals")

    def __init__(self, name: str, decimals: int) -> None:
        if not name.isalnum() or not name.isupper():
            raise ConfigError(f"assets.{name}: name must be upper-case letters and digits")
        if not 0 <= decimals <= 18:
            raise ConfigError(f"assets.{name}.decimals must be between 0 and 18, not {decimals}")
        self.name = name
        self.decimals = decimals

    def format(self, atomic: int) -> str:
        return format_scaled(atomic, self.decimals)

    def grid(self, label: str = "amount") -> Grid:
        return Grid(1, self.decimals, MAX_AMOUNT, Reason.INVALID_QUANTITY, label)


class FeeRate:
    """A fee as an exact fraction; ``fee(x) = ceil(x * num / den)``."""

    __slots__ = ("num", "den", "text")

    def __init__(self, text: str, key: str) -> None:
        frac = fraction_of(text)
        if frac is None or frac[0] >= frac[1]:
            raise ConfigError(f"{key} must be a decimal fraction in [0, 1), not {text!r}")
        self.num, self.den = frac
        self.text = text

    def fee(self, received: int) -> int:
        return -((-received * self.num) // self.den)


class Market:
    __slots__ = (
        "symbol", "base", "quote", "price", "qty", "min_qty", "min_notional",
        "maker_fee", "taker_fee", "base_per_step", "quote_per_tick_step", "status",
    )  # fmt: skip

    def __init__(
        self,
        symbol: str,
        base: Asset,
        quote: Asset,
        price: Grid,
        qty: Grid,
        min_qty: int,
        min_notional: int,
        maker_fee: FeeRate,
        taker_fee: FeeRate,
        status: str = "TRADING",
    ) -> None:
        self.symbol = symbol
        self.base = base
        self.quote = quote
        self.price = price
        self.qty = qty
        self.min_qty = min_qty
        self.min_notional = min_notional
        self.maker_fee = maker_fee
        self.taker_fee = taker_fee
        self.status = status
        self.base_per_step = _whole(qty.units, qty.decimals, base.decimals, f"markets.{symbol}.stepSize")
        self.quote_per_tick_step = _whole(
            price.units * qty.units,
            price.decimals + qty.decimals,
            quote.decimals,
            f"markets.{symbol}.tickSize",
        )
        if self.notional(price.max_steps, qty.max_steps) >= MAX_AMOUNT:
            raise ConfigError(f"markets.{symbol}: maxPrice x maxQty does not fit 62 bits")

    @classmethod
    def build(cls, symbol: str, base: Asset, quote: Asset, spec: dict[str, str]) -> Market:
        """From the config's text fields; every problem is a ConfigError naming its key."""
        key = f"markets.{symbol}"
        try:
            price = Grid.from_text(spec["tickSize"], spec["maxPrice"], Reason.INVALID_PRICE, "price")
            qty = Grid.from_text(spec["stepSize"], spec["maxQty"], Reason.INVALID_QUANTITY, "quantity")
        except ValueError as exc:
            raise ConfigError(f"{key}: {exc}") from None
        min_qty = grid_value(qty, spec["minQty"], f"{key}.minQty")
        notional = split_decimal(spec["minNotional"])
        if notional is None:
            raise ConfigError(f"{key}.minNotional must be a decimal, not {spec['minNotional']!r}")
        digits, exp = notional
        if exp > quote.decimals:
            raise ConfigError(f"{key}.minNotional has more decimals than {quote.name}")
        min_notional = digits * 10 ** (quote.decimals - exp)
        return cls(
            symbol, base, quote, price, qty, min_qty, min_notional,
            FeeRate(spec["makerFee"], f"{key}.makerFee"),
            FeeRate(spec["takerFee"], f"{key}.takerFee"),
            spec.get("status", "TRADING"),
        )  # fmt: skip

    def notional(self, price: int, qty: int) -> int:
        """Quote atomic units of ``qty`` steps at ``price`` ticks."""
        return price * qty * self.quote_per_tick_step

    def base_amount(self, qty: int) -> int:
        return qty * self.base_per_step


def _whole(units: int, decimals: int, asset_decimals: int, key: str) -> int:
    """``units / 10**decimals`` in atomic units of an asset with ``asset_decimals``."""
    scaled: int
    rest: int
    if decimals > asset_decimals:
        scaled, rest = divmod(units, 10 ** (decimals - asset_decimals))
    else:
        scaled, rest = units * 10 ** (asset_decimals - decimals), 0
    if rest or scaled == 0:
        raise ConfigError(f"{key} is finer than the asset's atomic unit: amounts would not be exact")
    return scaled


def grid_value(grid: Grid, text: str, key: str) -> int:
    """``text`` on ``grid``, or a ConfigError naming the config ``key``."""
    try:
        return grid.parse(text)
    except ValueError as exc:
        raise ConfigError(f"{key}: {exc}") from None
