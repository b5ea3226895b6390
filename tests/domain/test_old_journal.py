"""A journal written before PlaceOrder became ``place_v2`` replays to the same events and state.

Until then a PlaceOrder was tagged "place" and its ``time_in_force`` was GTC unless given; on a
market order it meant nothing (the engine made every market order IOC, and the web sent GTC).
Now a market order that names a timeInForce is refused, so an old record must not be read as
a new command: it decodes as ``PlaceOrderV1`` and the engine applies its upcast.

``OLD`` is a batch exactly as the old code encoded it: the sha256 of its record, and those of
the events and the final snapshot it replayed to, were taken with the engine before the change.

Since funding, an onramp is answered by ``DepositCredited`` (it was ``Onramped``) and the
snapshot holds the deposit records after its old fields: ``EVENTS_SHA`` covers every event but
the onramps' own first one, ``SNAPSHOT_SHA`` the snapshot's pre-funding fields (encoded as the
old Struct was: a map in field order), both taken with the engine before funding.
"""

from __future__ import annotations

import hashlib
import zlib
from pathlib import Path
from typing import Any

import msgspec

from exchange.config import load_venue
from exchange.domain.commands import OrderType, PlaceOrder, PlaceOrderV1, Side, TimeInForce
from exchange.domain.engine import Engine
from exchange.domain.events import DepositCredited, DepositSource, OrderAccepted, OrderRejected
from exchange.domain.reasons import Reason
from exchange.store.journal import HEADER, Journal, segment_name

VENUE = load_venue()
T0 = 1_700_000_000_000
RECORD_SHA = "d3e3fc6db43b5a441ad0849b279944cebd39505306ede94a758f0c15b8e93cb5"
EVENTS_SHA = "99f8085e015017fb245c3f5e0fe7890e29d6b45ad1f44c2e54ea87991151575c"
ONRAMPS = 4
OLD_SNAPSHOT_FIELDS = (
    "last_seq", "next_order_id", "next_trade_id", "balances", "onramped", "orders", "next_queue", "closed",
    "requests",
)  # fmt: skip
SNAPSHOT_SHA = "e93fdb3f5b9d56b9f8f335980b882b7226e826239ca73e796317dfd35f5c4a0a"


def _onramp(seq: int, user: int, asset: str, amount: int) -> dict[str, Any]:
    return {
        "t": "onramp", "user_id": user, "seq": seq, "ts": T0 + 1000 * seq, "request_id": None,
        "asset": asset, "amount": amount, "limit": None,
    }  # fmt: skip


def _place(seq: int, user: int, side: str, kind: str, price: int | None, qty: int | None,
           tif: str = "GTC", **more: Any) -> dict[str, Any]:  # fmt: skip
    """The old PlaceOrder's fields in its order, with its defaults."""
    return {
        "t": "place", "user_id": user, "seq": seq, "ts": T0 + 1000 * seq,
        "request_id": more.get("request_id"), "symbol": "SOL_USDC", "side": side, "type": kind,
        "price": price, "quantity": qty, "quote_quantity": more.get("quote_quantity"),
        "time_in_force": tif, "post_only": more.get("post_only", False),
        "client_order_id": more.get("client_order_id"), "stp": more.get("stp", "expire_taker"),
    }  # fmt: skip


BY_QUOTE = {"quote_quantity": 50_000_000, "client_order_id": "q-1", "stp": "expire_maker"}
OLD = [
    _onramp(1, 1, "USDC", 10**10),
    _onramp(2, 1, "SOL", 10**11),
    _onramp(3, 2, "USDC", 10**10),
    _onramp(4, 2, "SOL", 10**11),
    _place(5, 2, "sell", "limit", 10_000, 100),
    _place(6, 2, "sell", "limit", 10_100, 100),
    _place(7, 1, "buy", "market", None, 50, request_id="web-1"),  # as the web sent it: GTC
    _place(8, 1, "buy", "market", None, 200, "FOK"),  # another producer's TIF: ignored, IOC
    _place(9, 2, "buy", "limit", 9_900, 100),
    _place(10, 1, "sell", "market", None, 30, "IOC"),
    _place(11, 1, "sell", "limit", 10_200, 50),
    _place(12, 2, "sell", "limit", 10_200, 100),
    _place(13, 1, "buy", "market", None, None, **BY_QUOTE),  # meets its own ask first: STP
    _place(14, 1, "buy", "limit", 10_100, 100, "IOC"),  # a limit order's TIF still counts
    _place(15, 1, "sell", "limit", 9_000, 500, "FOK"),
    _place(16, 1, "buy", "market", 10_000, 100),  # refused: a market order takes no price
    _place(17, 1, "buy", "market", None, 100, "FOK", post_only=True),  # refused: postOnly
]


