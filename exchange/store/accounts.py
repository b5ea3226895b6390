"""Accounts: users, sessions and API keys, kept in SQLite and mirrored in memory.

Layout:
- ``<data_dir>/accounts.sqlite3`` (WAL, ``synchronous=FULL``: account writes are rare and a lost
  API key would break a client) with four tables: ``users`` (argon2id password hashes, the role:
  ``user`` or ``operator``, the creation time), ``sessions`` (sha256 of the token, never the
  token), ``api_keys`` (key, owner, creation time, revoked flag, never the secret) and ``audit``
  (the operators' actions, store/audit.py);
- ``<data_dir>/master.key``: 32 random bytes, mode 0o600, from which every API key's secret is
  derived as HMAC-SHA256(master_key, "api-key:" + api_key). A stolen database alone therefore
  yields no secret, and a key's secret is the same after a restart.

Threading: the SQLite connection and password hashing live on one dedicated worker thread, so
the event loop never blocks and writes are serialised (the per-user key limit and the unique
username need no further locking). The hot-path reads (``session``, ``api_key``, ``username``)
are answered from dicts loaded at ``open``; those dicts are only touched on the event loop, after
the matching SQLite write has committed, so memory never shows what the database does not hold.

Roles are not cached: ``account`` reads the row each time (a primary-key look-up on the worker
thread), so a role changed by ``python -m exchange operator`` in another process holds on the
next admin request, without a restart.

Ids: users are numbered by SQLite from 1 (AUTOINCREMENT, never reused); 0 is the fee account.
Usernames are unique regardless of case and keep the case they were signed up with.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import re
import secrets
import sqlite3
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Final, Self, TypeVar

import msgspec
from argon2 import PasswordHasher
from argon2.exceptions import VerifyMismatchError

from exchange.clock import now_ms
from exchange.store import audit as audit_table
from exchange.store.audit import AuditEntry

DB_FILE: Final = "accounts.sqlite3"
MASTER_KEY_FILE: Final = "master.key"
_USERNAME_RE: Final = re.compile(r"[A-Za-z0-9_.-]{3,32}")
_PASSWORD_MIN: Final = 8
_PASSWORD_MAX: Final = 128
_MASTER_KEY_BYTES: Final = 32

_SCHEMA: Final = (
    """
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
    + audit_table.SCHEMA
)
#: Columns ``users`` gained after its first release, added by ``_Db._migrate`` to every database
#: that lacks them (new ones too, so there is one declaration): SQLite gives every existing row
#: the constant default (``created_at``: NULL, unknown).
USER: Final = "user"
OPERATOR: Final = "operator"
ROLES: Final = (USER, OPERATOR)
_USER_COLUMNS: Final = {
    "role": f"TEXT NOT NULL DEFAULT '{USER}' CHECK (role IN {ROLES!r})",
    "created_at": "INTEGER",
}

T = TypeVar("T")


class User(msgspec.Struct, frozen=True):
    """A signed-up user."""

    id: int
    username: str


class Account(msgspec.Struct, frozen=True):
    """A user as the database holds it now: its role and creation time (None: made before
    accounts recorded it)."""

    id: int
    username: str
    role: str
    created_at: int | None


class Session(msgspec.Struct, frozen=True):
    """A logged-in browser session; ``csrf_token`` must accompany its state-changing requests."""

    user_id: int
    username: str
    csrf_token: str
    expires_at_ms: int


class ApiKeyInfo(msgspec.Struct, frozen=True):
    """A live API key as listed to its owner: never the secret."""

    api_key: str
    created_at: int


