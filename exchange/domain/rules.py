"""Every reason the engine refuses a command, as pure checks; and the hold each order needs.

A check returns ``None`` (or what it looked up) when the command may go on, else a
``Rejection``: a ``Reason``, whose value is the docs/API.md error code, and a message. The
engine runs every check of a command before it changes any state, which is what makes "a
rejected command changes nothing" hold; a rejection is answered with one ``OrderRejected``.

The reasons, in the order the engine checks them:

Any command
- DUPLICATE_REQUEST: its request id was applied already (``check_request``).
- INVALID_REQUEST: the user is not a trader: the fee account or below (``check_user``); or the
  command is of no known kind (``unknown_command``).

PlaceOrder
- UNKNOWN_SYMBOL: no such market (``find_market``).
- INVALID_REQUEST: a market order that names a timeInForce (``check_time_in_force``).
- MARKET_CLOSED: the market is not trading (``check_place``, as every rule below until funds).
- INVALID_REQUEST: a clientOrderId that is not 1-36 of ``[A-Za-z0-9_-]`` (commands.py); a type that is neither
  limit nor market; a limit order with a quoteQuantity, or postOnly but not GTC; a market
  order with a price, postOnly, both quantity and quoteQuantity, or a quoteQuantity on a sell.
- INVALID_PRICE: a limit order without a price, or one at or below 0 or above the market's
  maximum.
- INVALID_QUANTITY: a quantity missing or outside [minQty, maxQty]; a quoteQuantity at or
  below 0 or out of range.
- MIN_NOTIONAL: price x quantity (or the quoteQuantity) below the market's minimum.
- DUPLICATE_CLIENT_ORDER_ID: the user has an open order with this clientOrderId
  (``check_client_order_id_free``).
- INSUFFICIENT_FUNDS: the hold (below) is more than the user has available (``check_funds``).
- POST_ONLY_WOULD_TAKE: a postOnly order would cross the book (``check_post_only``).

CancelOrder and AmendOrder (``find_order``)
- UNKNOWN_SYMBOL: no such market.
- INVALID_REQUEST: not exactly one of orderId and clientOrderId.
- ORDER_NOT_FOUND: no open order of this user in this market by that id (another user's order
  and a closed one look the same).

AmendOrder, then (``check_amend``; a requeue, ``check_funds`` and ``check_post_only`` again)
- INVALID_REQUEST: neither a new quantity nor a new price.
- INVALID_PRICE, INVALID_QUANTITY, MIN_NOTIONAL: the new price and quantity, as for a new order.
- INVALID_QUANTITY: a new quantity at or below what has executed.
- INSUFFICIENT_FUNDS, POST_ONLY_WOULD_TAKE: the order at its new price and quantity.

CancelAll
- UNKNOWN_SYMBOL: a market is named and there is no such market (``check_symbol``).

Onramp (``check_onramp``)
- UNKNOWN_ASSET: no such asset.
- INVALID_QUANTITY: an amount at or below 0 or out of range, or a balance it would put out of
  range.
- ONRAMP_LIMIT: the amount would take the user's lifetime onramps of the asset past ``limit``.

Deposit (``check_deposit``; ``user_id`` is the operator, checked as any command's)
- INVALID_REQUEST: the account is not a trader (the fee account or below); a reference that is
  not 1-64 printable ASCII characters, or that starts with ``faucet:`` (the faucet's own).
- UNKNOWN_ASSET, INVALID_QUANTITY: as for an onramp (the amount; the balance it would make).
- DUPLICATE_REFERENCE: the reference was credited before with another account, asset or amount
  (with the same ones it is accepted and credits nothing: ``DepositCredited.duplicate``).

RequestWithdrawal (``check_withdrawal``)
- UNKNOWN_ASSET: no such asset.
- INVALID_QUANTITY: an amount at or below 0 or out of range.
- INVALID_REQUEST: a destination that is not 1-128 printable ASCII characters.
- INSUFFICIENT_FUNDS: more than the user has available.

CompleteWithdrawal and RejectWithdrawal (``find_withdrawal``)
- INVALID_REQUEST: a rejection's reason that is not 1-128 printable ASCII characters.
- WITHDRAWAL_NOT_FOUND: no withdrawal has this id.
- WITHDRAWAL_NOT_PENDING: it was completed or rejected already.

Holds: a limit buy locks ``price x quantity`` of quote; a sell locks its base quantity; a
market buy by ``quoteQuantity`` locks that amount; a market buy by ``quantity`` locks what
filling it against the book as it stands would cost (what its ``matching.walk`` spends).
"""

