"""Fuzz target: exchange/domain/units.py, the decimal text every amount from outside goes through.

Input layout (atheris' FuzzedDataProvider takes integers from the end, bytes from the front):
the text first, then a mode byte, the grid's decimals and its step (``units``), read backwards.
Properties, beyond "does not crash":

- a text is accepted exactly when an independent reading (``Fraction``, a character scan) says
  it is plain decimal, at most ``MAX_TEXT`` long, > 0, a whole number of steps and <= the
  maximum; the steps are that number;
- what is accepted formats back to an equal decimal, and parses back to the same steps;
- a refusal is the module's ``InvalidNumber`` carrying the grid's reason, nothing else.

Run through tests/fuzz/run.py (``make fuzz``); alone: ``python tests/fuzz/fuzz_units.py -help=1``.
"""

from __future__ import annotations

import re
import sys
from fractions import Fraction

import atheris

with atheris.instrument_imports(include=["exchange"]):
    from exchange.domain.reasons import Reason
    from exchange.domain.units import MAX_TEXT, Grid, InvalidNumber, format_scaled

# Near-valid numbers come quicker from digits and a point than from arbitrary Unicode; the rest
# are the spellings the rules refuse (sign, exponent, space, separators, non-ASCII digits).
ALPHABET = "0123456789" * 3 + "." * 4 + "-+eE _,\u0660\uff11\u00b2x"
MAX_STEPS = [2**62, 10**6, 1]


def plain_value(text: str) -> Fraction | None:
    """The oracle: ``digits[.digits]`` in ASCII, read exactly; None for anything else."""
    whole, point, frac = text.partition(".")
    if not whole or (point and not frac) or len(text) > MAX_TEXT:
        return None
    if not all(c in "0123456789" for c in whole + frac):
        return None
    return Fraction(int(whole + frac), 10 ** len(frac))


def check_text(grid: Grid, text: str) -> None:
    value, step = plain_value(text), Fraction(grid.units, 10**grid.decimals)
    try:
        steps = grid.parse(text)
    except InvalidNumber as exc:
        assert exc.reason is grid.reason, exc.reason
        accept = value is not None and value > 0 and (value / step).denominator == 1
        assert not (accept and value / step <= grid.max_steps), f"refused {text!r}: {exc.message}"
        return
    assert value is not None and type(steps) is int, (text, steps)
    assert 1 <= steps <= grid.max_steps and value == steps * step, (text, steps)
    shown = grid.format(steps)
    assert plain_value(shown) == value, (text, shown)
    assert grid.parse(shown) == steps, (text, shown)


def check_steps(grid: Grid, steps: int) -> None:
    shown = grid.format(steps)
    assert plain_value(shown) == steps * Fraction(grid.units, 10**grid.decimals), (steps, shown)
    assert grid.parse(shown) == steps, (steps, shown)


def check_format(value: int, decimals: int) -> None:
    shown = format_scaled(value, decimals)
    places = rf"\.[0-9]{{{decimals}}}" if decimals else ""
    assert re.fullmatch(rf"-?[0-9]+{places}", shown), (value, decimals, shown)
    assert Fraction(shown) == Fraction(value, 10**decimals), (value, decimals, shown)


def test_one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    mode = fdp.ConsumeIntInRange(0, 4)
    decimals = fdp.ConsumeIntInRange(0, 18)
    units = fdp.ConsumeIntInRange(1, 1000)
    # Within the engine's 62 bits (markets.py: MAX_AMOUNT), as every configured grid is.
    top = min(fdp.PickValueInList(MAX_STEPS), 2**62 // units)
    grid = Grid(units, decimals, top, Reason.INVALID_PRICE, "price")
    if mode == 0:  # the bytes as a client's text would arrive: UTF-8, stray bytes kept
        check_text(grid, fdp.ConsumeBytes(fdp.remaining_bytes()).decode("utf-8", "surrogateescape"))
    elif mode == 1:
        check_text(grid, "".join(ALPHABET[b % len(ALPHABET)] for b in fdp.ConsumeBytes(MAX_TEXT + 8)))
    elif mode == 2:
        check_text(grid, fdp.ConsumeUnicode(fdp.remaining_bytes()))
    elif mode == 3:
        check_steps(grid, fdp.ConsumeIntInRange(1, grid.max_steps))
    else:
        check_format(fdp.ConsumeInt(16), decimals)
        try:  # not text at all (a JSON number decoded, bytes): refused the same way
            grid.parse(fdp.PickValueInList([None, 1, 1.5, b"1", ["1"]]))
        except InvalidNumber as exc:
            assert exc.reason is grid.reason
        else:
            raise AssertionError("a non-str was accepted")


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
