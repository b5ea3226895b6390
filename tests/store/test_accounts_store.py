"""Accounts store against a real SQLite file in tmp_path: users, sessions, API keys, restarts."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import sqlite3
import stat
import time
from collections.abc import AsyncIterator
from contextlib import closing
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from exchange.store import accounts as accounts_module
from exchange.store.accounts import (
    DB_FILE,
    MASTER_KEY_FILE,
    AccountError,
    Accounts,
    ApiKeyInfo,
    User,
)
from exchange.store.shared_accounts import SharedAccounts

NOW = 1_700_000_000_000
TTL = 60_000
MAX_KEYS = 5  # the server's is Limits.api_keys_per_user
_open = functools.partial(Accounts.open, session_ttl_ms=TTL, max_keys=MAX_KEYS)
PASSWORD = "correct horse battery"


@pytest.fixture
async def accounts(tmp_path: Path) -> AsyncIterator[Accounts]:
    store = await _open(tmp_path)
    yield store
    store.check_integrity()
    await store.close()


def _db_bytes(data_dir: Path) -> bytes:
    # The WAL file may still hold recent pages, so read it too.
    return b"".join(p.read_bytes() for p in sorted(data_dir.glob(f"{DB_FILE}*")))


# -- users --------------------------------------------------------------------------------------


async def test_signup_then_login_returns_the_user(accounts: Accounts) -> None:
    user = await accounts.signup("alice", PASSWORD)

    assert user == User(1, "alice")
    assert await accounts.login("alice", PASSWORD) == user
    assert accounts.username(1) == "alice"
    assert accounts.username(0) is None


async def test_user_ids_start_at_one_and_increase(accounts: Accounts) -> None:
    ids = [(await accounts.signup(name, PASSWORD)).id for name in ("a11", "b22", "c33")]
    assert ids == [1, 2, 3]


async def test_login_wrong_password_returns_none(accounts: Accounts) -> None:
    await accounts.signup("alice", PASSWORD)
    assert await accounts.login("alice", PASSWORD + "x") is None


async def test_login_unknown_user_returns_none(accounts: Accounts) -> None:
    assert await accounts.login("nobody", PASSWORD) is None


async def test_login_is_case_insensitive_and_keeps_signup_case(accounts: Accounts) -> None:
    await accounts.signup("Alice", PASSWORD)
    assert await accounts.login("aLICE", PASSWORD) == User(1, "Alice")


async def test_login_unknown_user_costs_a_hash_like_a_wrong_password(accounts: Accounts) -> None:
    await accounts.signup("alice", PASSWORD)

    async def fastest(username: str) -> float:
        times = []
        for _ in range(3):
            start = time.perf_counter()
            await accounts.login(username, "wrong password")
            times.append(time.perf_counter() - start)
        return min(times)

    known, unknown = await fastest("alice"), await fastest("nobody")
    # Without the dummy hash an unknown user would answer ~100x faster; allow wide jitter.
    assert unknown > known / 4


@pytest.mark.parametrize(
    ("username", "password"),
    [
        ("ab", PASSWORD),
        ("a" * 33, PASSWORD),
        ("has space", PASSWORD),
        ("semi;colon", PASSWORD),
        ("ünï", PASSWORD),
        ("alice\n", PASSWORD),
        ("alice", "short"),
        ("alice", "x" * 129),
    ],
    ids=[
        "too-short",
        "too-long",
        "space",
        "semicolon",
        "non-ascii",
        "newline",
        "short-password",
        "long-password",
    ],
)
async def test_signup_invalid_credentials_are_refused(
    accounts: Accounts, username: str, password: str
) -> None:
    with pytest.raises(AccountError) as err:
        await accounts.signup(username, password)

    assert err.value.code == "INVALID_REQUEST"
    assert ("username" in err.value.message) != ("password" in err.value.message)
    assert accounts.username(1) is None


@pytest.mark.parametrize(("username", "password"), [("a.b-c_9", "x" * 8), ("Z" * 32, "é" * 128)])
async def test_signup_accepts_boundary_credentials(accounts: Accounts, username: str, password: str) -> None:
    user = await accounts.signup(username, password)
    assert await accounts.login(username, password) == user


async def test_signup_duplicate_username_any_case_is_taken(accounts: Accounts) -> None:
    await accounts.signup("Alice", PASSWORD)

    with pytest.raises(AccountError) as err:
        await accounts.signup("aLiCe", "another password")

    assert err.value.code == "USERNAME_TAKEN"
    assert await accounts.login("alice", "another password") is None


async def test_concurrent_signups_of_one_name_create_one_user(accounts: Accounts) -> None:
    results = await asyncio.gather(
        accounts.signup("bob", PASSWORD), accounts.signup("BOB", PASSWORD), return_exceptions=True
    )

    users = [r for r in results if isinstance(r, User)]
    errors = [r for r in results if isinstance(r, AccountError)]
    assert len(users) == 1 and [e.code for e in errors] == ["USERNAME_TAKEN"]


# -- sessions -----------------------------------------------------------------------------------


async def test_session_create_then_lookup(accounts: Accounts) -> None:
    user = await accounts.signup("alice", PASSWORD)

    token, session = await accounts.create_session(user, NOW)

    assert session.user_id == user.id and session.username == "alice"
    assert session.expires_at_ms == NOW + TTL
    assert len(token) >= 40 and len(session.csrf_token) >= 30
    assert accounts.session(token, NOW + 1) == session
    assert accounts.session(token + "x", NOW) is None
    assert accounts.session("", NOW) is None


async def test_session_expires_after_ttl(accounts: Accounts) -> None:
    user = await accounts.signup("alice", PASSWORD)
    token, _ = await accounts.create_session(user, NOW)

    assert accounts.session(token, NOW + TTL - 1) is not None
    assert accounts.session(token, NOW + TTL) is None


async def test_end_session_logs_out_only_that_session(accounts: Accounts) -> None:
    user = await accounts.signup("alice", PASSWORD)
    first, _ = await accounts.create_session(user, NOW)
    second, _ = await accounts.create_session(user, NOW)

    await accounts.end_session(first)
    await accounts.end_session("never-issued")

    assert accounts.session(first, NOW) is None
    assert accounts.session(second, NOW) is not None


async def test_session_for_unknown_user_is_refused(accounts: Accounts) -> None:
    with pytest.raises(AccountError) as err:
        await accounts.create_session(User(7, "ghost"), NOW)
    assert err.value.code == "UNAUTHORIZED"


async def test_expired_sessions_are_pruned_from_the_database(accounts: Accounts, tmp_path: Path) -> None:
    user = await accounts.signup("alice", PASSWORD)
    old, _ = await accounts.create_session(user, NOW)
    await accounts.create_session(user, NOW + TTL)  # prunes the first one

    with closing(sqlite3.connect(tmp_path / DB_FILE)) as db:
        (rows,) = db.execute("SELECT COUNT(*) FROM sessions").fetchone()
    assert rows == 1
    assert accounts.session(old, NOW) is None


# -- API keys -----------------------------------------------------------------------------------


async def test_api_key_create_then_lookup(accounts: Accounts) -> None:
    user = await accounts.signup("alice", PASSWORD)

    api_key, secret = await accounts.create_api_key(user.id, NOW)

    assert api_key.startswith("ak_") and len(api_key) == 35
    assert len(secret) == 64 and int(secret, 16) >= 0
    assert accounts.api_key(api_key) == (user.id, secret)
    assert accounts.api_key("ak_" + "0" * 32) is None


async def test_api_key_list_has_no_secrets(accounts: Accounts) -> None:
    user = await accounts.signup("alice", PASSWORD)
    first, secret1 = await accounts.create_api_key(user.id, NOW)
    second, secret2 = await accounts.create_api_key(user.id, NOW + 1)

    listed = await accounts.list_api_keys(user.id)

    assert listed == [ApiKeyInfo(first, NOW), ApiKeyInfo(second, NOW + 1)]
    assert secret1 not in repr(listed) and secret2 not in repr(listed)
    assert await accounts.list_api_keys(99) == []


async def test_api_key_revoke_removes_it(accounts: Accounts) -> None:
    user = await accounts.signup("alice", PASSWORD)
    api_key, _ = await accounts.create_api_key(user.id, NOW)

    assert await accounts.revoke_api_key(user.id, api_key) is True

    assert accounts.api_key(api_key) is None
    assert await accounts.list_api_keys(user.id) == []
    assert await accounts.revoke_api_key(user.id, api_key) is False


async def test_api_key_revoke_of_another_users_key_is_refused(accounts: Accounts) -> None:
    alice = await accounts.signup("alice", PASSWORD)
    mallory = await accounts.signup("mallory", PASSWORD)
    api_key, secret = await accounts.create_api_key(alice.id, NOW)

    assert await accounts.revoke_api_key(mallory.id, api_key) is False
    assert await accounts.revoke_api_key(mallory.id, "ak_unknown") is False

    assert accounts.api_key(api_key) == (alice.id, secret)
    assert await accounts.list_api_keys(mallory.id) == []


async def test_api_key_limit_per_user(accounts: Accounts) -> None:
    alice = await accounts.signup("alice", PASSWORD)
    bob = await accounts.signup("bob", PASSWORD)
    keys = [(await accounts.create_api_key(alice.id, NOW))[0] for _ in range(MAX_KEYS)]

    with pytest.raises(AccountError) as err:
        await accounts.create_api_key(alice.id, NOW)
    assert err.value.code == "INVALID_REQUEST"
    await accounts.create_api_key(bob.id, NOW)  # the limit is per user

    await accounts.revoke_api_key(alice.id, keys[0])
    await accounts.create_api_key(alice.id, NOW)  # room again after a revoke
    assert len(await accounts.list_api_keys(alice.id)) == MAX_KEYS


async def test_api_key_limit_holds_under_concurrency(accounts: Accounts) -> None:
    alice = await accounts.signup("alice", PASSWORD)

    results = await asyncio.gather(
        *(accounts.create_api_key(alice.id, NOW) for _ in range(MAX_KEYS + 5)),
        return_exceptions=True,
    )

    assert sum(isinstance(r, tuple) for r in results) == MAX_KEYS
    assert len(await accounts.list_api_keys(alice.id)) == MAX_KEYS


async def test_api_key_for_unknown_user_is_refused(accounts: Accounts) -> None:
    with pytest.raises(AccountError):
        await accounts.create_api_key(0, NOW)


async def test_api_key_secret_is_derived_from_the_master_key(accounts: Accounts, tmp_path: Path) -> None:
    user = await accounts.signup("alice", PASSWORD)
    api_key, secret = await accounts.create_api_key(user.id, NOW)

    master = (tmp_path / MASTER_KEY_FILE).read_bytes()
    assert secret == hmac.new(master, b"api-key:" + api_key.encode(), hashlib.sha256).hexdigest()


# -- at rest and across restarts ----------------------------------------------------------------


async def test_database_holds_no_secret_password_or_token(tmp_path: Path) -> None:
    store = await _open(tmp_path)
    user = await store.signup("alice", PASSWORD)
    _, secret = await store.create_api_key(user.id, NOW)
    token, _ = await store.create_session(user, NOW)
    while_open = _db_bytes(tmp_path)
    await store.close()  # checkpoints the WAL into the main file

    for raw in (while_open, _db_bytes(tmp_path)):
        assert b"argon2id" in raw  # the bytes really are the rows
        assert secret.encode() not in raw
        assert PASSWORD.encode() not in raw
        assert token.encode() not in raw


async def test_master_key_file_is_private(accounts: Accounts, tmp_path: Path) -> None:
    path = tmp_path / MASTER_KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(path.read_bytes()) == 32
    assert not list(tmp_path.glob("*.tmp"))


async def test_everything_survives_close_and_reopen(tmp_path: Path) -> None:
    store = await _open(tmp_path)
    user = await store.signup("Alice", PASSWORD)
    api_key, secret = await store.create_api_key(user.id, NOW)
    revoked, _ = await store.create_api_key(user.id, NOW + 1)
    await store.revoke_api_key(user.id, revoked)
    token, session = await store.create_session(user, NOW)
    master = (tmp_path / MASTER_KEY_FILE).read_bytes()
    await store.close()
    await store.close()  # idempotent

    reopened = await _open(tmp_path)
    try:
        reopened.check_integrity()
        assert (tmp_path / MASTER_KEY_FILE).read_bytes() == master
        assert await reopened.login("alice", PASSWORD) == user
        assert reopened.username(user.id) == "Alice"
        assert reopened.session(token, NOW + 1) == session
        assert reopened.api_key(api_key) == (user.id, secret)
        assert reopened.api_key(revoked) is None
        assert await reopened.list_api_keys(user.id) == [ApiKeyInfo(api_key, NOW)]
        with pytest.raises(AccountError):
            await reopened.signup("ALICE", PASSWORD)
        assert (await reopened.signup("bob", PASSWORD)).id == 2
    finally:
        await reopened.close()


async def test_missing_master_key_with_existing_keys_refuses_to_open(tmp_path: Path) -> None:
    store = await _open(tmp_path)
    user = await store.signup("alice", PASSWORD)
    await store.create_api_key(user.id, NOW)
    await store.close()
    (tmp_path / MASTER_KEY_FILE).unlink()

    with pytest.raises(RuntimeError, match="missing"):
        await _open(tmp_path)


async def test_open_creates_the_data_dir(tmp_path: Path) -> None:
    store = await _open(tmp_path / "nested" / "data")
    try:
        assert (tmp_path / "nested" / "data" / DB_FILE).exists()
    finally:
        await store.close()


async def test_login_rehashes_a_password_hashed_with_old_parameters(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        accounts_module, "password_hasher", lambda: PasswordHasher(time_cost=1, memory_cost=8192)
    )
    store = await _open(tmp_path)
    user = await store.signup("alice", PASSWORD)
    await store.close()
    monkeypatch.undo()

    reopened = await _open(tmp_path)
    try:
        assert await reopened.login("alice", PASSWORD) == user
    finally:
        await reopened.close()

    with closing(sqlite3.connect(tmp_path / DB_FILE)) as db:
        (stored,) = db.execute("SELECT password_hash FROM users").fetchone()
    assert not accounts_module.password_hasher().check_needs_rehash(stored)
    assert "m=8192" not in stored


async def test_a_gateway_finds_a_user_another_process_signed_up(tmp_path: Path) -> None:
    """An operator's deposit names the user: a gateway reads a name it has not seen through
    from the database, as it does a username by id or an API key."""
    gateway = await SharedAccounts.open(tmp_path, session_ttl_ms=TTL, max_keys=MAX_KEYS)
    other = await _open(tmp_path)
    try:
        made = await other.signup("Elsewhere", "correct horse battery")
        assert gateway.user_id("elsewhere") == made.id
        assert gateway.user_id("nobody") is None
    finally:
        await other.close()
        await gateway.close()
