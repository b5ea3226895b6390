"""Query strings as msgspec Structs: what each native GET (and DELETE /orders) reads.

A handler reads its query through its Struct (``read``), and the OpenAPI document lists the
same Struct's fields as the operation's parameters (web/spec/openapi.py), so a bound, a default
or an allowed value is written once. Integers travel as plain ASCII digits (docs/API.md: no
sign, space or exponent), which is stricter than msgspec's own text-to-int reading, so ``read``
checks the digits and hands msgspec a Python int whose bounds the Struct then enforces.
Unknown parameters are ignored, as they always were.
"""

from __future__ import annotations

import functools
import re
import types
import typing
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar

import msgspec
from aiohttp import web

from exchange.service.marketdata import INTERVALS
from exchange.web.errors import invalid

if TYPE_CHECKING:
    Interval = str
else:  # the kline intervals the service keeps, as an enum the document lists
    Interval = Literal[tuple(INTERVALS)]

Q = TypeVar("Q", bound="Query")
Limit = Annotated[int, msgspec.Meta(ge=1, le=1000, description="rows (levels per side for depth)")]
Millis = Annotated[int, msgspec.Meta(ge=0, le=2**53, description="ms since the Unix epoch, inclusive")]
Symbol = Annotated[str, msgspec.Meta(description="the market, e.g. SOL_USDC", examples=["SOL_USDC"])]
_AT = re.compile(r"at `\$\.(\w+)`")


class Query(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    pass


class SymbolQuery(Query, frozen=True, kw_only=True):
    """``symbol``, optional: none means every market. ``read`` takes the seed's ``market`` for it
    (both given must agree); the alias is left out of the document, which names one way."""

    symbol: Symbol | None = None


class MarketQuery(SymbolQuery, frozen=True, kw_only=True):
    """One market, named by ``symbol`` (``read`` takes ``market`` for it when it is alone)."""

    symbol: Symbol


class DepthQuery(MarketQuery, frozen=True, kw_only=True):
    limit: Limit = 100


class WindowQuery(SymbolQuery, frozen=True, kw_only=True):
    """A market (optional where the handler allows) and a time window."""

    start_time: Millis | None = None
    end_time: Millis | None = None

    def __post_init__(self) -> None:
        if self.start_time is not None and self.end_time is not None and self.start_time > self.end_time:
            raise invalid("startTime must not be after endTime")


class TradesQuery(WindowQuery, frozen=True, kw_only=True):
    symbol: Symbol
    limit: Limit = 100


class KlinesQuery(WindowQuery, frozen=True, kw_only=True):
    symbol: Symbol
    interval: Interval = "1m"
    limit: Limit = 500


class HistoryQuery(WindowQuery, frozen=True, kw_only=True):
    """Orders history and fills: ``symbol`` optional (none: every market)."""

    limit: Limit = 100


class OrderQuery(MarketQuery, frozen=True, kw_only=True):
    """``GET /order``: exactly one of the two ids (checked by the handler). A malformed
    ``orderId`` finds nothing (404), so neither id is constrained here."""

    order_id: Annotated[str, msgspec.Meta(description="decimal string", examples=["7"])] | None = None
    client_order_id: str | None = None


class Param(msgspec.Struct, frozen=True):
    """One query parameter as ``read`` needs it: its wire name, whether it is an integer, and
    the message its refusal carries."""

    name: str
    integer: bool
    refusal: str


@functools.cache
def params(kind: type[Query]) -> tuple[Param, ...]:
    """The parameters of ``kind``, from the Struct's own annotations."""
    hints = typing.get_type_hints(kind, include_extras=True)
    info = msgspec.structs.fields(kind)
    return tuple(_param(f.encode_name, hints[f.name]) for f in info)


def _param(name: str, hint: Any) -> Param:
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if typing.get_origin(hint) in (typing.Union, types.UnionType):  # X | None: X says it
        hint, args = args[0], list(typing.get_args(args[0]))
    if typing.get_origin(hint) is typing.Annotated and args[0] is int:
        meta = next(m for m in args[1:] if isinstance(m, msgspec.Meta))
        return Param(name, True, f"{name} must be an integer from {meta.ge} to {meta.le}")
    if typing.get_origin(hint) is typing.Literal:
        return Param(name, False, f"{name} must be one of {' '.join(map(str, args))}")
    return Param(name, False, f"{name} is not valid")


def one_name(symbol: str | None, alias: str | None) -> str | None:
    """The market named by ``symbol`` or by the seed's alias ``market``; both given must agree."""
    if symbol is not None and alias is not None and symbol != alias:
        raise invalid("symbol and market disagree")
    return symbol if symbol is not None else alias


def read(request: web.Request, kind: type[Q]) -> Q:
    """The request's query as ``kind``; 400 ``INVALID_REQUEST`` naming the first bad parameter."""
    query, given = request.query, dict[str, object]()
    fields = params(kind)
    for p in fields:
        raw = query.get(p.name)
        if raw is None:
            continue
        if p.integer:
            if not raw.isascii() or not raw.isdigit() or len(raw) > 16:
                raise invalid(p.refusal)
            given[p.name] = int(raw)
        else:
            given[p.name] = raw
    if issubclass(kind, SymbolQuery) and "market" in query:
        given["symbol"] = one_name(query.get("symbol"), query["market"])
    try:
        return msgspec.convert(given, kind)
    except msgspec.ValidationError as exc:
        if str(exc) == "Object missing required field `symbol`":
            raise invalid("symbol is required") from None
        raise invalid(_refusal(fields, str(exc))) from None


def _refusal(fields: tuple[Param, ...], error: str) -> str:
    found = _AT.search(error)
    by_name: dict[str, Any] = {p.name: p.refusal for p in fields}
    return by_name.get(found.group(1), error) if found else f"invalid query: {error}"


class UserLookupQuery(Query, frozen=True, kw_only=True):
    """``GET /admin/users/{username}``: how many of the user's recent fills to show."""

    limit: Annotated[int, msgspec.Meta(ge=1, le=1000, description="recent fills, newest first")] = 20


class AuditQuery(Query, frozen=True, kw_only=True):
    """``GET /admin/audit``: a page of the log, newest first; ``before`` an entry id (exclusive)
    from the previous page."""

    limit: Limit = 100
    before: Annotated[int, msgspec.Meta(ge=1, le=2**53, description="entries with ids below this")] | None = (
        None
    )