class AccountError(Exception):
    """An expected refusal with its docs/API.md error code (``INVALID_REQUEST``, ``USERNAME_TAKEN`` ...)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def password_hasher() -> PasswordHasher:
    """The argon2id hasher for passwords.

    OWASP's first recommended setting (19 MiB, 2 passes, 1 lane) instead of argon2-cffi's
    default (64 MiB, 3 passes, 4 lanes): every hash runs on the single accounts thread, where
    the default's ~180 ms would cap logins near 5 per second and queue session and key writes
    behind them; ~30 ms is still a slow, salted, memory-hard hash. ``check_needs_rehash``
    upgrades stored hashes whenever these parameters change.
    """
    return PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)


def validate_credentials(username: str, password: str) -> str | None:
    """The reason ``username``/``password`` break the signup rules, or None when they are fine."""
    if not _USERNAME_RE.fullmatch(username):
        return "username must be 3 to 32 characters of letters, digits, '_', '.' or '-'"
    if not _PASSWORD_MIN <= len(password) <= _PASSWORD_MAX:
        return f"password must be {_PASSWORD_MIN} to {_PASSWORD_MAX} characters"
    return None


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def _derive_secret(master_key: bytes, api_key: str) -> str:
    return hmac.new(master_key, b"api-key:" + api_key.encode(), hashlib.sha256).hexdigest()


def _load_master_key(data_dir: Path, *, keys_exist: bool) -> bytes:
    """Read ``master.key``, or create it (mode 0o600) if this store has never issued a key."""
    path = data_dir / MASTER_KEY_FILE
    if path.exists():
        key = path.read_bytes()
        if len(key) != _MASTER_KEY_BYTES:
            raise RuntimeError(f"{path} is not {_MASTER_KEY_BYTES} bytes: refusing to guess API key secrets")
        return key
    if keys_exist:
        # A fresh key would silently change every issued secret: stop instead.
        raise RuntimeError(f"{path} is missing but API keys exist; restore it from a backup")
    key = secrets.token_bytes(_MASTER_KEY_BYTES)
    tmp = data_dir / f"{MASTER_KEY_FILE}.{secrets.token_hex(4)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(fd, 0o600)  # the umask may only narrow the mode; make it exact
        os.write(fd, key)
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        # link, not rename: never replace a key another process created meanwhile.
        os.link(tmp, path)
    except FileExistsError:  # another gateway on this data dir was first: use its key
        return _load_master_key(data_dir, keys_exist=True)
    finally:
        tmp.unlink()
    return key


class _Snapshot(msgspec.Struct, frozen=True):
    """Everything the in-memory indexes need, read once at open."""

    users: list[tuple[int, str]]
    sessions: list[tuple[str, int, str, int]]
    api_keys: list[tuple[str, int, int]]
    master_key: bytes


class _Db:
    """The SQLite side. Every method, the constructor included, runs on the accounts thread."""

    def __init__(self, data_dir: Path) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir = data_dir
        # isolation_level=None: transactions are explicit (``with self._tx()``), nothing implicit.
        self.conn = sqlite3.connect(data_dir / DB_FILE, isolation_level=None)
        for attempt in range(100):
            try:
                self.conn.execute("PRAGMA journal_mode=WAL")
                self.conn.executescript(_SCHEMA)
                self._migrate()
                break
            except sqlite3.OperationalError as exc:
                # Gateways starting together on one data dir: the schema is set up by one of
                # them while the others wait (switching to WAL does not wait by itself).
                if "locked" not in str(exc) or attempt == 99:
                    raise
                time.sleep(0.05)
        self.conn.execute("PRAGMA synchronous=FULL")
        self.conn.execute("PRAGMA foreign_keys=ON")
        self.hasher = password_hasher()
        # Verified against for unknown usernames, so "no such user" costs what "wrong password" does.
        self.dummy_hash = self.hasher.hash(secrets.token_urlsafe(16))

    def _migrate(self) -> None:
        """Add the columns a database made by an older version lacks (in one transaction, so
        gateways starting together add each once)."""
        with self._tx() as tx:
            have = {row[1] for row in tx.execute("PRAGMA table_info(users)")}
            for name, decl in _USER_COLUMNS.items():
                if name not in have:
                    tx.execute(f"ALTER TABLE users ADD COLUMN {name} {decl}")

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One explicit transaction: committed on success, rolled back on any exception."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def _write(self, sql: str, args: tuple[object, ...]) -> int:
        """Run one statement (autocommitted); the number of rows it changed."""
        return self.conn.execute(sql, args).rowcount

    @classmethod
    def open(cls, data_dir: Path) -> tuple[_Db, _Snapshot]:
        """Connect and read the snapshot; the connection is closed again if that fails."""
        db = cls(data_dir)
        try:
            return db, db.load()
        except BaseException:
            db.close()
            raise

    def load(self) -> _Snapshot:
        has_keys = self.conn.execute("SELECT 1 FROM api_keys LIMIT 1").fetchone() is not None
        master_key = _load_master_key(self.data_dir, keys_exist=has_keys)
        q = self.conn.execute
        return _Snapshot(
            users=q("SELECT id, username FROM users").fetchall(),
            sessions=q("SELECT token_hash, user_id, csrf_token, expires_at_ms FROM sessions").fetchall(),
            api_keys=q("SELECT api_key, user_id, created_at FROM api_keys WHERE revoked = 0").fetchall(),
            master_key=master_key,
        )

    def insert_user(self, username: str, password: str, created_at: int, role: str = USER) -> int | None:
        """The new user's id, or None if the name is taken (in any case)."""
        password_hash = self.hasher.hash(password)
        try:
            cur = self.conn.execute(
                "INSERT INTO users (username, password_hash, role, created_at) VALUES (?, ?, ?, ?)",
                (username, password_hash, role, created_at),
            )
        except sqlite3.IntegrityError:
            return None
        assert cur.lastrowid is not None and cur.lastrowid >= 1, "user ids start at 1"
        return cur.lastrowid

    def account(self, column: str, value: object) -> Account | None:
        """The user whose ``column`` (``id`` or ``username``, any case) is ``value``."""
        assert column in ("id", "username")
        sql = f"SELECT id, username, role, created_at FROM users WHERE {column} = ?"
        row = self.conn.execute(sql, (value,)).fetchone()
        return Account(*row) if row else None

    def operators(self) -> list[Account]:
        sql = "SELECT id, username, role, created_at FROM users WHERE role = ? ORDER BY id"
        return [Account(*row) for row in self.conn.execute(sql, (OPERATOR,))]

    def set_role(self, username: str, role: str) -> Account | None:
        """Give ``username`` this role; the account after, or None if there is no such user."""
        self._write("UPDATE users SET role = ? WHERE username = ?", (role, username))
        return self.account("username", username)

    def audit(self, operator: str, action: str, details: dict[str, object], seq: int | None) -> int:
        return audit_table.insert(self.conn, now_ms(), operator, action, details, seq)

    def audit_page(self, limit: int, before: int | None) -> list[AuditEntry]:
        return audit_table.page(self.conn, limit, before)

    def check_password(self, user_id: int | None, password: str) -> bool:
        row = None
        if user_id is not None:
            row = self.conn.execute("SELECT password_hash FROM users WHERE id = ?", (user_id,)).fetchone()
        stored = row[0] if row else self.dummy_hash
        try:
            self.hasher.verify(stored, password)
        except VerifyMismatchError:
            return False
        if row is None:
            return False  # the dummy matched by a fluke: still no such user
        if self.hasher.check_needs_rehash(stored):
            self._write(
                "UPDATE users SET password_hash = ? WHERE id = ?", (self.hasher.hash(password), user_id)
            )
        return True

    def insert_session(
        self, token_hash: str, user_id: int, csrf: str, expires_at_ms: int, now_ms: int
    ) -> list[str]:
        """Store a session and drop the expired ones; the hashes of the dropped sessions."""
        with self._tx() as tx:
            expired = tx.execute(
                "DELETE FROM sessions WHERE expires_at_ms <= ? RETURNING token_hash", (now_ms,)
            ).fetchall()
            tx.execute(
                "INSERT INTO sessions (token_hash, user_id, csrf_token, expires_at_ms) VALUES (?, ?, ?, ?)",
                (token_hash, user_id, csrf, expires_at_ms),
            )
        return [row[0] for row in expired]

    def delete_session(self, token_hash: str) -> None:
        self._write("DELETE FROM sessions WHERE token_hash = ?", (token_hash,))

    def insert_api_key(self, user_id: int, api_key: str, now_ms: int, max_keys: int) -> bool:
        """Store a key unless the user already has ``max_keys`` live keys (then False)."""
        with self._tx() as tx:
            (live,) = tx.execute(
                "SELECT COUNT(*) FROM api_keys WHERE user_id = ? AND revoked = 0", (user_id,)
            ).fetchone()
            if live >= max_keys:
                return False
            tx.execute(
                "INSERT INTO api_keys (api_key, user_id, created_at) VALUES (?, ?, ?)",
                (api_key, user_id, now_ms),
            )
        return True

    def revoke_api_key(self, user_id: int, api_key: str) -> bool:
        sql = "UPDATE api_keys SET revoked = 1 WHERE api_key = ? AND user_id = ? AND revoked = 0"
        return self._write(sql, (api_key, user_id)) == 1

    def close(self) -> None:
        self.conn.close()