from __future__ import annotations

import re
from typing import NamedTuple

from exchange.domain.book import Order, OrderBook
from exchange.domain.commands import (
    BUY,
    CLIENT_ORDER_ID_CHARS,
    CLIENT_ORDER_ID_MAX,
    CLIENT_ORDER_ID_PATTERN,
    ENGINE_PREFIXES,
    GTC,
    LIMIT,
    MARKET,
    REFERENCE_MAX,
    REFERENCE_PATTERN,
    SELL,
    TEXT_MAX,
    TEXT_PATTERN,
    AmendOrder,
    CancelOrder,
    Command,
    CompleteWithdrawal,
    Deposit,
    Onramp,
    PlaceOrder,
    RejectWithdrawal,
    RequestWithdrawal,
    Side,
)
from exchange.domain.events import PENDING, DepositState, WithdrawalState
from exchange.domain.ledger import FEE_ACCOUNT
from exchange.domain.markets import MAX_AMOUNT, Asset, Market
from exchange.domain.matching import Walk
from exchange.domain.reasons import Reason

CLIENT_ORDER_ID = re.compile(CLIENT_ORDER_ID_PATTERN)
REFERENCE = re.compile(REFERENCE_PATTERN)
TEXT = re.compile(TEXT_PATTERN)


class Rejection(NamedTuple):
    reason: Reason
    message: str


# The look-ups take ``dict``, not ``Mapping``: compiled with mypyc, a dict's get and ``in`` are
# native calls, where a Mapping's go through Python method calls on every order.


# -- any command ---------------------------------------------------------------------------
def check_request(request_id: str, applied_at: int | None) -> Rejection | None:
    """``applied_at``: the seq that already applied this request id, if one did."""
    if applied_at is not None:  # a redelivered or resubmitted command
        return Rejection(Reason.DUPLICATE_REQUEST, f"request {request_id} already applied (seq {applied_at})")
    return None


def check_user(user_id: int) -> Rejection | None:
    if user_id <= FEE_ACCOUNT:
        return Rejection(Reason.INVALID_REQUEST, "unknown user")
    return None


def unknown_command(cmd: Command) -> Rejection:
    return Rejection(Reason.INVALID_REQUEST, f"unknown command {type(cmd).__name__}")


def find_market(markets: dict[str, Market], symbol: str) -> Market | Rejection:
    m = markets.get(symbol)
    return m if m is not None else Rejection(Reason.UNKNOWN_SYMBOL, f"unknown symbol {symbol!r}")


def check_symbol(markets: dict[str, Market], symbol: str | None) -> Rejection | None:
    """A market named (None names every market) must exist."""
    if symbol is not None and symbol not in markets:
        return Rejection(Reason.UNKNOWN_SYMBOL, f"unknown symbol {symbol!r}")
    return None


# -- a new order ---------------------------------------------------------------------------
def check_time_in_force(cmd: PlaceOrder) -> Rejection | None:
    if cmd.type is MARKET and cmd.time_in_force is not None:
        return Rejection(Reason.INVALID_REQUEST, "market orders take no timeInForce (they are IOC by nature)")
    return None


