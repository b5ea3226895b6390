"""The frames of the native WebSocket ``/ws`` as msgspec Structs: the AsyncAPI document's
message schemas are generated from them.

The feed (web/ws/feed.py) builds its stream frames as dicts and encodes each once for every
subscriber: it is the hottest path of the socket, so it keeps them. These Structs describe the
frames instead; they forbid unknown fields, and tests/web/test_asyncapi.py decodes the frames
of a live socket into them (``strict=True``) and validates the same frames against the served
document's schemas, so the description cannot drift from what the socket sends.
"""

from __future__ import annotations

from typing import Annotated, Any, Generic, NamedTuple, TypeVar

import msgspec

from exchange.web import schemas
from exchange.web.spec.responses import Decimal, Level, Millis, Order, Ticker

T = TypeVar("T")
P = TypeVar("P")
RequestId = Annotated[int | str | None, msgspec.Meta(description="echoed in the answer", examples=[7])]
Count = Annotated[int, msgspec.Meta(ge=0)]
StreamName = Annotated[
    str,
    msgspec.Meta(
        description="depth@S, depth@S@100ms, trade@S, ticker@S, bookTicker@S, kline.<interval>@S, "
        "orders, balances (S: a symbol)",
        examples=["depth@SOL_USDC", "orders"],
    ),
]


class Frame(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    pass


# -- requests ----------------------------------------------------------------------------------
class Request(Frame, Generic[P], frozen=True):
    """``{"method", "params", "id"}``: ``params`` by method (web/ws/handler.py)."""

    method: str
    params: P
    id: RequestId = None


class BareRequest(Frame, Generic[P], frozen=True):
    """A request whose ``params`` may be left out."""

    method: str
    params: P | msgspec.UnsetType = msgspec.UNSET
    id: RequestId = None


class AuthParams(Frame, frozen=True):
    """``signature``: lowercase hex HMAC-SHA256(secret, f"{timestamp}AUTH")."""

    apiKey: str
    timestamp: Annotated[int, msgspec.Meta(ge=0)]
    signature: Annotated[str, msgspec.Meta(pattern=r"^[0-9a-fA-F]{64}$")]


# -- answers -----------------------------------------------------------------------------------
class Result(Frame, Generic[T], frozen=True):
    id: RequestId
    result: T


class WsError(Frame, frozen=True):
    """The error object: the REST code and message; ``retryAfter`` (seconds) where REST sends
    ``Retry-After``."""

    code: Annotated[str, msgspec.Meta(pattern=r"^[A-Z_]+$")]
    message: str
    retryAfter: Annotated[int, msgspec.Meta(ge=1)] | msgspec.UnsetType = msgspec.UNSET


class ErrorAnswer(Frame, frozen=True):
    id: RequestId
    error: WsError


# -- streams -----------------------------------------------------------------------------------
class Stream(Frame, Generic[T], frozen=True):
    """``{"stream": NAME, "data": {...}}``; ``data.e`` the event type, ``data.E`` its time."""

    stream: StreamName
    data: T


class Data(Frame, tag_field="e", frozen=True):
    """A stream's ``data``: ``e`` (the Struct's tag) names the event."""


class DepthDiff(Data, tag="depth", frozen=True):
    E: Millis
    s: str
    U: Count
    u: Count
    b: list[Level]
    a: list[Level]


class DepthSnapshot(Data, tag="depthSnapshot", frozen=True):
    E: Millis
    s: str
    u: Count
    b: list[Level]
    a: list[Level]


class TradeData(Data, tag="trade", frozen=True):
    E: Millis
    s: str
    t: Annotated[int, msgspec.Meta(ge=1, description="the trade id (a JSON integer, unlike REST)")]
    p: Decimal
    q: Decimal
    m: bool
    T: Millis


class TickerData(Ticker, tag_field="e", tag="ticker", frozen=True):
    """The REST ticker's fields, with ``e``, ``E`` and ``s``."""

    E: Millis
    s: str


class BookTickerData(Data, tag="bookTicker", frozen=True):
    E: Millis
    s: str
    u: Count
    b: Decimal | None
    B: Decimal | None
    a: Decimal | None
    A: Decimal | None


class Candle(Frame, frozen=True):
    t: Millis
    T: Millis
    i: str
    o: Decimal
    h: Decimal
    l: Decimal  # noqa: E741  (the wire's name)
    c: Decimal
    v: Decimal
    q: Decimal
    n: Count
    x: bool


class KlineData(Data, tag="kline", frozen=True):
    E: Millis
    s: str
    k: Candle


class OrderData(Order, tag_field="e", tag="order", kw_only=True, frozen=True):
    """The REST order object (``fills``: the one fill of this event, if any), with ``e``, ``E``."""

    E: Millis


class BalanceData(Data, tag="balance", frozen=True):
    E: Millis
    asset: str
    available: Decimal
    locked: Decimal
    withdrawing: Decimal


class Method(NamedTuple):
    request: Any
    result: Any
    #: Error codes beyond every request's (INVALID_REQUEST, RATE_LIMITED).
    codes: tuple[str, ...] = ()
    #: The REST operation it mirrors (its codes are this method's too), if any.
    rest: str | None = None


_AUTH = ("UNAUTHORIZED",)  # a private stream or an order before AUTH, a refused AUTH
#: Each method: its request and its answer (docs/API.md "Requests and answers").
METHODS: dict[str, Method] = {
    "SUBSCRIBE": Method(Request[list[StreamName]], Result[None], _AUTH),
    "UNSUBSCRIBE": Method(Request[list[StreamName]], Result[None]),
    "LIST_SUBSCRIPTIONS": Method(BareRequest[None], Result[list[StreamName]]),
    "AUTH": Method(Request[AuthParams], Result[None], _AUTH),
    "ORDER.PLACE": Method(Request[schemas.PlaceOrderBody], Result[Order], _AUTH, "placeOrder"),
    "ORDER.CANCEL": Method(Request[schemas.OrderRefBody], Result[Order], _AUTH, "cancelOrder"),
    "ORDER.AMEND": Method(Request[schemas.AmendOrderBody], Result[Order], _AUTH, "amendOrder"),
    "ORDER.CANCEL_ALL": Method(
        BareRequest[schemas.CancelAllBody | None], Result[list[Order]], _AUTH, "cancelAll"
    ),
}


class StreamKind(NamedTuple):
    name: str
    frame: Any
    sent: str


#: Each stream, by the name of its message (docs/API.md "Streams").
STREAMS: dict[str, StreamKind] = {
    "Depth": StreamKind("depth@{symbol}", Stream[DepthDiff | DepthSnapshot],
                        "a depthSnapshot on subscribe, then a diff per command that changed the book"),
    "Depth100ms": StreamKind("depth@{symbol}@100ms", Stream[DepthDiff | DepthSnapshot],
                             "a depthSnapshot on subscribe, then the diffs of each 100 ms merged"),
    "Trade": StreamKind("trade@{symbol}", Stream[TradeData], "each trade"),
    "Ticker": StreamKind("ticker@{symbol}", Stream[TickerData], "after every command that traded"),
    "BookTicker": StreamKind("bookTicker@{symbol}", Stream[BookTickerData],
                             "on subscribe, then whenever the best bid or ask changes"),
    "Kline": StreamKind("kline.{interval}@{symbol}", Stream[KlineData], "after every command that traded"),
    "Orders": StreamKind("orders", Stream[OrderData], "each change of one of the user's orders"),
    "Balances": StreamKind("balances", Stream[BalanceData], "each change of one of the user's balances"),
}  # fmt: skip
