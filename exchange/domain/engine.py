"""The engine: ``handle(command) -> list[Event]``, pure, synchronous and deterministic.

Each command is validated in full before anything changes (rules.py), so a rejection is one
``OrderRejected`` event and no change at all. An accepted order then goes: hold -> match ->
settle each fill -> rest or expire and release what it no longer needs. Time and ids are
inputs: ``ts`` and ``seq`` come stamped on the command, order and trade ids are counters in
the state, so replaying the same commands gives the same events and the same state.

Answers: a rejected command gets one ``OrderRejected``; an accepted PlaceOrder, CancelOrder or
AmendOrder gets first the event of its own order (``OrderAccepted``, ``OrderCanceled``,
``OrderAmended``), which ``events.subject`` reads, then what followed from it.

Funding: an Onramp (the demo faucet) and an operator's Deposit credit the user and are
recorded as deposits (a reference credits once); a RequestWithdrawal moves the amount from
available to the withdrawal hold at once, and an operator's CompleteWithdrawal sends the hold
off the venue or RejectWithdrawal returns it. Each is answered first by its ``DepositCredited``
or ``WithdrawalChanged``, then the ``BalanceChanged`` it caused.

Modify semantics (AmendOrder): ``quantity`` is the new total and must stay above what has
executed. Same price and a smaller or equal quantity keeps the queue place; a new price or a
larger quantity takes the order out and queues it again as a GTC taker, which may trade.
"""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

from exchange.domain import rules
from exchange.domain.book import Level, Order, OrderBook
from exchange.domain.commands import (
    BUY,
    FAUCET_PREFIX,
    FOK,
    GTC,
    IOC,
    MARKET,
    SELL,
    AmendOrder,
    AnyCommand,
    CancelAll,
    CancelOrder,
    Command,
    CompleteWithdrawal,
    Deposit,
    Onramp,
    PlaceOrder,
    PlaceOrderV1,
    RejectWithdrawal,
    RequestWithdrawal,
)
from exchange.domain.events import (
    CANCELED,
    EXPIRED,
    FILLED,
    PARTIALLY_FILLED,
    PENDING,
    BalanceChanged,
    BookChanged,
    DepositCredited,
    DepositSource,
    DepositState,
    DepositStatus,
    Event,
    OrderAccepted,
    OrderAmended,
    OrderCanceled,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    OrderStatus,
    Role,
    TradeExecuted,
    WithdrawalChanged,
    WithdrawalState,
    WithdrawalStatus,
)
from exchange.domain.markets import Asset, Market
from exchange.domain.matching import Walk, walk
from exchange.domain.rules import Rejection
from exchange.domain.state import EngineState

_MAKER, _TAKER = Role.MAKER, Role.TAKER


def _symbol_of(book: OrderBook) -> str:
    return book.symbol