def check_client_order_id(coid: str | None) -> Rejection | None:
    if coid is not None and not CLIENT_ORDER_ID.match(coid):
        return Rejection(
            Reason.INVALID_REQUEST,
            f"clientOrderId must be 1-{CLIENT_ORDER_ID_MAX} of {CLIENT_ORDER_ID_CHARS}",
        )
    return None


def check_price(m: Market, price: int | None) -> Rejection | None:
    if price is None:
        return Rejection(Reason.INVALID_PRICE, "a limit order needs a price")
    if not 0 < price <= m.price.max_steps:
        return Rejection(
            Reason.INVALID_PRICE, f"price must be above 0 and at most {m.price.format(m.price.max_steps)}"
        )
    return None


def check_quantity(m: Market, qty: int | None) -> Rejection | None:
    if qty is None:
        return Rejection(Reason.INVALID_QUANTITY, "quantity is required")
    if not m.min_qty <= qty <= m.qty.max_steps:
        return Rejection(
            Reason.INVALID_QUANTITY,
            f"quantity must be between {m.qty.format(m.min_qty)} and {m.qty.format(m.qty.max_steps)}",
        )
    return None


def check_notional(m: Market, notional: int) -> Rejection | None:
    if notional < m.min_notional:
        return Rejection(
            Reason.MIN_NOTIONAL,
            f"order value must be at least {m.quote.format(m.min_notional)} {m.quote.name}",
        )
    return None


def check_place(o: Order, m: Market) -> Rejection | None:
    """Every rule of a new order (built from its command) that needs only it and its market."""
    price, qty = o.price, o.qty
    # Fast path: a plain, valid limit order passes one compound test (most orders are these).
    if (
        o.type is LIMIT and price is not None and qty is not None and o.quote_qty is None
        and o.coid is None and not o.post_only and m.status == "TRADING"
        and 0 < price <= m.price.max_steps and m.min_qty <= qty <= m.qty.max_steps
        and price * qty * m.quote_per_tick_step >= m.min_notional
    ):  # fmt: skip
        return None
    if m.status != "TRADING":
        return Rejection(Reason.MARKET_CLOSED, f"{m.symbol} is not trading ({m.status})")
    bad = check_client_order_id(o.coid)
    if bad:
        return bad
    if o.type is LIMIT:
        return _check_limit(o, m)
    if o.type is MARKET:
        return _check_market(o, m)
    return Rejection(Reason.INVALID_REQUEST, "type must be limit or market")


def _check_limit(o: Order, m: Market) -> Rejection | None:
    if o.quote_qty is not None:
        return Rejection(Reason.INVALID_REQUEST, "quoteQuantity is only for market buys")
    if o.post_only and o.tif is not GTC:
        return Rejection(Reason.INVALID_REQUEST, "postOnly orders must be GTC")
    bad = check_price(m, o.price) or check_quantity(m, o.qty)
    if bad:
        return bad
    assert o.price is not None and o.qty is not None
    return check_notional(m, m.notional(o.price, o.qty))


def _check_market(o: Order, m: Market) -> Rejection | None:
    if o.price is not None:
        return Rejection(Reason.INVALID_REQUEST, "market orders take no price")
    if o.post_only:
        return Rejection(Reason.INVALID_REQUEST, "market orders cannot be postOnly")
    if o.quote_qty is None:
        return check_quantity(m, o.qty)
    if o.qty is not None:
        return Rejection(Reason.INVALID_REQUEST, "give quantity or quoteQuantity, not both")
    if o.side is not BUY:
        return Rejection(Reason.INVALID_REQUEST, "quoteQuantity is only for market buys")
    if not 0 < o.quote_qty < MAX_AMOUNT:
        return Rejection(Reason.INVALID_QUANTITY, "quoteQuantity is out of range")
    return check_notional(m, o.quote_qty)


def check_client_order_id_free(coids: dict[tuple[int, str], int], o: Order) -> Rejection | None:
    """``coids``: (user, clientOrderId) -> order id of every open order that has one."""
    if o.coid is not None and (o.user, o.coid) in coids:
        return Rejection(Reason.DUPLICATE_CLIENT_ORDER_ID, "clientOrderId is already in use")
    return None


