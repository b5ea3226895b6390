"""The JSON the native REST API answers, as msgspec Structs: the OpenAPI document's response
schemas are generated from them.

The handlers build these answers as dicts in web/wire.py, which the WebSocket feed, the pages
and the Binance face share and spread into their own shapes; these Structs describe them. They
forbid unknown fields, so tests/web/test_openapi.py decodes real answers of a live server with
``msgspec.convert(..., strict=True)`` into them: a field added, renamed, retyped or made
nullable in wire.py without its Struct here fails that test.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

import msgspec

from exchange.domain.commands import OrderType, SelfTradePrevention, Side, TimeInForce
from exchange.domain.events import DepositSource, DepositStatus, OrderStatus, Role, WithdrawalStatus
from exchange.signing import API_KEY_PATTERN
from exchange.store.accounts import ROLES

Decimal = Annotated[
    str,
    msgspec.Meta(pattern=r"^[0-9]+(\.[0-9]+)?$", description="a decimal string, padded to its grid",
                 examples=["99.50"]),
]  # fmt: skip
SignedDecimal = Annotated[
    str, msgspec.Meta(pattern=r"^-?[0-9]+(\.[0-9]+)?$", description="a decimal string that may be negative")
]
Id = Annotated[str, msgspec.Meta(pattern=r"^[0-9]+$", description="a decimal string", examples=["7"])]
Millis = Annotated[int, msgspec.Meta(ge=0, description="ms since the Unix epoch", examples=[1700000000000])]
Count = Annotated[int, msgspec.Meta(ge=0)]
#: ``[price, quantity]``. Written as a two-item list rather than a tuple: a tuple's 2020-12
#: ``prefixItems`` is read as draft-4 ``items`` by schemathesis, which then refuses the document.
Level = Annotated[list[Decimal], msgspec.Meta(min_length=2, max_length=2, description="[price, quantity]")]

if TYPE_CHECKING:
    Status = str
else:  # a refused order is answered with an error, never with a REJECTED order (docs/API.md)
    Status = Literal[tuple(s.value for s in OrderStatus if s is not OrderStatus.REJECTED)]


class Answer(msgspec.Struct, forbid_unknown_fields=True, rename="camel", frozen=True):
    pass


class ErrorBody(Answer, frozen=True):
    """Every error answer (web/errors.py ``ApiError.body``); ``code`` is the catalogue's."""

    code: Annotated[str, msgspec.Meta(pattern=r"^[A-Z_]+$", examples=["INSUFFICIENT_FUNDS"])]
    message: Annotated[str, msgspec.Meta(examples=["available USDC does not cover the hold"])]


class ServerTime(Answer, frozen=True):
    server_time: Millis


class LimitInfo(Answer, frozen=True):
    """One limit of exchange/limits.py as this server enforces it."""

    value: int | float
    unit: str
    description: str


class LimitsAnswer(Answer, frozen=True):
    """``GET /limits``: every limit by name, and the onramp cap per asset (null: none)."""

    limits: dict[str, LimitInfo]
    onramp_limits: dict[str, Decimal | None]


class MarketInfo(Answer, frozen=True):
    symbol: str
    base_asset: str
    quote_asset: str
    tick_size: Decimal
    step_size: Decimal
    min_qty: Decimal
    min_notional: Decimal
    max_price: Decimal
    max_qty: Decimal
    maker_fee: Decimal
    taker_fee: Decimal
    base_decimals: Count
    quote_decimals: Count
    price_precision: Count
    quantity_precision: Count
    status: Annotated[str, msgspec.Meta(examples=["TRADING"])]


class AssetInfo(Answer, frozen=True):
    asset: str
    decimals: Count


class Depth(Answer, frozen=True):
    symbol: str
    last_update_id: Count
    bids: list[Level]
    asks: list[Level]
    timestamp: Count


class Trade(Answer, frozen=True):
    id: Id
    price: Decimal
    quantity: Decimal
    quote_quantity: Decimal
    timestamp: Millis
    is_buyer_maker: bool


class Kline(Answer, frozen=True):
    start: Millis
    end: Millis
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    quote_volume: Decimal
    trades: Count


class Ticker(Answer, frozen=True):
    symbol: str
    last_price: Decimal | None
    open: Decimal | None
    high: Decimal | None
    low: Decimal | None
    volume: Decimal
    quote_volume: Decimal
    price_change: SignedDecimal | None
    price_change_percent: SignedDecimal | None
    trades: Count
    best_bid: Decimal | None
    best_ask: Decimal | None


