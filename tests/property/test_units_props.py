"""Properties of ``units.Grid``: exact decimal text <-> integer steps, nothing ever rounded."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exchange.config import load_venue
from exchange.domain.reasons import Reason
from exchange.domain.units import MAX_TEXT, Grid, InvalidNumber, format_scaled

VENUE = load_venue()
REAL_GRIDS = [g for m in VENUE.markets.values() for g in (m.price, m.qty)] + [
    a.grid() for a in VENUE.assets.values()
]


@st.composite
def grids(draw: st.DrawFn) -> Grid:
    """The venue's own grids, or any step ``units / 10**decimals`` with a maximum."""
    if draw(st.booleans()):
        return draw(st.sampled_from(REAL_GRIDS))
    units = draw(st.sampled_from((1, 1, 1, 2, 5, 25, 10, 100, 7)))
    decimals = draw(st.integers(0, 12))
    max_steps = draw(st.integers(1, 10**15))
    reason = draw(st.sampled_from((Reason.INVALID_PRICE, Reason.INVALID_QUANTITY)))
    return Grid(units, decimals, max_steps, reason, "value")


@st.composite
def grid_and_steps(draw: st.DrawFn) -> tuple[Grid, int]:
    grid = draw(grids())
    return grid, draw(st.integers(1, grid.max_steps))


def _value(grid: Grid, steps: int) -> Decimal:
    return Decimal(steps * grid.units).scaleb(-grid.decimals)


def _reject(grid: Grid, text: object) -> None:
    with pytest.raises(InvalidNumber) as caught:
        grid.parse(text)  # type: ignore[arg-type]
    assert caught.value.reason is grid.reason
    assert isinstance(caught.value, ValueError) and caught.value.message


@given(grid_and_steps())
def test_parse_of_format_is_identity_in_range(gs: tuple[Grid, int]) -> None:
    grid, n = gs
    text = grid.format(n)
    assert grid.parse(text) == n
    assert Decimal(text) == _value(grid, n), "the text is exactly n steps"
    if grid.decimals:
        assert len(text.partition(".")[2]) == grid.decimals, "padded to the grid's decimals"


@st.composite
def on_grid_texts(draw: st.DrawFn) -> tuple[Grid, int, str]:
    """On-grid text in any plain spelling: canonical, trimmed, extra or leading zeros."""
    grid, n = draw(grid_and_steps())
    text = grid.format(n)
    spelling = draw(st.sampled_from(("canonical", "trimmed", "extra zeros", "leading zeros")))
    if spelling == "trimmed" and "." in text:
        text = text.rstrip("0").rstrip(".")
    elif spelling == "extra zeros":
        text = (text if "." in text else text + ".") + "0" * draw(st.integers(1, 3))
    elif spelling == "leading zeros":
        text = "0" * draw(st.integers(1, 3)) + text
    return grid, n, text


@given(on_grid_texts())
def test_format_of_parse_round_trips_on_grid_text(case: tuple[Grid, int, str]) -> None:
    grid, n, text = case
    steps = grid.parse(text)
    assert steps == n
    assert grid.format(steps) == grid.format(n)
    assert Decimal(grid.format(steps)) == Decimal(text)
    canonical = grid.format(n)
    assert grid.format(grid.parse(canonical)) == canonical


@given(grids(), st.integers(1, 10**6))
def test_above_the_maximum_is_rejected(grid: Grid, over: int) -> None:
    n = grid.max_steps + over
    text = grid.format(n)
    if len(text) > MAX_TEXT:
        return
    _reject(grid, text)
    assert grid.parse(text, check_max=False) == n


@given(grid_and_steps(), st.integers(1, 9))
def test_one_more_decimal_digit_is_rejected(gs: tuple[Grid, int], digit: int) -> None:
    grid, n = gs
    text = grid.format(n)
    _reject(grid, (text if "." in text else text + ".") + str(digit))


@given(grids(), st.integers(1, 10**12))
def test_values_between_steps_are_rejected(grid: Grid, k: int) -> None:
    """With a step of several units (0.25, 5...), a value on the decimals but off the step."""
    if k % grid.units == 0:
        k += 1
    if k % grid.units == 0:  # units == 1: every value with the grid's decimals is on it
        return
    _reject(grid, format_scaled(k, grid.decimals))


@given(grids(), st.integers(0, 4), st.integers(0, 4))
def test_zero_is_rejected(grid: Grid, whole: int, frac: int) -> None:
    _reject(grid, "0" * (whole + 1) + ("." + "0" * frac if frac else ""))


JUNK = (
    "", " ", ".", ".5", "5.", "1.2.3", "1,000", "1_000", "0x10", "0b1", "1/2", "abc", "--1",
    "NaN", "nan", "-NaN", "sNaN", "Infinity", "-Infinity", "+Infinity", "inf", "-inf", "∞",
    "1e5", "1E5", "1e-2", "2.5e+3", "+1", "-1", "\u22121", "\u00a01", "1\n", "\t1", " 1", "1 ", "1 0",
    "\u0661\u0662", "\uff11\uff12", "\u0967", "1" * (MAX_TEXT + 1), "0" * MAX_TEXT + "1",
)  # fmt: skip


@given(grids(), st.sampled_from(JUNK))
def test_text_that_is_not_plain_decimal_is_rejected(grid: Grid, junk: str) -> None:
    _reject(grid, junk)


@st.composite
def spoiled(draw: st.DrawFn) -> tuple[Grid, str]:
    """Valid text made invalid: a sign, an exponent, whitespace, or a special value."""
    grid, n = draw(grid_and_steps())
    text = grid.format(n)
    how = draw(st.sampled_from(("sign", "exponent", "space", "special")))
    if how == "sign":
        text = draw(st.sampled_from("+-")) + text
    elif how == "exponent":
        text += draw(st.sampled_from(("e", "E"))) + draw(st.sampled_from(("", "+", "-"))) + "0"
    elif how == "space":
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(st.sampled_from((" ", "\t", "\n", "\u00a0", "\u2009"))) + text[at:]
    else:
        text = draw(st.sampled_from(("NaN", "Infinity", "-Infinity", "nan", "inf", "snan")))
    return grid, text


@given(spoiled())
def test_signs_exponents_spaces_and_specials_are_rejected(case: tuple[Grid, str]) -> None:
    grid, text = case
    _reject(grid, text)


@given(grids(), st.one_of(st.integers(), st.floats(), st.none(), st.binary(max_size=4)))
def test_non_text_is_rejected(grid: Grid, value: object) -> None:
    _reject(grid, value)


@given(st.integers(-(10**40), 10**40), st.integers(0, 30))
def test_format_scaled_writes_the_exact_decimal(value: int, decimals: int) -> None:
    exact = Decimal((value < 0, tuple(int(c) for c in str(abs(value))), -decimals))  # no rounding
    assert format_scaled(value, decimals) == f"{exact:f}"