def check_funds(asset: str, hold: int, available: int) -> Rejection | None:
    if hold > available:
        return Rejection(Reason.INSUFFICIENT_FUNDS, f"not enough {asset} available")
    return None


def check_post_only(o: Order, book: OrderBook, price: int | None) -> Rejection | None:
    """A postOnly order must rest: at ``price`` it may not meet the other side."""
    if o.post_only and book.crosses(o.side, price or 0):
        return Rejection(Reason.POST_ONLY_WOULD_TAKE, "postOnly order would take liquidity")
    return None


# -- an open order -------------------------------------------------------------------------
def find_order(
    markets: dict[str, Market],
    orders: dict[int, Order],
    coids: dict[tuple[int, str], int],
    cmd: CancelOrder | AmendOrder,
) -> Order | Rejection:
    """The open order a cancel or an amend names."""
    bad = check_symbol(markets, cmd.symbol)
    if bad:
        return bad
    order_id, coid = cmd.order_id, cmd.client_order_id
    if (order_id is None) == (coid is None):
        return Rejection(Reason.INVALID_REQUEST, "give exactly one of orderId and clientOrderId")
    if coid is not None:
        order_id = coids.get((cmd.user_id, coid))
    order = orders.get(order_id) if order_id is not None else None
    # Another user's order and a closed one look the same: never reveal either.
    if order is None or order.user != cmd.user_id or order.symbol != cmd.symbol:
        return Rejection(Reason.ORDER_NOT_FOUND, "no such open order")
    return order


def check_amend(o: Order, m: Market, cmd: AmendOrder) -> tuple[int, int] | Rejection:
    """The (price, quantity) open order ``o`` would have after ``cmd``, if they are allowed."""
    assert o.price is not None and o.qty is not None  # only limit orders rest
    if cmd.quantity is None and cmd.price is None:
        return Rejection(Reason.INVALID_REQUEST, "give a new quantity, a new price or both")
    price = o.price if cmd.price is None else cmd.price
    qty = o.qty if cmd.quantity is None else cmd.quantity
    bad = check_price(m, price) or check_quantity(m, qty) or check_notional(m, m.notional(price, qty))
    if bad:
        return bad
    if qty <= o.executed:
        return Rejection(Reason.INVALID_QUANTITY, "new quantity must be above the executed quantity")
    return price, qty


# -- onramp --------------------------------------------------------------------------------
def check_onramp(assets: dict[str, Asset], cmd: Onramp, done: int, holding: int) -> Rejection | None:
    """``done``: what the user onramped of the asset so far; ``holding``: their balance of it."""
    asset = check_money(assets, cmd.asset, cmd.amount)
    if isinstance(asset, Rejection):
        return asset
    if cmd.limit is not None and done + cmd.amount > cmd.limit:
        left = asset.format(max(cmd.limit - done, 0))
        return Rejection(Reason.ONRAMP_LIMIT, f"onramp limit reached: {left} {cmd.asset} left")
    return check_room(holding, cmd.amount)


def find_asset(assets: dict[str, Asset], name: str) -> Asset | Rejection:
    asset = assets.get(name)
    return asset if asset is not None else Rejection(Reason.UNKNOWN_ASSET, f"unknown asset {name!r}")


def check_money(assets: dict[str, Asset], name: str, amount: int) -> Asset | Rejection:
    """Money moved in or out: a known asset and an amount in range (the edge put it on the
    asset's grid); the asset."""
    asset = find_asset(assets, name)
    if isinstance(asset, Rejection):
        return asset
    if not 0 < amount < MAX_AMOUNT:
        return Rejection(Reason.INVALID_QUANTITY, "amount must be above 0 and in range")
    return asset


def check_room(holding: int, amount: int) -> Rejection | None:
    """``holding``: all the user has of the asset; a credit of ``amount`` must keep it in range."""
    if holding + amount >= MAX_AMOUNT:
        return Rejection(Reason.INVALID_QUANTITY, "balance would be out of range")
    return None


