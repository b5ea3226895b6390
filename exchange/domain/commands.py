"""Commands: what a user asks the engine to do, as frozen tagged Structs named as verbs.

Amounts are already integers (price ticks, quantity steps, atomic units): the edge converts
decimal text with ``units``. ``user_id`` comes from authentication, never from the wire;
``seq`` and ``ts`` are stamped by the runner, so the engine never reads a clock.
Structs are not validated on construction: the engine checks every field itself.
"""

from __future__ import annotations

import enum

import msgspec


class Side(enum.StrEnum):
    BUY = "buy"
    SELL = "sell"


class OrderType(enum.StrEnum):
    LIMIT = "limit"
    MARKET = "market"


class TimeInForce(enum.StrEnum):
    GTC = "GTC"
    IOC = "IOC"
    FOK = "FOK"


class SelfTradePrevention(enum.StrEnum):
    EXPIRE_TAKER = "expire_taker"
    EXPIRE_MAKER = "expire_maker"
    EXPIRE_BOTH = "expire_both"
    NONE = "none"


# Members as plain module constants: on CPython 3.11 ``Side.BUY`` is a ~70 ns class-attribute
# lookup through the enum machinery, a module global about 10 ns; the engine uses them per fill.
BUY, SELL = Side.BUY, Side.SELL
LIMIT, MARKET = OrderType.LIMIT, OrderType.MARKET
GTC, IOC, FOK = TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK
EXPIRE_TAKER, EXPIRE_MAKER = SelfTradePrevention.EXPIRE_TAKER, SelfTradePrevention.EXPIRE_MAKER
EXPIRE_BOTH, STP_NONE = SelfTradePrevention.EXPIRE_BOTH, SelfTradePrevention.NONE


#: A clientOrderId is 1 to CLIENT_ORDER_ID_MAX of these characters: the one definition, from
#: which both the engine's rule (rules.check_client_order_id) and the web's body schema are built.
CLIENT_ORDER_ID_CHARS = "[A-Za-z0-9_-]"
CLIENT_ORDER_ID_MAX = 36
CLIENT_ORDER_ID_PATTERN = f"^{CLIENT_ORDER_ID_CHARS}{{1,{CLIENT_ORDER_ID_MAX}}}\\Z"

#: Funding texts are printable ASCII (space to tilde): what an operator and a chain explorer
#: can both read back. A deposit's reference (the external transfer's id) is 1 to
#: REFERENCE_MAX of them, a withdrawal's destination and a rejection's reason 1 to TEXT_MAX.
PRINTABLE_CHARS = "[ -~]"
REFERENCE_MAX = 64
TEXT_MAX = 128
REFERENCE_PATTERN = f"^{PRINTABLE_CHARS}{{1,{REFERENCE_MAX}}}\\Z"
TEXT_PATTERN = f"^{PRINTABLE_CHARS}{{1,{TEXT_MAX}}}\\Z"
#: The references the engine gives the demo faucet's deposits (``faucet:<id>``) and the
#: balances carried over from a snapshot older than funding records (``opening:<user>:<asset>``);
#: an operator's deposit may take neither, so they never collide.
FAUCET_PREFIX = "faucet:"
OPENING_PREFIX = "opening:"
ENGINE_PREFIXES = (FAUCET_PREFIX, OPENING_PREFIX)


class Command(msgspec.Struct, frozen=True, tag_field="t", kw_only=True):
    user_id: int
    seq: int = 0
    ts: int = 0
    #: Set by a gateway that may deliver the same command twice (the Redis bus redelivers what
    #: the engine read but did not acknowledge): the engine applies a request id at most once.
    request_id: str | None = None


class _NewOrder(Command, frozen=True, kw_only=True):
    """The fields of a new order but its timeInForce, whose meaning changed (``PlaceOrderV1``)."""

    symbol: str
    side: Side
    type: OrderType
    price: int | None = None
    quantity: int | None = None
    quote_quantity: int | None = None
    post_only: bool = False
    client_order_id: str | None = None
    stp: SelfTradePrevention = SelfTradePrevention.EXPIRE_TAKER


class PlaceOrder(_NewOrder, frozen=True, tag="place_v2", kw_only=True):
    #: None: GTC for a limit order. A market order must leave it None: it is IOC by nature,
    #: and the engine refuses one that names a timeInForce.
    time_in_force: TimeInForce | None = None


class PlaceOrderV1(_NewOrder, frozen=True, tag="place", kw_only=True):
    """A new order as journals and buses held it before ``place_v2``: ``time_in_force`` was GTC
    unless given, and meant nothing on a market order (the engine made every market order IOC).
    Only ever decoded, never built: the engine applies its ``upcast()``, so an old journal
    replays to the same events and state. A new tag, not a new field, tells the two apart,
    since an old record's "GTC" on a market order reads the same as a new command naming one.
    """

    time_in_force: TimeInForce = TimeInForce.GTC

    def upcast(self) -> PlaceOrder:
        tif = None if self.type is OrderType.MARKET else self.time_in_force
        return PlaceOrder(**(msgspec.structs.asdict(self) | {"time_in_force": tif}))


class CancelOrder(Command, frozen=True, tag="cancel", kw_only=True):
    symbol: str
    order_id: int | None = None
    client_order_id: str | None = None


class AmendOrder(Command, frozen=True, tag="amend", kw_only=True):
    """``quantity`` is the new total; a smaller one keeps the queue place."""

    symbol: str
    order_id: int | None = None
    client_order_id: str | None = None
    quantity: int | None = None
    price: int | None = None


class CancelAll(Command, frozen=True, tag="cancel_all", kw_only=True):
    symbol: str | None = None


class Onramp(Command, frozen=True, tag="onramp", kw_only=True):
    """The demo faucet: a deposit of ``amount`` atomic units to the user themselves, recorded
    with the reference ``faucet:<deposit id>``; ``limit`` caps the user's lifetime faucet total if set."""

    asset: str
    amount: int
    limit: int | None = None


class Deposit(Command, frozen=True, tag="deposit", kw_only=True):
    """An operator (``user_id``) credits ``account`` with money that arrived from outside.
    ``reference`` names the external transfer: the same one again credits nothing."""

    account: int
    asset: str
    amount: int
    reference: str


class RequestWithdrawal(Command, frozen=True, tag="withdraw", kw_only=True):
    """The user asks for ``amount`` to be sent to ``destination``: it is held at once."""

    asset: str
    amount: int
    destination: str


class CompleteWithdrawal(Command, frozen=True, tag="withdraw_done", kw_only=True):
    """An operator (``user_id``) says the money was sent: the hold leaves the venue."""

    withdrawal_id: int


class RejectWithdrawal(Command, frozen=True, tag="withdraw_reject", kw_only=True):
    """An operator (``user_id``) refuses the withdrawal: the hold returns to available."""

    withdrawal_id: int
    reason: str


AnyCommand = (
    PlaceOrder | CancelOrder | AmendOrder | CancelAll | Onramp | PlaceOrderV1 | Deposit
    | RequestWithdrawal | CompleteWithdrawal | RejectWithdrawal
)  # fmt: skip
