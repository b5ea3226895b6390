"""A Binance request's parameters, read as Binance reads them, refused with Binance's codes.

Parameters come from the query string and, on POST/PUT/DELETE, a form body
(``application/x-www-form-urlencoded``); a name may appear once over both (else -1101). Values
are percent-decoded UTF-8 (else -1100); an empty value is no value (-1102 where one is needed);
a name the route does not take is refused (-1104) rather than silently ignored, so a typo in a
bot cannot place an order it did not mean. Numbers are plain decimals, ``digits[.digits]``, no
sign or exponent (-1100); more digits than the asset has is -1111; off the market's grid or
outside its filters is the filter's -1013. Nothing is rounded.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from urllib.parse import unquote_plus

from exchange.domain.units import Grid, InvalidNumber
from exchange.web.errors import (
    BN_DUPLICATE_PARAM,
    BN_ILLEGAL_CHARS,
    BN_INVALID_DATA,
    BN_NOT_READ,
    BN_PRECISION,
    ApiError,
    Binance,
    invalid,
)

_DECIMAL = re.compile(r"[0-9]{1,20}(?:\.[0-9]{1,20})?")
_DECIMAL_RANGE = r"^([0-9]{1,20})(\.[0-9]{1,20})?$"
_INTEGER = re.compile(r"[0-9]{1,19}")
_MAX_PARAMS = 64


def _illegal(name: str, legal: str) -> ApiError:
    return invalid(
        f"Illegal characters found in parameter '{name}'; legal range is '{legal}'.", BN_ILLEGAL_CHARS
    )


def mandatory(name: str) -> ApiError:
    return invalid(f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")


def not_valid(name: str) -> ApiError:
    return invalid(f"Data sent for parameter '{name}' is not valid.", BN_INVALID_DATA)


def _pairs(raw: bytes) -> list[tuple[str, str]]:
    """``name=value&...`` as ``urllib.parse.parse_qsl`` reads it (``+`` is a space, ``%XX`` a
    byte, blank values kept), at a third of its cost: most parameters need no unquoting."""
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        raise invalid("Illegal characters found in a parameter.", BN_ILLEGAL_CHARS) from None
    parts = text.split("&") if text else []
    if len(parts) > _MAX_PARAMS:
        raise invalid("Too many parameters sent for this endpoint.", Binance(-1101, 400))
    pairs = [(name, value) for name, _, value in (part.partition("=") for part in parts if part)]
    if "%" in text or "+" in text:  # most requests need no unquoting at all
        pairs = [(_unquote(name), _unquote(value)) for name, value in pairs]
    return pairs


def _unquote(text: str) -> str:
    try:
        return unquote_plus(text, errors="strict")
    except UnicodeDecodeError:
        raise invalid("Illegal characters found in a parameter.", BN_ILLEGAL_CHARS) from None


class Params:
    """Name -> text of one request; ``signature`` is the auth's, never a route's parameter."""

    __slots__ = ("_values",)

    def __init__(self, query: bytes, body: bytes) -> None:
        pairs = _pairs(query) + _pairs(body)
        values = dict(pairs)
        if len(values) != len(pairs):
            raise invalid("Duplicate values for a parameter detected.", BN_DUPLICATE_PARAM)
        values.pop("signature", None)
        self._values = values

    def only(self, allowed: Collection[str]) -> Params:
        """Refuse a parameter the route does not take (the auth's are always allowed)."""
        if self._values.keys() <= _AUTH.union(allowed):
            return self
        extra = sorted(n for n in self._values if n not in allowed and n not in _AUTH)
        if extra:
            read, sent = len(self._values) - len(extra), len(self._values)
            raise invalid(f"Not all sent parameters were read; read '{read}' parameter(s) but was sent "
                          f"'{sent}' (unknown: {extra[0][:40]!r}).", BN_NOT_READ)  # fmt: skip
        return self

    def get(self, name: str) -> str | None:
        value = self._values.get(name)
        return value if value else None

    def need(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise mandatory(name)
        return value

    def has(self, name: str) -> bool:
        return self.get(name) is not None

    def integer(self, name: str, default: int | None, lo: int, hi: int) -> int | None:
        """A plain non-negative integer in [lo, hi] (-1100 if not digits, -1130 if out of range)."""
        text = self.get(name)
        if text is None:
            return default
        if not text.isascii() or not _INTEGER.fullmatch(text):
            raise _illegal(name, "^[0-9]{1,19}$")
        value = int(text)
        if not lo <= value <= hi:
            raise not_valid(name)
        return value

    def choice(
        self, name: str, choices: Collection[str], error: Binance, default: str | None = None
    ) -> str | None:
        text = self.get(name)
        if text is None:
            return default
        if text not in choices:
            raise invalid(f"{name} must be one of {', '.join(choices)}", error)
        return text

    def amount(self, name: str, grid: Grid, decimals: int) -> int | None:
        """A decimal on ``grid``; ``decimals`` is the asset's precision (more digits: -1111)."""
        text = self.get(name)
        if text is None:
            return None
        if not text.isascii() or not _DECIMAL.fullmatch(text):
            raise _illegal(name, _DECIMAL_RANGE)
        fraction = text.partition(".")[2].rstrip("0")
        if len(fraction) > decimals:
            raise invalid(f"{name}: precision is over the maximum defined for this asset", BN_PRECISION)
        try:
            return grid.parse(text)
        except InvalidNumber as exc:
            raise ApiError.of(exc.reason, f"{name}: {exc.message}") from None


#: What the signed-request check reads itself; every signed route takes them.
_AUTH = frozenset({"timestamp", "recvWindow"})
