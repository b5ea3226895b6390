"""Accounts shared by several gateway processes through one SQLite file (one host).

``Accounts`` answers hot reads (session cookie, API key, username) from memory filled at start,
which is exact while one process writes. With several gateways, a user, session or key made
by another gateway is not in this one's memory, and one revoked there may still be here. So:
- a miss in memory reads the row from SQLite (a primary-key look-up, tens of microseconds, on
  a read-only connection of the event loop's thread) and remembers it;
- a removal (logout, key revocation) is announced on the bus (``notify``) and every gateway
  ``forget``s the entry; after the bus reconnects (announcements may have been lost)
  ``forget_all`` drops the cached sessions and keys, which then fill again from SQLite.

Several hosts would need the accounts in a server database (PostgreSQL, or Redis itself) in
place of the SQLite file, with the same read-through and announcements.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from exchange.store.accounts import DB_FILE, Accounts, ApiKeyInfo, Session, User, _token_hash


class SharedAccounts(Accounts):
    _reader: sqlite3.Connection | None = None

    def _read(self, sql: str, args: tuple[object, ...]) -> tuple[Any, ...] | None:
        if self._reader is None:
            path = self._db.data_dir / DB_FILE
            self._reader = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
        try:
            row: tuple[Any, ...] | None = self._reader.execute(sql, args).fetchone()
        except UnicodeEncodeError:  # a header that is not text (lone surrogates): no such row
            return None
        return row

    # -- read-through ---------------------------------------------------------------------
    def username(self, user_id: int) -> str | None:
        name = super().username(user_id)
        if name is None:
            row = self._read("SELECT username FROM users WHERE id = ?", (user_id,))
            if row is not None:
                name = str(row[0])
                self._remember(user_id, name)
        return name

    def _learn_user(self, username: str) -> None:
        row = self._read("SELECT id, username FROM users WHERE username = ?", (username,))
        if row is not None:  # the row has the name as it was registered: no second query
            self._remember(int(row[0]), str(row[1]))

    def user_id(self, username: str) -> int | None:
        if username.lower() not in self._ids_by_name:
            self._learn_user(username)
        return super().user_id(username)

    async def login(self, username: str, password: str) -> User | None:
        if username.lower() not in self._ids_by_name:
            self._learn_user(username)
        return await super().login(username, password)

    def session(self, token: str, now_ms: int) -> Session | None:
        found = super().session(token, now_ms)
        if found is None:
            token_hash = _token_hash(token)
            if token_hash in self._sessions:
                return None  # known here and expired: sessions are never extended, SQLite agrees
            row = self._read(
                "SELECT user_id, csrf_token, expires_at_ms FROM sessions WHERE token_hash = ?", (token_hash,)
            )
            if row is not None:
                user_id, csrf, expires = int(row[0]), str(row[1]), int(row[2])
                name = self.username(user_id)
                if name is not None:
                    self._sessions[token_hash] = Session(user_id, name, csrf, expires)
                    found = super().session(token, now_ms)
        return found

    def api_key(self, api_key: str) -> tuple[int, str] | None:
        found = super().api_key(api_key)
        if found is None:
            row = self._read(
                "SELECT user_id, created_at FROM api_keys WHERE api_key = ? AND revoked = 0", (api_key,)
            )
            if row is not None:
                self._remember_key(int(row[0]), api_key, int(row[1]))
                found = super().api_key(api_key)
        return found

    async def create_api_key(self, user_id: int, now_ms: int) -> tuple[str, str]:
        self.username(user_id)
        return await super().create_api_key(user_id, now_ms)

    async def list_api_keys(self, user_id: int) -> list[ApiKeyInfo]:
        rows = await self._run(_live_keys, self._db.conn, user_id)
        return [ApiKeyInfo(str(key), int(created)) for key, created in rows]

    # -- removals, here and elsewhere -------------------------------------------------------
    async def end_session(self, token: str) -> None:
        await super().end_session(token)
        if self.notify is not None:
            self.notify("session", _token_hash(token))

    async def revoke_api_key(self, user_id: int, api_key: str) -> bool:
        self.api_key(api_key)
        revoked = await super().revoke_api_key(user_id, api_key)
        if revoked and self.notify is not None:
            self.notify("key", api_key)
        return revoked

    def forget(self, kind: str, value: str) -> None:
        """Another gateway removed this session or key."""
        if kind == "session":
            self._sessions.pop(value, None)
        elif kind == "key":
            found = self._keys.pop(value, None)
            if found is not None:
                self._keys_by_user.get(found[0], {}).pop(value, None)

    def forget_all(self) -> None:
        self._sessions.clear()
        self._keys.clear()
        self._keys_by_user.clear()

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        await super().close()


def _live_keys(conn: sqlite3.Connection, user_id: int) -> list[tuple[str, int]]:
    sql = (
        "SELECT api_key, created_at FROM api_keys WHERE user_id = ? AND revoked = 0"
        " ORDER BY created_at, api_key"
    )
    rows: list[tuple[str, int]] = conn.execute(sql, (user_id,)).fetchall()
    return rows
