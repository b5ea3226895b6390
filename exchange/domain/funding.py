"""The funding records: every deposit and withdrawal, indexed; what they say the ledger holds.

Deposits are kept by reference (a reference credits once: ``rules.check_deposit``) and per
user; withdrawals by id and per user, each as it stands now. The ledger's totals deposited and
withdrawn and each balance's ``withdrawing`` follow from these records, which is how a
snapshot restores them (``load``) and how ``check`` proves the ledger agrees. The money moves
themselves are the ledger's; the order of a command's steps is the engine's.
"""

from __future__ import annotations

from exchange.domain.commands import OPENING_PREFIX
from exchange.domain.events import (
    PENDING,
    DepositSource,
    DepositState,
    DepositStatus,
    WithdrawalState,
    WithdrawalStatus,
)
from exchange.domain.ledger import Ledger

_COMPLETED = WithdrawalStatus.COMPLETED
OPENING, CREDITED = DepositSource.OPENING, DepositStatus.CREDITED


class Funding:
    __slots__ = (
        "deposits", "user_deposits", "withdrawals", "user_withdrawals",
        "next_deposit_id", "next_withdrawal_id",
    )  # fmt: skip

    def __init__(self) -> None:
        self.deposits: dict[str, DepositState] = {}
        self.user_deposits: dict[int, list[DepositState]] = {}  # oldest first
        self.withdrawals: dict[int, WithdrawalState] = {}
        self.user_withdrawals: dict[int, list[int]] = {}  # ids, oldest first
        self.next_deposit_id = 1
        self.next_withdrawal_id = 1

    def record_deposit(self, d: DepositState) -> None:
        self.next_deposit_id = max(self.next_deposit_id, d.id + 1)
        self.deposits[d.reference] = d
        mine = self.user_deposits.get(d.user_id)
        if mine is None:
            mine = self.user_deposits[d.user_id] = []
        mine.append(d)

    def record_withdrawal(self, w: WithdrawalState) -> None:
        """A new withdrawal, or a new state of one already recorded."""
        if w.id not in self.withdrawals:
            self.next_withdrawal_id = max(self.next_withdrawal_id, w.id + 1)
            mine = self.user_withdrawals.get(w.user_id)
            if mine is None:
                mine = self.user_withdrawals[w.user_id] = []
            mine.append(w.id)
        self.withdrawals[w.id] = w

    # -- queries ---------------------------------------------------------------------------
    def deposits_of(self, user: int) -> list[DepositState]:
        """The user's deposits, newest first."""
        return self.user_deposits.get(user, [])[::-1]

    def withdrawals_of(self, user: int) -> list[WithdrawalState]:
        """The user's withdrawals as they stand, newest first."""
        return [self.withdrawals[i] for i in reversed(self.user_withdrawals.get(user, []))]

    def pending(self) -> list[WithdrawalState]:
        """Every withdrawal an operator has yet to complete or reject, oldest first."""
        return [w for w in self.withdrawals.values() if w.status is PENDING]

    # -- snapshot --------------------------------------------------------------------------
    def carry_over(self, ledger: Ledger) -> None:
        """A snapshot of format 1, from before deposits were recorded: every coin in it entered
        by a journaled onramp, so each balance (the fee account's too) becomes one deposit of
        source OPENING, and the books balance from there on as they would have."""
        for user, account in sorted(ledger.accounts.items()):
            for asset, b in sorted(account.items()):
                total = b.available + b.locked
                if total:
                    ref = f"{OPENING_PREFIX}{user}:{asset}"
                    d = DepositState(self.next_deposit_id, user, asset, total, ref, OPENING, CREDITED, 0, 0)
                    self.record_deposit(d)

    def load(
        self,
        deposits: list[DepositState],
        withdrawals: list[WithdrawalState],
        ledger: Ledger,
        carry_over: bool,
    ) -> None:
        """Restore the records and what they say into ``ledger`` (whose balances are loaded);
        ``carry_over``: a snapshot from before the records (``carry_over``)."""
        if carry_over:
            self.carry_over(ledger)
        for d in deposits:
            self.record_deposit(d)
        for w in withdrawals:
            self.record_withdrawal(w)
        deposited, withdrawn, holds = self.totals()
        ledger.deposited.update(deposited)
        ledger.withdrawn.update(withdrawn)
        for (user, asset), amount in holds.items():
            ledger.balance(user, asset).withdrawing = amount

    def totals(self) -> tuple[dict[str, int], dict[str, int], dict[tuple[int, str], int]]:
        """Per asset, deposited and withdrawn; per (user, asset), held by pending withdrawals."""
        deposited: dict[str, int] = {}
        for d in self.deposits.values():
            deposited[d.asset] = deposited.get(d.asset, 0) + d.amount
        withdrawn: dict[str, int] = {}
        holds: dict[tuple[int, str], int] = {}
        for w in self.withdrawals.values():
            if w.status is PENDING:
                holds[(w.user_id, w.asset)] = holds.get((w.user_id, w.asset), 0) + w.amount
            elif w.status is _COMPLETED:
                withdrawn[w.asset] = withdrawn.get(w.asset, 0) + w.amount
        return deposited, withdrawn, holds

    # -- integrity -------------------------------------------------------------------------
    def check(self, ledger: Ledger) -> None:
        """Raise AssertionError unless the ledger holds what the records say, and the indexes
        agree with the records."""
        deposited, withdrawn, holds = self.totals()
        for user, account in ledger.accounts.items():
            for asset, b in account.items():
                if b.withdrawing != holds.pop((user, asset), 0):
                    raise AssertionError(f"user {user} {asset}: withdrawing {b.withdrawing} disagrees")
        if holds:
            raise AssertionError(f"pending withdrawals without a balance: {holds}")
        if withdrawn != _nonzero(ledger.withdrawn) or deposited != _nonzero(ledger.deposited):
            raise AssertionError("the totals deposited or withdrawn disagree with the records")
        by_user = sorted(d.id for mine in self.user_deposits.values() for d in mine)
        if by_user != sorted(d.id for d in self.deposits.values()):
            raise AssertionError("per-user deposits disagree with the deposits")
        ids = sorted(i for mine in self.user_withdrawals.values() for i in mine)
        if ids != sorted(self.withdrawals) or any(i >= self.next_withdrawal_id for i in ids):
            raise AssertionError("per-user withdrawals disagree with the withdrawals")


def _nonzero(totals: dict[str, int]) -> dict[str, int]:
    return {asset: n for asset, n in totals.items() if n}
