"""Balances: ``available`` and ``locked`` integers per (user, asset), in atomic units.

Money only moves through these verbs:
- ``deposit``: onramp, the only way the total of an asset grows (tracked in ``onramped``);
- ``hold`` / ``release``: available <-> locked for one user;
- ``pay``: take from a user's locked into another account's available (settlement, fees).

Invariants (``check_integrity``): nothing negative; per asset, the sum of available + locked
over all accounts (the fee account included) equals the total onramped. Whether ``locked``
matches the open orders is the engine's check, since only it knows the orders.
"""

from __future__ import annotations

from typing import Final

#: The account that collects trading fees; user ids from authentication start at 1.
FEE_ACCOUNT: Final = 0


class Balance:
    __slots__ = ("user", "asset", "available", "locked", "mark")

    def __init__(self, user: int, asset: str, available: int = 0, locked: int = 0) -> None:
        self.user = user
        self.asset = asset
        self.available = available
        self.locked = locked
        #: The drain epoch in which this balance was last listed as touched (see ``_touch``).
        self.mark = -1


class Ledger:
    __slots__ = ("accounts", "onramped", "user_onramped", "touched", "_epoch", "_fees")

    def __init__(self) -> None:
        self.accounts: dict[int, dict[str, Balance]] = {}
        self.onramped: dict[str, int] = {}
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

    def deposit(self, user: int, asset: str, amount: int) -> None:
        bal = self.balance(user, asset)
        bal.available += amount
        self.onramped[asset] = self.onramped.get(asset, 0) + amount
        key = (user, asset)
        self.user_onramped[key] = self.user_onramped.get(key, 0) + amount
        self._touch(bal)

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
                if bal.available < 0 or bal.locked < 0:
                    raise AssertionError(f"negative balance: user {user} {asset}")
                totals[asset] = totals.get(asset, 0) + bal.available + bal.locked
        for asset in totals.keys() | self.onramped.keys():
            if totals.get(asset, 0) != self.onramped.get(asset, 0):
                raise AssertionError(
                    f"{asset}: accounts hold {totals.get(asset, 0)}, onramped {self.onramped.get(asset, 0)}"
                )