def _record(commands: list[dict[str, Any]]) -> bytes:
    payload = msgspec.msgpack.encode(commands)
    return HEADER.pack(len(payload), zlib.crc32(payload)) + payload


def test_an_old_journal_replays_to_the_same_events_and_state(tmp_path: Path) -> None:
    record = _record(OLD)
    assert hashlib.sha256(record).hexdigest() == RECORD_SHA, "not the bytes the old encoder wrote"
    (tmp_path / segment_name(1)).write_bytes(record)
    with Journal.open(tmp_path, fsync=False) as journal:
        commands = list(journal.replay())
    assert [type(c) for c in commands[4:]] == [PlaceOrderV1] * 13
    engine, encode = Engine(VENUE.assets, VENUE.markets), msgspec.msgpack.Encoder().encode
    digest, firsts = hashlib.sha256(), []
    for i, cmd in enumerate(commands):
        events = engine.handle(cmd)
        digest.update(encode(events[1:] if i < ONRAMPS else events))
        firsts.append(events[0])
    engine.check_integrity()
    assert digest.hexdigest() == EVENTS_SHA
    snap = msgspec.structs.asdict(engine.snapshot())
    assert hashlib.sha256(encode({k: snap[k] for k in OLD_SNAPSHOT_FIELDS})).hexdigest() == SNAPSHOT_SHA
    credited = [(e.deposit.user_id, e.deposit.asset, e.deposit.amount, e.deposit.reference)
                for e in firsts[:ONRAMPS] if isinstance(e, DepositCredited) and not e.duplicate]  # fmt: skip
    faucet = [(c["user_id"], c["asset"], c["amount"], f"faucet:{i}") for i, c in enumerate(OLD[:ONRAMPS], 1)]
    assert credited == faucet
    assert [(d.user_id, d.asset, d.amount, d.source) for d in engine.snapshot().deposits] == [
        (u, a, n, DepositSource.FAUCET) for u, a, n, _ in faucet
    ]
    tifs = [e.order.time_in_force.value for e in firsts[6:10] if isinstance(e, OrderAccepted)]
    assert tifs == ["IOC", "IOC", "GTC", "IOC"]  # seqs 7 to 10: market, market, limit, market
    assert [type(e) for e in firsts[-2:]] == [OrderRejected, OrderRejected]


def test_new_commands_are_told_apart_from_old_ones() -> None:
    """A market order naming GTC is refused as a new command, and applied as an old record."""
    fields: dict[str, Any] = {
        "user_id": 1, "symbol": "SOL_USDC", "side": Side.BUY, "type": OrderType.MARKET, "quantity": 50,
        "time_in_force": TimeInForce.GTC,
    }  # fmt: skip
    new, old = PlaceOrder(**fields), PlaceOrderV1(**fields)
    assert msgspec.msgpack.decode(msgspec.msgpack.encode(new))["t"] == "place_v2"
    assert old.upcast() == msgspec.structs.replace(new, time_in_force=None)
    engine = Engine(VENUE.assets, VENUE.markets)
    (refused,) = engine.handle(new)
    assert isinstance(refused, OrderRejected) and refused.reason is Reason.INVALID_REQUEST
    assert refused.message == "market orders take no timeInForce (they are IOC by nature)"
    accepted = engine.handle(old)[0]
    assert isinstance(accepted, OrderAccepted) and accepted.order.time_in_force is TimeInForce.IOC
