"""Wire DTOs for request bodies: strict msgspec Structs, decoded once per request.

Unknown fields are refused (a ``userId`` in a body is an error, never trusted). Amounts are
kept as raw JSON so a decimal string and a JSON number are both read from their exact text,
then placed on the market's grid by ``units``; nothing is rounded.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, TypeVar

import msgspec

from exchange.domain.commands import (
    CLIENT_ORDER_ID_MAX,
    CLIENT_ORDER_ID_PATTERN,
    REFERENCE_MAX,
    REFERENCE_PATTERN,
    TEXT_MAX,
    TEXT_PATTERN,
)
from exchange.domain.reasons import Reason
from exchange.domain.units import Grid, InvalidNumber
from exchange.web.errors import ApiError, invalid

T = TypeVar("T")
#: A decimal as a JSON string or number, kept as its exact text; null counts as absent.
Amount = Annotated[
    msgspec.Raw,
    msgspec.Meta(
        description="a decimal string (or JSON number) on the market's grid; null counts as absent",
        extra_json_schema={
            "anyOf": [
                {"type": "string", "pattern": r"^[0-9]+(\.[0-9]+)?$", "maxLength": 40},
                {"type": "number", "exclusiveMinimum": 0},
                {"type": "null"},
            ],
            "examples": ["101.25"],
        },
    ),
]
#: Every id the API writes (orders, withdrawals): a decimal string of at most 19 digits.
ID_PATTERN = "^[0-9]{1,19}$"
#: An order id: a decimal string or a JSON number; anything else finds no order (404).
OrderIdText = Annotated[
    msgspec.Raw,
    msgspec.Meta(
        description="a decimal string (or JSON number); anything else is ORDER_NOT_FOUND",
        extra_json_schema={
            "anyOf": [{"type": "string", "pattern": ID_PATTERN}, {"type": "integer", "minimum": 1},
                      {"type": "null"}],
            "examples": ["7"],
        },
    ),
]  # fmt: skip
#: Absent: the field was not sent (UNSET, which the OpenAPI document leaves out of ``required``).
Absent = msgspec.UnsetType
ABSENT = msgspec.UNSET
ClientOrderId = Annotated[
    str, msgspec.Meta(min_length=1, max_length=CLIENT_ORDER_ID_MAX, pattern=CLIENT_ORDER_ID_PATTERN)
]
#: Funding texts: the domain's definitions (commands.py), which its rules check again.
Reference = Annotated[
    str, msgspec.Meta(min_length=1, max_length=REFERENCE_MAX, pattern=REFERENCE_PATTERN,
                      description="the external transfer's id: printable ASCII", examples=["0xabc123"])
]  # fmt: skip
FundingText = Annotated[
    str, msgspec.Meta(min_length=1, max_length=TEXT_MAX, pattern=TEXT_PATTERN, description="printable ASCII")
]
Username = Annotated[str, msgspec.Meta(min_length=3, max_length=32, pattern=r"^[A-Za-z0-9_.-]+$")]
Password = Annotated[str, msgspec.Meta(min_length=8, max_length=128)]
_NUMBER = re.compile(rb"-?[0-9][0-9.eE+-]*\Z")


class Body(msgspec.Struct, forbid_unknown_fields=True, rename="camel", frozen=True):
    pass


class PlaceOrderBody(Body, frozen=True):
    side: Literal["buy", "sell", "BUY", "SELL"]
    type: Literal["limit", "market", "LIMIT", "MARKET"]
    symbol: str | None = None
    market: str | None = None
    price: Amount | Absent = ABSENT
    quantity: Amount | Absent = ABSENT
    quote_quantity: Amount | Absent = ABSENT
    time_in_force: Literal["GTC", "IOC", "FOK"] | None = None
    post_only: bool = False
    client_order_id: ClientOrderId | None = None
    self_trade_prevention: Literal["expire_taker", "expire_maker", "expire_both", "none"] | None = None


class OrderRefBody(Body, frozen=True):
    symbol: str | None = None
    market: str | None = None
    order_id: OrderIdText | Absent = ABSENT
    client_order_id: ClientOrderId | None = None


class AmendOrderBody(OrderRefBody, frozen=True):
    quantity: Amount | Absent = ABSENT
    price: Amount | Absent = ABSENT


class CancelAllBody(Body, frozen=True):
    symbol: str | None = None
    market: str | None = None


class OnrampBody(Body, frozen=True):
    asset: str
    amount: Amount


class WithdrawalBody(Body, frozen=True):
    """A withdrawal request: ``amount`` on the asset's grid, sent to ``destination``."""

    asset: str
    amount: Amount
    destination: FundingText


class DepositBody(Body, frozen=True):
    """An operator's deposit: ``amount`` of ``asset`` arrived for ``username`` as ``reference``."""

    username: str
    asset: str
    amount: Amount
    reference: Reference


class RejectWithdrawalBody(Body, frozen=True):
    reason: FundingText


class CredentialsBody(Body, frozen=True):
    username: Username
    password: Password


_BODIES = (
    PlaceOrderBody, OrderRefBody, AmendOrderBody, CancelAllBody, OnrampBody, CredentialsBody,
    WithdrawalBody, DepositBody, RejectWithdrawalBody,
)  # fmt: skip
DECODERS: dict[type, msgspec.json.Decoder[Any]] = {kind: msgspec.json.Decoder(kind) for kind in _BODIES}


def decode(kind: type[T], body: bytes) -> T:
    try:
        return DECODERS[kind].decode(body)  # type: ignore[no-any-return]
    except msgspec.ValidationError as exc:
        raise invalid(f"invalid request: {exc}") from None
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise invalid(f"body is not valid JSON: {exc}") from None
    except RecursionError:  # msgspec refuses nesting past the recursion limit: ~1000 deep, 2 KB
        raise invalid("body is not valid JSON: nested too deeply") from None


def decimal_text(raw: msgspec.Raw | Absent, field: str) -> str | None:
    """The exact decimal text of a JSON string or number; None when absent or null."""
    if raw is ABSENT:
        return None
    data = bytes(raw)
    if data == b"null":
        return None
    if data[:1] == b'"':
        try:
            return msgspec.json.decode(data, type=str)
        except (msgspec.DecodeError, UnicodeDecodeError):
            raise invalid(f"{field} is not valid JSON text") from None
    if _NUMBER.match(data):
        return data.decode()
    raise invalid(f"{field} must be a decimal string or number")


def on_grid(raw: msgspec.Raw | Absent, grid: Grid, field: str) -> int | None:
    text = decimal_text(raw, field)
    if text is None:
        return None
    try:
        return grid.parse(text)
    except InvalidNumber as exc:
        raise ApiError.of(exc.reason, f"{field}: {exc.message}") from None


def order_id(raw: msgspec.Raw | Absent) -> int | None:
    """Ids are decimal strings (numbers accepted); anything else is simply not found."""
    text = decimal_text(raw, "orderId")
    if text is None:
        return None
    found = decimal_id(text)
    if found is None:
        raise ApiError.of(Reason.ORDER_NOT_FOUND, "no such open order")
    return found


def decimal_id(text: str | None) -> int | None:
    """An id as the API writes them (``ID_PATTERN``: 1-19 ASCII digits), else None: an id that
    is not one names nothing, which the caller answers as not found."""
    return int(text) if text and text.isascii() and text.isdigit() and len(text) <= 19 else None