class Fill(Answer, frozen=True):
    trade_id: Id
    order_id: Id
    symbol: str
    side: Side
    price: Decimal
    quantity: Decimal
    quote_quantity: Decimal
    fee: Decimal
    fee_asset: str
    role: Role
    timestamp: Millis


class Order(Answer, frozen=True):
    order_id: Id
    client_order_id: str | None
    symbol: str
    side: Side
    type: OrderType
    time_in_force: TimeInForce
    price: Decimal | None
    quantity: Decimal | None
    executed_qty: Decimal
    executed_quote_qty: Decimal
    status: Status
    post_only: bool
    self_trade_prevention: SelfTradePrevention
    fills: list[Fill]
    created_at: Millis
    updated_at: Millis
    #: Only on a market buy by quoteQuantity.
    quote_quantity: Decimal | msgspec.UnsetType = msgspec.UNSET


class Session(Answer, frozen=True):
    """Signup and login; the session itself is the ``session`` cookie they set."""

    username: str
    csrf_token: str


class Me(Answer, frozen=True):
    username: str
    #: null for a signed request (no session, so no CSRF token).
    csrf_token: str | None


class LoggedOut(Answer, frozen=True):
    ok: Literal[True]


ApiKey = Annotated[str, msgspec.Meta(pattern=f"^{API_KEY_PATTERN}$", examples=["ak_" + "0f" * 16])]


class ApiKeyCreated(Answer, frozen=True):
    api_key: ApiKey
    #: Shown once, never again.
    secret: str


class ApiKeyInfo(Answer, frozen=True):
    api_key: ApiKey
    created_at: Millis


class ApiKeyRevoked(Answer, frozen=True):
    api_key: ApiKey
    revoked: Literal[True]


class Balance(Answer, frozen=True):
    """``locked``: held by open orders; ``withdrawing``: held by pending withdrawals."""

    available: Decimal
    locked: Decimal
    withdrawing: Decimal


#: Every asset of the venue, zero where the user holds none.
Balances = dict[str, Balance]


if TYPE_CHECKING:
    AccountRole = str
else:
    AccountRole = Literal[ROLES]


class AdminUser(Answer, frozen=True):
    """``GET /admin/users/{username}``: one user as an operator sees it."""

    id: Id
    username: str
    role: AccountRole
    #: null for a user made before accounts recorded it.
    created_at: Millis | None
    balances: Balances
    #: Newest first, as ``/orders/open`` answers them.
    open_orders: list[Order]
    #: The most recent, newest first, as ``/fills`` answers them.
    fills: list[Fill]
    #: All of them, as ``/deposits`` and ``/withdrawals`` answer the user.
    deposits: list[Deposit]
    withdrawals: list[Withdrawal]


class OperatorInfo(Answer, frozen=True):
    id: Id
    username: str
    created_at: Millis | None


class AuditEntry(Answer, frozen=True):
    """One operator action (who, when, what), with the engine sequence of the command it
    submitted (null for a read)."""

    id: Id
    at: Millis
    operator: Annotated[str, msgspec.Meta(description="the operator's username, or `cli` for the CLI")]
    action: Annotated[str, msgspec.Meta(examples=["user.lookup"])]
    details: dict[str, Any]
    seq: Count | None


class Deposit(Answer, frozen=True):
    """Money credited: by an operator (``source`` operator, ``reference`` the external
    transfer's) or by the demo faucet (``faucet``, reference ``faucet:<depositId>``)."""

    deposit_id: Id
    asset: str
    amount: Decimal
    reference: str
    source: DepositSource
    status: DepositStatus
    created_at: Millis
    updated_at: Millis


class DepositAnswer(Deposit, frozen=True):
    """An operator's deposit: ``duplicate`` true when the reference was credited before with the
    same details, and nothing was credited this time (the deposit is the earlier one)."""

    user_id: Id
    username: str
    duplicate: bool


class Withdrawal(Answer, frozen=True):
    """PENDING: the amount is held (``withdrawing`` in balances) until an operator completes it
    (COMPLETED: it left the venue) or rejects it (REJECTED, with ``reason``: it is available again)."""

    withdrawal_id: Id
    asset: str
    amount: Decimal
    destination: str
    status: WithdrawalStatus
    reason: str | None
    created_at: Millis
    updated_at: Millis


class OperatorWithdrawal(Withdrawal, frozen=True):
    """A withdrawal as operators see it: whose it is."""

    user_id: Id
    username: str | None
