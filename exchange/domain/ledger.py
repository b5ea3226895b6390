"""Balances: ``available``, ``locked`` and ``withdrawing`` integers per (user, asset), in atomic units.

``locked`` is what open orders hold, ``withdrawing`` what pending withdrawals hold: a separate
column, so that a user sees each hold for what it is and the order checks stay about orders.

Money only moves through these verbs:
- ``deposit``: the only way the total of an asset grows (tracked in ``deposited``), whether an
  operator's deposit or the demo faucet (whose per-user total is also kept, for its cap);
- ``hold`` / ``release``: available <-> locked for one user;
- ``pay``: take from a user's locked into another account's available (settlement, fees);
- ``hold_withdrawal`` / ``release_withdrawal``: available <-> withdrawing for one user;
- ``send_withdrawal``: out of withdrawing and off the venue, the only way a total shrinks
  (tracked in ``withdrawn``).

Invariants (``check_integrity``): nothing negative; per asset, the sum of available + locked +
withdrawing over all accounts (the fee account included) equals deposited - withdrawn. Whether
``locked`` matches the open orders and ``withdrawing`` the pending withdrawals is the engine's
check, since only it knows them.
"""

from __future__ import annotations

from typing import Final

#: The account that collects trading fees; user ids from authentication start at 1.
FEE_ACCOUNT: Final = 0


class Balance:
    __slots__ = ("user", "asset", "available", "locked", "withdrawing", "mark")

    def __init__(self, user: int, asset: str, available: int = 0, locked: int = 0) -> None:
        self.user = user
        self.asset = asset
        self.available = available
        self.locked = locked
        self.withdrawing = 0
        #: The drain epoch in which this balance was last listed as touched (see ``_touch``).
        self.mark = -1


class Ledger:
    __slots__ = ("accounts", "deposited", "withdrawn", "user_onramped", "touched", "_epoch", "_fees")

    def __init__(self) -> None:
        self.accounts: dict[int, dict[str, Balance]] = {}
        #: Per asset: all deposits ever credited, all withdrawals ever sent.
        self.deposited: dict[str, int] = {}
        self.withdrawn: dict[str, int] = {}
        #: The demo faucet's lifetime total per (user, asset), for its cap.
        self.user_onramped: dict[tuple[int, str], int] = {}
        #: Balances changed since the last ``drain_touched``, each once, in first-touch order;
        #: a mark on the balance dedupes (cheaper than a dict per command). The fee account is
        #: left out because nobody streams its balance and it changes on every trade.
        self.touched: list[Balance] = []
        self._epoch = 0
        self._fees: dict[str, Balance] = {}

    def balance(self, user: int, asset: str) -> Balance:
        account = self.accounts.get(user)
        if account is None:
            account = self.accounts[user] = {}
        bal = account.get(asset)
        if bal is None:
            bal = account[asset] = Balance(user, asset)
        return bal

    def find(self, user: int, asset: str) -> Balance | None:
        """The balance if the user ever had one of ``asset`` (never creates one)."""
        account = self.accounts.get(user)
        return account.get(asset) if account else None

    def available(self, user: int, asset: str) -> int:
        bal = self.find(user, asset)
        return bal.available if bal else 0

    def holding(self, user: int, asset: str) -> int:
        """Everything the user has of ``asset`` on the venue, held or not."""
        bal = self.find(user, asset)
        return bal.available + bal.locked + bal.withdrawing if bal is not None else 0

    def deposit(self, user: int, asset: str, amount: int, faucet: bool) -> None:
        bal = self.balance(user, asset)
        bal.available += amount
        self.deposited[asset] = self.deposited.get(asset, 0) + amount
        if faucet:
            key = (user, asset)
            self.user_onramped[key] = self.user_onramped.get(key, 0) + amount
        self._touch(bal)

    def hold_withdrawal(self, user: int, asset: str, amount: int) -> None:
        bal = self.balance(user, asset)
        if amount > bal.available:
            raise AssertionError(f"withdraw {amount} {asset} > available {bal.available} of {user}")
        bal.available -= amount
        bal.withdrawing += amount
        self._touch(bal)

    def release_withdrawal(self, user: int, asset: str, amount: int) -> None:
        bal = self._withdrawing(user, asset, amount)
        bal.available += amount
        self._touch(bal)

    def send_withdrawal(self, user: int, asset: str, amount: int) -> None:
        self._touch(self._withdrawing(user, asset, amount))
        self.withdrawn[asset] = self.withdrawn.get(asset, 0) + amount

    def _withdrawing(self, user: int, asset: str, amount: int) -> Balance:
        """Take ``amount`` out of the user's withdrawal hold; the balance it came from."""
        bal = self.accounts[user][asset]  # a pending withdrawal held it, so the balance exists
        if amount > bal.withdrawing:
            raise AssertionError(f"withdrawal {amount} {asset} > withdrawing {bal.withdrawing} of {user}")
        bal.withdrawing -= amount
        return bal

    def hold(self, user: int, asset: str, amount: int) -> None:
        self.hold_on(self.balance(user, asset), amount)

    def hold_on(self, bal: Balance, amount: int) -> None:
        """``hold`` on a balance already looked up."""
        if amount > bal.available:
            raise AssertionError(f"hold {amount} {bal.asset} > available {bal.available} of {bal.user}")
        bal.available -= amount
        bal.locked += amount
        self._touch(bal)

    def release(self, user: int, asset: str, amount: int) -> None:
        if amount == 0:
            return
        bal = self.accounts[user][asset]  # whoever releases has held before
        if amount > bal.locked:
            raise AssertionError(f"release {amount} {asset} > locked {bal.locked} of {user}")
        bal.locked -= amount
        bal.available += amount
        self._touch(bal)

    def pay(self, payer: int, payee: int, asset: str, amount: int, fee: int) -> None:
        """Move ``amount`` from payer's locked: ``amount - fee`` to payee, ``fee`` to fees."""
        src = self.accounts[payer][asset]  # the payer holds it locked, so the balance exists
        if amount > src.locked:
            raise AssertionError(f"pay {amount} {asset} > locked {src.locked} of {payer}")
        src.locked -= amount
        dst = self.balance(payee, asset)
        dst.available += amount - fee
        if fee:
            fees = self._fees.get(asset)
            if fees is None:
                fees = self._fees[asset] = self.balance(FEE_ACCOUNT, asset)
            fees.available += fee
        self._touch(src)
        self._touch(dst)

    def _touch(self, bal: Balance) -> None:
        if bal.mark != self._epoch:
            bal.mark = self._epoch
            self.touched.append(bal)

    def drain_touched(self) -> list[Balance]:
        touched, self.touched = self.touched, []
        self._epoch += 1
        return touched

    def check_integrity(self) -> None:
        totals: dict[str, int] = {}
        for user, account in self.accounts.items():
            for asset, bal in account.items():
                if bal.available < 0 or bal.locked < 0 or bal.withdrawing < 0:
                    raise AssertionError(f"negative balance: user {user} {asset}")
                totals[asset] = totals.get(asset, 0) + bal.available + bal.locked + bal.withdrawing
        for asset in totals.keys() | self.deposited.keys() | self.withdrawn.keys():
            held = totals.get(asset, 0)
            came, left = self.deposited.get(asset, 0), self.withdrawn.get(asset, 0)
            if held != came - left:
                raise AssertionError(f"{asset}: accounts hold {held}, deposited {came} - withdrawn {left}")
