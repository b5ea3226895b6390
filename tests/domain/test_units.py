"""units: decimal text <-> integer grid units, exact, never rounded."""

from __future__ import annotations

import pytest

from exchange.domain.reasons import Reason
from exchange.domain.units import Grid, InvalidNumber, format_scaled, split_decimal

PRICE = Grid.from_text("0.01", "1000000", Reason.INVALID_PRICE, "price")
COARSE = Grid.from_text("0.5", "1000", Reason.INVALID_QUANTITY, "quantity")


@pytest.mark.parametrize(
    ("text", "ticks"),
    [("101.25", 10125), ("101.2", 10120), ("101.250000", 10125), ("0.01", 1), ("1000000", 100000000),
     ("007.00", 700)],
)  # fmt: skip
def test_on_grid_text_parses_to_exact_ticks(text: str, ticks: int) -> None:
    assert PRICE.parse(text) == ticks


@pytest.mark.parametrize(
    "text",
    ["101.255", "0.001", "0.0000000000000000001", "100.009"],
)
def test_off_grid_price_is_rejected_not_rounded(text: str) -> None:
    with pytest.raises(InvalidNumber) as err:
        PRICE.parse(text)
    assert err.value.reason is Reason.INVALID_PRICE
    assert "multiple of 0.01" in err.value.message


@pytest.mark.parametrize(
    "text",
    ["", " 1", "1 ", "-1", "+1", "1e3", "1E-2", "0x10", "NaN", "nan", "Infinity", "inf", "1,000", ".5", "5.",
     "1_000", "\uff11\uff12", "1.2.3", "--1", "0", "0.00", "1" * 41],
)  # fmt: skip
def test_malformed_zero_or_exotic_text_is_rejected(text: str) -> None:
    with pytest.raises(InvalidNumber) as err:
        PRICE.parse(text)
    assert err.value.reason is Reason.INVALID_PRICE


def test_value_above_maximum_is_rejected() -> None:
    with pytest.raises(InvalidNumber, match="above the maximum"):
        PRICE.parse("1000000.01")


def test_non_string_is_rejected() -> None:
    with pytest.raises(InvalidNumber):
        PRICE.parse(1.5)  # type: ignore[arg-type]


def test_coarse_step_accepts_multiples_only() -> None:
    assert COARSE.parse("2.5") == 5
    with pytest.raises(InvalidNumber):
        COARSE.parse("2.25")


def test_format_pads_to_grid_decimals() -> None:
    assert PRICE.format(10120) == "101.20"
    assert COARSE.format(5) == "2.5"
    assert format_scaled(5, 6) == "0.000005"
    assert format_scaled(-1500, 3) == "-1.500"
    assert format_scaled(42, 0) == "42"


def test_sum_of_tenths_is_exact_unlike_floats() -> None:
    # 0.1 + 0.2 != 0.3 in floats; in ticks it is exact.
    assert PRICE.parse("0.10") + PRICE.parse("0.20") == PRICE.parse("0.30")


def test_split_decimal_refuses_long_text() -> None:
    assert split_decimal("12.340") == (12340, 3)
    assert split_decimal("9" * 41) is None