class Accounts:
    """Users, sessions and API keys; writes go through SQLite, hot-path reads come from memory."""

    def __init__(
        self,
        executor: ThreadPoolExecutor,
        db: _Db,
        snapshot: _Snapshot,
        session_ttl_ms: int,
        max_keys: int,
        notify: Callable[[str, str], None] | None,
    ) -> None:
        """Use ``Accounts.open``; this only builds the in-memory indexes from a snapshot."""
        self.notify = notify
        self._executor = executor
        self._db = db
        self._master_key = snapshot.master_key
        self._session_ttl_ms, self._max_keys = session_ttl_ms, max_keys
        self._closed = False
        self._usernames: dict[int, str] = dict(snapshot.users)
        self._ids_by_name: dict[str, int] = {name.lower(): uid for uid, name in snapshot.users}
        self._sessions: dict[str, Session] = {
            token_hash: Session(uid, self._usernames[uid], csrf, expires)
            for token_hash, uid, csrf, expires in snapshot.sessions
        }
        self._keys: dict[str, tuple[int, str]] = {}
        self._keys_by_user: dict[int, dict[str, int]] = {}
        for api_key, uid, created_at in snapshot.api_keys:
            self._remember_key(uid, api_key, created_at)

    @classmethod
    async def open(
        cls,
        data_dir: Path,
        *,
        session_ttl_ms: int,
        max_keys: int,
        notify: Callable[[str, str], None] | None = None,
    ) -> Self:
        """Open (creating if needed) the store under ``data_dir`` and load its indexes into memory.
        A session lasts ``session_ttl_ms``, a user has at most ``max_keys`` live API keys (both
        ``Limits``, exchange/limits.py);
        ``notify(kind, value)`` is told of each removal (``"session"``, token hash, or ``"key"``,
        API key), for the other processes that cache them (store/shared_accounts.py)."""
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="accounts")
        try:
            db, snapshot = await asyncio.get_running_loop().run_in_executor(executor, _Db.open, data_dir)
        except BaseException:
            executor.shutdown(wait=False)  # the worker is done or finishing; never block the loop
            raise
        return cls(executor, db, snapshot, session_ttl_ms, max_keys, notify)

    async def close(self) -> None:
        """Close the database and stop the worker thread; calling it twice is harmless."""
        if self._closed:
            return
        self._closed = True
        await self._run(self._db.close)
        self._executor.shutdown(wait=True)

    async def _run(self, fn: Callable[..., T], *args: object) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    def _remember_key(self, user_id: int, api_key: str, created_at: int) -> None:
        self._keys[api_key] = (user_id, _derive_secret(self._master_key, api_key))
        self._keys_by_user.setdefault(user_id, {})[api_key] = created_at

    # -- users ------------------------------------------------------------------------------

    async def signup(self, username: str, password: str, role: str = USER) -> User:
        """Create a user (of ``role``); ``AccountError`` ``INVALID_REQUEST`` on bad input,
        ``USERNAME_TAKEN`` if taken."""
        reason = validate_credentials(username, password)
        if reason is not None:
            raise AccountError("INVALID_REQUEST", reason)
        taken = AccountError("USERNAME_TAKEN", f"username {username!r} is already taken")
        # Memory answers the common case without a hash; the UNIQUE column settles concurrent signups.
        if username.lower() in self._ids_by_name:
            raise taken
        user_id = await self._run(self._db.insert_user, username, password, now_ms(), role)
        if user_id is None:
            raise taken
        self._remember(user_id, username)
        return User(user_id, username)

    # -- roles and the audit log (read from SQLite each time: see the module docstring) --------

    async def account(self, user_id: int) -> Account | None:
        """The user as the database holds it now (its role may have changed since start)."""
        return await self._run(self._db.account, "id", user_id)

    async def find(self, username: str) -> Account | None:
        """The user named ``username`` (any case), or None."""
        return await self._run(self._db.account, "username", username)

    async def operators(self) -> list[Account]:
        """Every operator, oldest first."""
        return await self._run(self._db.operators)

    async def add_operator(self, username: str, password: str, *, promote: bool) -> Account:
        """A new operator account, or (``promote``) an existing user made one; ``AccountError``
        ``USERNAME_TAKEN`` if the name is taken and not to be promoted, or already an operator."""
        found = await self.find(username)
        if found is not None and (found.role == OPERATOR or not promote):
            why = (
                "is already an operator"
                if found.role == OPERATOR
                else "is a user: --promote makes it an operator"
            )
            raise AccountError("USERNAME_TAKEN", f"{found.username!r} {why}")
        if found is None:
            if promote:
                raise AccountError("NOT_FOUND", f"no user named {username!r} to promote")
            user = await self.signup(username, password, OPERATOR)
            found = Account(user.id, user.username, OPERATOR, None)
        made = await self._run(self._db.set_role, found.username, OPERATOR)
        assert made is not None, "a user vanished: users are never deleted"
        return made

    async def remove_operator(self, username: str) -> Account:
        """Make an operator a user again (its keys and sessions stay, without the role)."""
        found = await self.find(username)
        if found is None or found.role != OPERATOR:
            raise AccountError("NOT_FOUND", f"{username!r} is not an operator")
        demoted = await self._run(self._db.set_role, found.username, USER)
        assert demoted is not None, "a user vanished: users are never deleted"
        return demoted

    async def audit(self, operator: str, action: str, details: dict[str, object], seq: int | None) -> int:
        """Append an operator action to the audit log (store/audit.py); its id."""
        return await self._run(self._db.audit, operator, action, details, seq)

    async def audit_page(self, limit: int, before: int | None) -> list[AuditEntry]:
        """Audit entries newest first, ids below ``before`` when given."""
        return await self._run(self._db.audit_page, limit, before)

    async def login(self, username: str, password: str) -> User | None:
        """The user whose credentials these are, else None (unknown user or wrong password alike)."""
        if validate_credentials(username, password) is not None:
            return None  # no such account can exist; also keeps huge passwords away from the hasher
        user_id = self._ids_by_name.get(username.lower())
        if not await self._run(self._db.check_password, user_id, password):
            return None
        assert user_id is not None, "check_password accepted an unknown user"
        return User(user_id, self._usernames[user_id])

    def username(self, user_id: int) -> str | None:
        """The username of ``user_id``, or None if there is no such user."""
        return self._usernames.get(user_id)

    def user_id(self, username: str) -> int | None:
        """The id of the user named ``username`` (as signup compares names: any case), or None."""
        return self._ids_by_name.get(username.lower())

    def _remember(self, user_id: int, username: str) -> None:
        """Both name indexes, as the user registered the name."""
        self._usernames[user_id] = username
        self._ids_by_name[username.lower()] = user_id

    # -- sessions ---------------------------------------------------------------------------

    async def create_session(self, user: User, now_ms: int) -> tuple[str, Session]:
        """A new session for ``user``: (token for the cookie, session). Expired sessions are pruned."""
        if self._usernames.get(user.id) != user.username:
            raise AccountError("UNAUTHORIZED", "unknown user")
        token = secrets.token_urlsafe(32)
        token_hash = _token_hash(token)
        session = Session(user.id, user.username, secrets.token_urlsafe(24), now_ms + self._session_ttl_ms)
        expired = await self._run(
            self._db.insert_session, token_hash, user.id, session.csrf_token, session.expires_at_ms, now_ms
        )
        for old in expired:
            self._sessions.pop(old, None)
        self._sessions[token_hash] = session
        return token, session

    def session(self, token: str, now_ms: int) -> Session | None:
        """The live session for a cookie token, or None (unknown, ended or expired)."""
        session = self._sessions.get(_token_hash(token))
        if session is None or session.expires_at_ms <= now_ms:
            return None
        return session

    async def end_session(self, token: str) -> None:
        """End the session of ``token`` (logout); unknown tokens are ignored."""
        token_hash = _token_hash(token)
        await self._run(self._db.delete_session, token_hash)
        self._sessions.pop(token_hash, None)

    # -- API keys ---------------------------------------------------------------------------

    async def create_api_key(self, user_id: int, now_ms: int) -> tuple[str, str]:
        """A new (api_key, secret) for ``user_id``; the secret is shown once and never stored."""
        if user_id not in self._usernames:
            raise AccountError("UNAUTHORIZED", "unknown user")
        api_key = "ak_" + secrets.token_hex(16)
        if not await self._run(self._db.insert_api_key, user_id, api_key, now_ms, self._max_keys):
            raise AccountError(
                "INVALID_REQUEST", f"at most {self._max_keys} API keys per user: revoke one first"
            )
        self._remember_key(user_id, api_key, now_ms)
        return api_key, self._keys[api_key][1]

    async def list_api_keys(self, user_id: int) -> list[ApiKeyInfo]:
        """The user's live keys, oldest first, without secrets."""
        owned = self._keys_by_user.get(user_id, {})
        return [
            ApiKeyInfo(key, created) for key, created in sorted(owned.items(), key=lambda kv: (kv[1], kv[0]))
        ]

    async def revoke_api_key(self, user_id: int, api_key: str) -> bool:
        """Revoke one of the user's live keys; False if it is not a live key of this user."""
        live = self._keys.get(api_key)
        if live is None or live[0] != user_id:
            return False  # someone else's, unknown or already revoked: the same answer for all
        if not await self._run(self._db.revoke_api_key, user_id, api_key):
            return False  # revoked by a concurrent call meanwhile
        self._keys.pop(api_key, None)
        self._keys_by_user.get(user_id, {}).pop(api_key, None)
        return True

    def api_key(self, api_key: str) -> tuple[int, str] | None:
        """(user_id, secret) of a live key, or None."""
        return self._keys.get(api_key)

    def check_integrity(self) -> None:
        """Assert that the in-memory indexes agree with each other."""
        assert 0 not in self._usernames, "user id 0 is the fee account"
        assert {n.lower(): i for i, n in self._usernames.items()} == self._ids_by_name, "name index drifted"
        for session in self._sessions.values():
            assert self._usernames.get(session.user_id) == session.username, "session of an unknown user"
        by_user = {(uid, key) for uid, keys in self._keys_by_user.items() for key in keys}
        assert by_user == {(uid, key) for key, (uid, _) in self._keys.items()}, "key indexes drifted"
        # Not ``len(keys) <= max_keys``: an operator may lower the limit below what users hold.
        for uid in self._keys_by_user:
            assert uid in self._usernames, f"user {uid} keys"