# -- funding -------------------------------------------------------------------------------
def check_text(text: str, label: str) -> Rejection | None:
    """A withdrawal's destination or a rejection's reason."""
    if not TEXT.match(text):
        return Rejection(Reason.INVALID_REQUEST, f"{label} must be 1-{TEXT_MAX} printable ASCII characters")
    return None


def check_deposit(
    assets: dict[str, Asset], deposits: dict[str, DepositState], cmd: Deposit, holding: int
) -> DepositState | Rejection | None:
    """None: a new deposit to credit; a ``DepositState``: the same one, credited before (nothing
    to do); ``holding``: all the account has of the asset."""
    if cmd.account <= FEE_ACCOUNT:
        return Rejection(Reason.INVALID_REQUEST, "unknown account")
    ref = cmd.reference
    if not REFERENCE.match(ref):
        return Rejection(
            Reason.INVALID_REQUEST, f"reference must be 1-{REFERENCE_MAX} printable ASCII characters"
        )
    if ref.startswith(ENGINE_PREFIXES):
        return Rejection(
            Reason.INVALID_REQUEST, f"references starting {ref.partition(':')[0]}: are the engine's"
        )
    asset = check_money(assets, cmd.asset, cmd.amount)
    if isinstance(asset, Rejection):
        return asset
    done = deposits.get(ref)
    if done is not None:
        if (done.user_id, done.asset, done.amount) != (cmd.account, cmd.asset, cmd.amount):
            return Rejection(
                Reason.DUPLICATE_REFERENCE,
                f"reference {ref!r} was credited as deposit {done.id} with other details",
            )
        return done
    return check_room(holding, cmd.amount)


def check_withdrawal(assets: dict[str, Asset], cmd: RequestWithdrawal, available: int) -> Rejection | None:
    """``available``: what the user has of the asset, not held by orders or withdrawals."""
    asset = check_money(assets, cmd.asset, cmd.amount)
    if isinstance(asset, Rejection):
        return asset
    return check_text(cmd.destination, "destination") or check_funds(cmd.asset, cmd.amount, available)


def find_withdrawal(
    withdrawals: dict[int, WithdrawalState], cmd: CompleteWithdrawal | RejectWithdrawal
) -> WithdrawalState | Rejection:
    """The pending withdrawal an operator completes or rejects."""
    if isinstance(cmd, RejectWithdrawal):
        bad = check_text(cmd.reason, "reason")
        if bad:
            return bad
    found = withdrawals.get(cmd.withdrawal_id)
    if found is None:
        return Rejection(Reason.WITHDRAWAL_NOT_FOUND, f"no withdrawal {cmd.withdrawal_id}")
    if found.status is not PENDING:
        return Rejection(
            Reason.WITHDRAWAL_NOT_PENDING, f"withdrawal {found.id} is {found.status.value}, not PENDING"
        )
    return found


# -- holds ---------------------------------------------------------------------------------
def limit_hold(m: Market, side: Side, price: int, remaining: int) -> tuple[str, int]:
    """(asset, amount) a limit order resting with ``remaining`` steps at ``price`` keeps locked:
    quote for a buy, base for a sell. The one definition the engine and its checks use."""
    if side is BUY:
        return m.quote.name, m.notional(price, remaining)
    return m.base.name, m.base_amount(remaining)


def place_hold(o: Order, m: Market, w: Walk | None) -> tuple[str, int]:
    """(asset, amount) a new order locks; ``w``: a market buy by quantity's walk of the book."""
    if o.side is SELL:
        return m.base.name, m.base_amount(o.remaining)
    if o.price is not None:
        return m.quote.name, m.notional(o.price, o.remaining)
    if o.quote_qty is not None:
        return m.quote.name, o.quote_qty
    assert w is not None
    return m.quote.name, w.spent
