"""The operators' audit log: one row per operator action, in the accounts database.

A table of ``accounts.sqlite3`` (not a file of its own) so that an action and the account that
took it live and are backed up together. Rows are appended by the admin routes after their
action succeeded (web/admin_api.py) and by the ``operator`` CLI (who: ``cli``), never changed
or deleted: the log grows without bound, a row per operator action, which operators take by
hand (docs/API.md#operators). ``details`` is JSON; ``seq`` the engine sequence of the command
the action submitted, NULL for a read.
"""

from __future__ import annotations

import sqlite3
from typing import Any, Final

import msgspec

SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms INTEGER NOT NULL,
    operator TEXT NOT NULL,
    action TEXT NOT NULL,
    details TEXT NOT NULL,
    seq INTEGER
);
"""


class AuditEntry(msgspec.Struct, frozen=True):
    """One operator action: who (username), when (ms), what (action and details), at which seq."""

    id: int
    at_ms: int
    operator: str
    action: str
    details: dict[str, Any]
    seq: int | None


def insert(
    conn: sqlite3.Connection, at_ms: int, operator: str, action: str, details: dict[str, Any], seq: int | None
) -> int:
    """Append one entry (autocommitted); its id."""
    cur = conn.execute(
        "INSERT INTO audit (at_ms, operator, action, details, seq) VALUES (?, ?, ?, ?, ?)",
        (at_ms, operator, action, msgspec.json.encode(details).decode(), seq),
    )
    assert cur.lastrowid is not None
    return cur.lastrowid


def page(conn: sqlite3.Connection, limit: int, before: int | None) -> list[AuditEntry]:
    """Up to ``limit`` entries, newest first, with ids below ``before`` when given."""
    rows = conn.execute(
        "SELECT id, at_ms, operator, action, details, seq FROM audit WHERE id < ? ORDER BY id DESC LIMIT ?",
        (before if before is not None else 2**63 - 1, limit),
    ).fetchall()
    return [
        AuditEntry(i, at, who, what, msgspec.json.decode(details), seq)
        for i, at, who, what, details, seq in rows
    ]