class Engine(EngineState):
    """All books and balances of one venue. See the module docstring for the rules."""

    def handle(self, cmd: AnyCommand) -> list[Event]:
        seq = cmd.seq
        self._seq, self._ts, self.last_seq = seq, cmd.ts, seq
        out: list[Event] = []
        rid = cmd.request_id
        rejected = rules.check_request(rid, self._seen(rid, seq)) if rid is not None else None
        rejected = rejected or rules.check_user(cmd.user_id) or self._dispatch(cmd, out)
        if rejected is not None:
            return [self._rejected(cmd, rejected)]
        self._emit_changes(out)
        return out

    def _dispatch(self, cmd: AnyCommand, out: list[Event]) -> Rejection | None:
        if isinstance(cmd, PlaceOrder):  # by frequency; direct calls (compiled: native calls)
            return self._place(cmd, out)
        if isinstance(cmd, CancelOrder):
            return self._cancel(cmd, out)
        if isinstance(cmd, AmendOrder):
            return self._amend(cmd, out)
        if isinstance(cmd, CancelAll):
            return self._cancel_all(cmd, out)
        if isinstance(cmd, Onramp):
            return self._onramp(cmd, out)
        if isinstance(cmd, PlaceOrderV1):  # from a journal or a gateway older than place_v2
            return self._place(cmd.upcast(), out)
        if isinstance(cmd, Deposit):
            return self._deposit(cmd, out)
        if isinstance(cmd, RequestWithdrawal):
            return self._request_withdrawal(cmd, out)
        if isinstance(cmd, (CompleteWithdrawal, RejectWithdrawal)):
            return self._settle_withdrawal(cmd, out)
        return rules.unknown_command(cmd)

    # -- place -----------------------------------------------------------------------------
    def _place(self, cmd: PlaceOrder, out: list[Event]) -> Rejection | None:
        m = rules.find_market(self.markets, cmd.symbol)
        if isinstance(m, Rejection):
            return m
        # The order holds the timeInForce resolved, so whether the command named one is read here.
        bad = rules.check_time_in_force(cmd)
        if bad:
            return bad
        # The command's fields are read once, into the order; every check reads the order.
        order = self._new_order(cmd, m)
        bad = rules.check_place(order, m) or rules.check_client_order_id_free(self.coids, order)
        if bad:
            return bad
        book = self.books[order.symbol]
        # A market order or a FOK walks the book before anything changes (its hold or its
        # verdict needs the walk) and then takes exactly those steps; others walk in _take.
        w = walk(m, book, order, order.quote_qty) if order.price is None or order.tif is FOK else None
        asset, hold = rules.place_hold(order, m, w)
        funds = self.ledger.find(order.user, asset)
        available = funds.available if funds is not None else 0
        bad = rules.check_funds(asset, hold, available) or rules.check_post_only(order, book, order.price)
        if bad:
            return bad
        self._open(order)
        out.append(OrderAccepted(self._seq, self._ts, order.state()))
        if order.tif is FOK and w is not None and not w.done:
            self._end(order, EXPIRED, out, why="FOK")
            return None
        self.ledger.hold_on(funds or self.ledger.balance(order.user, asset), hold)
        self._take(order, m, book, out, w, hold if order.price is None and order.side is BUY else None)
        return None

    def _new_order(self, cmd: PlaceOrder, m: Market) -> Order:
        order_type, quote_qty, tif = cmd.type, cmd.quote_quantity, cmd.time_in_force
        order = Order(
            self.next_order_id, cmd.user_id, cmd.symbol, cmd.side, order_type,
            IOC if order_type is MARKET else (GTC if tif is None else tif), cmd.price, cmd.quantity,
            quote_qty, cmd.client_order_id, cmd.post_only, cmd.stp, cmd.ts,
        )  # fmt: skip
        if quote_qty is not None:
            order.remaining = m.qty.max_steps  # bounded by its budget instead
        return order

    def _take(
        self, t: Order, m: Market, book: OrderBook, out: list[Event], w: Walk | None, budget: int | None
    ) -> None:
        """Match taker ``t`` along walk ``w`` (walked here if None), then rest its remainder (GTC
        limit) or expire it. ``budget``: what a market buy holds; what it did not spend goes back."""
        if w is None:
            price = t.price
            if price is not None and t.tif is GTC and not book.crosses(t.side, price):
                book.add(t)  # the common case, a passive limit order: nothing to match
                return
            w = walk(m, book, t, None)
        self._apply(t, w, m, book, out)
        if budget is not None:
            self.ledger.release(t.user, m.quote.name, budget - w.spent)
        if t.remaining == 0:
            self._forget(t, t.state())
        elif not w.stp and t.tif is GTC and t.price is not None:
            book.add(t)
        else:
            if budget is None:
                self.ledger.release(t.user, *self._resting_hold(t, m))
            why = "STP" if w.stp else ("MARKET" if t.price is None else t.tif.value)
            self._end(t, EXPIRED, out, why=why)

    def _apply(self, t: Order, w: Walk, m: Market, book: OrderBook, out: list[Event]) -> None:
        """Take the walk's steps in order: a fill, or an expiry by self-trade prevention."""
        makers, qtys = w.makers, w.qtys
        last = len(makers) - 1
        for i in range(len(makers)):
            maker, qty = makers[i], qtys[i]
            if qty == 0:
                self._expire_resting(maker, m, book, out)
                continue
            if i == last and w.done:
                t.remaining = qty  # this fill ends the taker, a market buy's budget included
            level = maker.level
            assert level is not None
            front = level.front()  # also drops the cancelled orders queued before it
            assert front is maker
            self._trade(t, maker, level, qty, m, book, out)

    def _trade(
        self, t: Order, maker: Order, level: Level, qty: int, m: Market, book: OrderBook, out: list[Event]
    ) -> None:
        """One fill: settle both sides (fees from what each receives), update, emit. Hot path."""
        price = level.price
        base = qty * m.base_per_step
        quote = price * qty * m.quote_per_tick_step
        base_asset, quote_asset = m.base.name, m.quote.name
        pay = self.ledger.pay
        if t.side is BUY:
            taker_fee, maker_fee = m.taker_fee.fee(base), m.maker_fee.fee(quote)
            pay(maker.user, t.user, base_asset, base, taker_fee)
            pay(t.user, maker.user, quote_asset, quote, maker_fee)
            if t.price is not None and t.price != price:  # the taker buy's price improvement
                self.ledger.release(t.user, quote_asset, (t.price - price) * qty * m.quote_per_tick_step)
            taker_fee_asset, maker_fee_asset = base_asset, quote_asset
        else:
            taker_fee, maker_fee = m.taker_fee.fee(quote), m.maker_fee.fee(base)
            pay(t.user, maker.user, base_asset, base, maker_fee)
            pay(maker.user, t.user, quote_asset, quote, taker_fee)
            taker_fee_asset, maker_fee_asset = quote_asset, base_asset
        book.fill_front(level, maker, qty)
        t.remaining -= qty
        ts, seq = self._ts, self._seq
        for o in (maker, t):
            o.executed += qty
            o.executed_quote += quote
            o.updated = ts
            o.status = FILLED if o.remaining == 0 else PARTIALLY_FILLED
        trade_id = self.next_trade_id
        self.next_trade_id = trade_id + 1
        out.append(TradeExecuted(
            seq, ts, trade_id, m.symbol, price, qty, quote, t.side, maker.id, t.id, maker.user, t.user,
            maker_fee, taker_fee,
        ))  # fmt: skip
        maker_state = maker.state()
        out.append(
            OrderFilled(seq, ts, maker_state, trade_id, price, qty, quote, maker_fee, maker_fee_asset, _MAKER)
        )
        out.append(
            OrderFilled(seq, ts, t.state(), trade_id, price, qty, quote, taker_fee, taker_fee_asset, _TAKER)
        )
        if maker.remaining == 0:
            self._forget(maker, maker_state)

    # -- cancel / amend --------------------------------------------------------------------
    def _cancel(self, cmd: CancelOrder, out: list[Event]) -> Rejection | None:
        found = rules.find_order(self.markets, self.orders, self.coids, cmd)
        if isinstance(found, Rejection):
            return found
        self._cancel_resting(found, out)
        return None

    def _cancel_all(self, cmd: CancelAll, out: list[Event]) -> Rejection | None:
        bad = rules.check_symbol(self.markets, cmd.symbol)
        if bad:
            return bad
        mine = self.user_orders.get(cmd.user_id, {})
        for order in [o for o in mine.values() if cmd.symbol in (None, o.symbol)]:
            self._cancel_resting(order, out)
        return None

    def _amend(self, cmd: AmendOrder, out: list[Event]) -> Rejection | None:
        o = rules.find_order(self.markets, self.orders, self.coids, cmd)
        if isinstance(o, Rejection):
            return o
        m = self.markets[cmd.symbol]
        new = rules.check_amend(o, m, cmd)
        if isinstance(new, Rejection):
            return new
        price, qty = new
        book = self.books[o.symbol]
        assert o.qty is not None
        if price == o.price and qty <= o.qty:
            if qty < o.qty:
                self.ledger.release(o.user, *self._resting_hold(o, m, o.qty - qty))
                book.reduce(o, o.qty - qty)
            o.qty, o.updated = qty, self._ts
            out.append(OrderAmended(self._seq, self._ts, o.state(), False))
            return None
        return self._requeue(o, m, book, price, qty, out)

    def _requeue(
        self, o: Order, m: Market, book: OrderBook, price: int, qty: int, out: list[Event]
    ) -> Rejection | None:
        asset, old_hold = self._resting_hold(o, m)
        new_hold = rules.limit_hold(m, o.side, price, qty - o.executed)[1]
        more = new_hold - old_hold
        bad = rules.check_funds(asset, more, self.ledger.available(o.user, asset))
        bad = bad or rules.check_post_only(o, book, price)
        if bad:
            return bad
        book.remove(o)
        self.ledger.release(o.user, asset, old_hold)
        self.ledger.hold(o.user, asset, new_hold)
        new = o.clone()
        new.price, new.qty, new.remaining, new.updated = price, qty, qty - o.executed, self._ts
        new.tif = GTC
        self.orders[new.id] = self.user_orders[new.user][new.id] = new
        out.append(OrderAmended(self._seq, self._ts, new.state(), True))
        self._take(new, m, book, out, None, None)
        return None

    # -- funding ---------------------------------------------------------------------------
    def _onramp(self, cmd: Onramp, out: list[Event]) -> Rejection | None:
        done = self.ledger.user_onramped.get((cmd.user_id, cmd.asset), 0)
        bad = rules.check_onramp(self.assets, cmd, done, self.ledger.holding(cmd.user_id, cmd.asset))
        if bad:
            return bad
        # The faucet's reference is its deposit's id: unique however the command was stamped.
        reference = f"{FAUCET_PREFIX}{self.funding.next_deposit_id}"
        self._credit(cmd.user_id, cmd.asset, cmd.amount, reference, DepositSource.FAUCET, out)
        return None

    def _deposit(self, cmd: Deposit, out: list[Event]) -> Rejection | None:
        holding = self.ledger.holding(cmd.account, cmd.asset)
        found = rules.check_deposit(self.assets, self.funding.deposits, cmd, holding)
        if isinstance(found, Rejection):
            return found
        if found is not None:  # credited before with the same details: say so, credit nothing
            out.append(DepositCredited(self._seq, self._ts, found, True))
            return None
        self._credit(cmd.account, cmd.asset, cmd.amount, cmd.reference, DepositSource.OPERATOR, out)
        return None

    def _credit(
        self, user: int, asset: str, amount: int, reference: str, source: DepositSource, out: list[Event]
    ) -> None:
        ts = self._ts
        d = DepositState(
            self.funding.next_deposit_id,
            user,
            asset,
            amount,
            reference,
            source,
            DepositStatus.CREDITED,
            ts,
            ts,
        )
        self.funding.record_deposit(d)
        self.ledger.deposit(user, asset, amount, source is DepositSource.FAUCET)
        out.append(DepositCredited(self._seq, ts, d, False))

    def _request_withdrawal(self, cmd: RequestWithdrawal, out: list[Event]) -> Rejection | None:
        available = self.ledger.available(cmd.user_id, cmd.asset)
        bad = rules.check_withdrawal(self.assets, cmd, available)
        if bad:
            return bad
        ts = self._ts
        w = WithdrawalState(
            self.funding.next_withdrawal_id,
            cmd.user_id,
            cmd.asset,
            cmd.amount,
            cmd.destination,
            PENDING,
            ts,
            ts,
            None,
        )
        self.funding.record_withdrawal(w)
        self.ledger.hold_withdrawal(w.user_id, w.asset, w.amount)
        out.append(WithdrawalChanged(self._seq, ts, w))
        return None

    def _settle_withdrawal(
        self, cmd: CompleteWithdrawal | RejectWithdrawal, out: list[Event]
    ) -> Rejection | None:
        w = rules.find_withdrawal(self.funding.withdrawals, cmd)
        if isinstance(w, Rejection):
            return w
        if isinstance(cmd, RejectWithdrawal):
            status, reason = WithdrawalStatus.REJECTED, cmd.reason
            self.ledger.release_withdrawal(w.user_id, w.asset, w.amount)
        else:
            status, reason = WithdrawalStatus.COMPLETED, None
            self.ledger.send_withdrawal(w.user_id, w.asset, w.amount)
        done = msgspec.structs.replace(w, status=status, updated_at=self._ts, reason=reason)
        self.funding.record_withdrawal(done)
        out.append(WithdrawalChanged(self._seq, self._ts, done))
        return None

    # -- order lifecycle -------------------------------------------------------------------
    def _cancel_resting(self, o: Order, out: list[Event]) -> None:
        m = self.markets[o.symbol]
        self._pull(o, m, self.books[o.symbol])
        self._end(o, CANCELED, out)

    def _expire_resting(self, o: Order, m: Market, book: OrderBook, out: list[Event]) -> None:
        self._pull(o, m, book)
        self._end(o, EXPIRED, out, why="STP")

    def _pull(self, o: Order, m: Market, book: OrderBook) -> None:
        book.remove(o)
        self.ledger.release(o.user, *self._resting_hold(o, m))

    @staticmethod
    def _resting_hold(o: Order, m: Market, qty: int | None = None) -> tuple[str, int]:
        """(asset, amount) an order holds for ``qty`` (default: its remaining); a market sell holds
        base like a limit sell, and a market buy is never asked (it holds a budget)."""
        assert o.side is SELL or o.price is not None
        return rules.limit_hold(m, o.side, o.price or 0, o.remaining if qty is None else qty)

    def _end(self, o: Order, status: OrderStatus, out: list[Event], why: str = "") -> None:
        o.status, o.updated = status, self._ts
        state = o.state()
        if status is CANCELED:
            out.append(OrderCanceled(self._seq, self._ts, state))
        elif status is EXPIRED:
            out.append(OrderExpired(self._seq, self._ts, state, why))
        self._forget(o, state)

    def _rejected(self, cmd: Command, r: Rejection) -> OrderRejected:
        coid = getattr(cmd, "client_order_id", None)
        return OrderRejected(self._seq, self._ts, cmd.user_id, r.reason, r.message, coid)

    def _emit_changes(self, out: list[Event]) -> None:
        seq, ts = self._seq, self._ts
        dirty = self.dirty
        if dirty:
            if len(dirty) > 1:
                dirty.sort(key=_symbol_of)
            for book in dirty:
                changes = book.drain_changes()
                if changes is not None:
                    out.append(BookChanged(seq, ts, book.symbol, changes[0], changes[1]))
            dirty.clear()
        for bal in self.ledger.drain_touched():
            out.append(
                BalanceChanged(seq, ts, bal.user, bal.asset, bal.available, bal.locked, bal.withdrawing)
            )

    # -- construction ----------------------------------------------------------------------
    @classmethod
    def create(
        cls, assets: Iterable[Asset], markets: Iterable[Market], closed_cache: int = 100_000
    ) -> Engine:
        return cls({a.name: a for a in assets}, {m.symbol: m for m in markets}, closed_cache)
