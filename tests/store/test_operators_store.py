"""Roles and the audit log in the accounts store: the migration of a database made before
roles existed, operators added, promoted and removed, audit entries paged."""

from __future__ import annotations

import functools
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from exchange.store.accounts import DB_FILE, OPERATOR, USER, Account, AccountError, Accounts

_open = functools.partial(Accounts.open, session_ttl_ms=60_000, max_keys=5)
PASSWORD = "correct horse battery"
#: accounts.sqlite3's schema before roles (commit 48b02d1), verbatim.
BEFORE_ROLES = """
CREATE TABLE IF NOT EXISTS users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    username TEXT NOT NULL UNIQUE COLLATE NOCASE,
    password_hash TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    token_hash TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id),
    csrf_token TEXT NOT NULL,
    expires_at_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_expiry ON sessions(expires_at_ms);
CREATE TABLE IF NOT EXISTS api_keys (
    api_key TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id),
    created_at INTEGER NOT NULL,
    revoked INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS api_keys_owner ON api_keys(user_id, revoked);
"""


async def test_a_database_made_before_roles_gains_them_and_keeps_its_users(tmp_path: Path) -> None:
    with closing(sqlite3.connect(tmp_path / DB_FILE)) as db:
        db.executescript(BEFORE_ROLES)
        db.execute("INSERT INTO users (username, password_hash) VALUES (?, ?)",
                   ("alice", PasswordHasher().hash(PASSWORD)))  # fmt: skip
        db.commit()
    store = await _open(tmp_path)
    try:
        assert await store.find("alice") == Account(1, "alice", USER, None)  # made before: no time
        assert await store.login("alice", PASSWORD) is not None
        bob = await store.signup("bob", PASSWORD)
        found = await store.account(bob.id)
        assert found is not None and found.role == USER and found.created_at is not None
        await store.add_operator("alice", PASSWORD, promote=True)
    finally:
        await store.close()
    store = await _open(tmp_path)  # opening a migrated database again changes nothing
    try:
        assert [a.username for a in await store.operators()] == ["alice"]
    finally:
        await store.close()
    with closing(sqlite3.connect(tmp_path / DB_FILE)) as db, pytest.raises(sqlite3.IntegrityError):
        db.execute("UPDATE users SET role = 'root' WHERE id = 1")  # the CHECK came with the column


async def test_operators_are_added_refused_twice_promoted_and_removed(tmp_path: Path) -> None:
    store = await _open(tmp_path)
    try:
        boss = await store.add_operator("Boss", PASSWORD, promote=False)
        assert (boss.username, boss.role) == ("Boss", OPERATOR)
        with pytest.raises(AccountError, match="already an operator"):
            await store.add_operator("boss", PASSWORD, promote=False)
        await store.signup("carol", PASSWORD)
        with pytest.raises(AccountError, match="--promote"):
            await store.add_operator("carol", PASSWORD, promote=False)
        with pytest.raises(AccountError, match="no user named"):
            await store.add_operator("nobody", PASSWORD, promote=True)
        assert (await store.add_operator("CAROL", PASSWORD, promote=True)).username == "carol"
        assert [a.username for a in await store.operators()] == ["Boss", "carol"]
        assert (await store.remove_operator("boss")).role == USER
        with pytest.raises(AccountError, match="not an operator"):
            await store.remove_operator("boss")
        assert [a.username for a in await store.operators()] == ["carol"]
        assert await store.login("Boss", PASSWORD) is not None  # still a user, with its password
    finally:
        await store.close()


async def test_the_audit_log_pages_newest_first(tmp_path: Path) -> None:
    store = await _open(tmp_path)
    try:
        ids = [await store.audit("boss", "x.do", {"n": n}, n or None) for n in range(5)]
        page = await store.audit_page(2, None)
        assert [e.id for e in page] == ids[:-3:-1] and page[0].details == {"n": 4} and page[0].seq == 4
        rest = await store.audit_page(10, page[-1].id)
        assert [e.id for e in rest] == ids[2::-1] and rest[-1].seq is None
    finally:
        await store.close()
