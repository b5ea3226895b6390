"""``python -m exchange operator add|list|remove``: the operator role, from the command line.

It opens the accounts database under the data directory as the server does (SQLite in WAL
mode, so a running server may hold it meanwhile) and records each change in the audit log
as ``cli``. A running server sees a role change on the next admin request (roles are read
from the database each time); a key printed here is known to a running ``--role all`` server
only after its restart, since it keeps API keys in memory (gateways read an unknown key
through from the database).
"""

from __future__ import annotations

import asyncio
import secrets
import sys
from pathlib import Path

from exchange.clock import now_ms
from exchange.limits import Limits
from exchange.store.accounts import Account, AccountError, Accounts

CLI = "cli"


async def _open(data_dir: Path) -> Accounts:
    limits = Limits()
    return await Accounts.open(
        data_dir, session_ttl_ms=limits.session_lifetime_s * 1000, max_keys=limits.api_keys_per_user
    )


async def _add(accounts: Accounts, name: str, password: str, promote: bool) -> int:
    made = await accounts.add_operator(name, password, promote=promote)
    await accounts.audit(CLI, "operator.add", {"username": made.username, "promoted": promote}, None)
    print(f"operator {made.username} (user id {made.id}) {'promoted' if promote else 'created'}")
    key, secret = await accounts.create_api_key(made.id, now_ms())
    print(f"apiKey: {key}\nsecret: {secret}")
    print("The secret is shown once, now: keep it (a new key needs this key or a session).")
    return 0


async def _remove(accounts: Accounts, name: str) -> int:
    demoted = await accounts.remove_operator(name)
    await accounts.audit(CLI, "operator.remove", {"username": demoted.username}, None)
    print(f"{demoted.username} is a user again (its keys and sessions stay, without the role)")
    return 0


def _line(account: Account) -> str:
    created = "-" if account.created_at is None else str(account.created_at)
    return f"{account.id}\t{account.username}\t{created}"


async def _run(action: str, data_dir: Path, name: str | None, password: str, promote: bool) -> int:
    accounts = await _open(data_dir)
    try:
        if action == "add":
            assert name is not None
            return await _add(accounts, name, password, promote)
        if action == "remove":
            assert name is not None
            return await _remove(accounts, name)
        print("id\tusername\tcreatedAt (ms)")
        for account in await accounts.operators():
            print(_line(account))
        return 0
    except AccountError as exc:
        print(f"refused: {exc.message}", file=sys.stderr)
        return 1
    finally:
        await accounts.close()


def operator(action: str, data_dir: str, name: str | None, *, promote: bool, password_stdin: bool) -> int:
    """Run one ``operator`` action; the process's exit status (1: refused, with the reason)."""
    # A random password nobody knows: the operator signs requests with the printed key, and
    # may sign in on the pages only with one it chose (--password-stdin).
    password = sys.stdin.readline().rstrip("\n") if password_stdin else secrets.token_urlsafe(32)
    return asyncio.run(_run(action, Path(data_dir), name, password, promote))
