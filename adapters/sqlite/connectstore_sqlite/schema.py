"""The connect-sqlite3 table layout and every SQL statement the store runs.

The table is exactly the one connect-sqlite3 creates, so a Node app and a Python app
can share one file::

    CREATE TABLE sessions (sid PRIMARY KEY, expired, sess)

``sid`` is the session id, ``sess`` the express-session JSON text and ``expired`` the
**last epoch millisecond at which the session is live** (connect-sqlite3 reads a row as
live while ``now <= expired``). connect-sqlite3 writes ``expired`` as a REAL, this store
as an INTEGER; both compare as numbers.

The table name is the only text ever put into SQL: it is checked against
:data:`TABLE_NAME` and quoted. Every value goes through a bound parameter.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

__all__ = ["TABLE_NAME", "Statements", "check_table_name"]

TABLE_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
"""What a table name may be: an SQL identifier of ASCII letters, digits and underscores."""

PAGE_SIZE: Final = 500
"""Rows read per query by the streaming iterators (bounds their memory)."""

DELETE_BATCH: Final = 5000
"""Rows deleted per statement by cleanup and ``clear``: other writers get the lock in between."""

REPLACE_COOKIE_FUNCTION: Final = "connectstore_replace_cookie"
"""The SQL function ``touch`` uses to rewrite the stored cookie inside its UPDATE."""


def check_table_name(table: str) -> str:
    """Return ``table`` if it is a plain SQL identifier, else raise a ValueError saying why."""
    if not isinstance(table, str):
        raise TypeError(f"table must be a str, not {type(table).__name__}")
    if not TABLE_NAME.fullmatch(table):
        raise ValueError(
            f"invalid table name {table!r}: use 1 to 63 ASCII letters, digits or underscores, "
            "not starting with a digit"
        )
    if table.lower().startswith("sqlite_"):
        raise ValueError(f"invalid table name {table!r}: names starting with 'sqlite_' are reserved")
    return table


@dataclass(frozen=True)
class Statements:
    """The SQL text of every operation on one sessions table."""

    table: str

    @property
    def quoted(self) -> str:
        """The table name as an SQL identifier."""
        return f'"{self.table}"'

    @property
    def create_table(self) -> str:
        """connect-sqlite3's own CREATE statement (no declared types), if the table is missing."""
        return f"CREATE TABLE IF NOT EXISTS {self.quoted} (sid PRIMARY KEY, expired, sess)"

    @property
    def create_index(self) -> str:
        """An index on ``expired``: cleanup and ``length`` read only the rows they need."""
        return f'CREATE INDEX IF NOT EXISTS "{self.table}_expired" ON {self.quoted} (expired)'

    @property
    def table_info(self) -> str:
        """Columns of the table (to check an existing table has the layout)."""
        return f"PRAGMA table_info({self.quoted})"

    @property
    def index_list(self) -> str:
        """Indexes of the table (to check ``sid`` is unique)."""
        return f"PRAGMA index_list({self.quoted})"

    @property
    def get(self) -> str:
        """``(sid, now)`` -> the stored text of a live session."""
        return f"SELECT sess FROM {self.quoted} WHERE sid = ? AND ? <= expired"

    @property
    def upsert(self) -> str:
        """``(sid, expired, sess)``: insert or replace, keeping the row's rowid."""
        return (
            f"INSERT INTO {self.quoted} (sid, expired, sess) VALUES (?, ?, ?) "
            "ON CONFLICT (sid) DO UPDATE SET expired = excluded.expired, sess = excluded.sess"
        )

    @property
    def delete(self) -> str:
        """``(sid,)``: remove one session, live or not."""
        return f"DELETE FROM {self.quoted} WHERE sid = ?"

    @property
    def touch(self) -> str:
        """``(expired, cookie_text, sid, now)``: new expiry and cookie for a live session, one statement."""
        return (
            f"UPDATE {self.quoted} SET expired = ?, sess = {REPLACE_COOKIE_FUNCTION}(sess, ?) "
            "WHERE sid = ? AND ? <= expired"
        )

    @property
    def expire_now(self) -> str:
        """``(sid, now)``: delete a live session (a touch whose new expiry is already past)."""
        return f"DELETE FROM {self.quoted} WHERE sid = ? AND ? <= expired"

    @property
    def count_live(self) -> str:
        """``(now,)`` -> the number of live sessions."""
        return f"SELECT COUNT(*) FROM {self.quoted} WHERE ? <= expired"

    @property
    def page_ids(self) -> str:
        """``(after_rowid, now, limit)`` -> ``(rowid, sid)`` of live sessions, in rowid order."""
        return (
            f"SELECT rowid, sid FROM {self.quoted} NOT INDEXED "
            "WHERE rowid > ? AND ? <= expired ORDER BY rowid LIMIT ?"
        )

    @property
    def page_items(self) -> str:
        """``(after_rowid, now, limit)`` -> ``(rowid, sid, sess)`` of live sessions, in rowid order."""
        return (
            f"SELECT rowid, sid, sess FROM {self.quoted} NOT INDEXED "
            "WHERE rowid > ? AND ? <= expired ORDER BY rowid LIMIT ?"
        )

    @property
    def delete_expired_batch(self) -> str:
        """``(now, limit)``: delete up to ``limit`` expired rows (connect-sqlite3's ``now > expired``)."""
        return (
            f"DELETE FROM {self.quoted} WHERE rowid IN "
            f"(SELECT rowid FROM {self.quoted} WHERE expired < ? LIMIT ?)"
        )

    @property
    def delete_any_batch(self) -> str:
        """``(limit,)``: delete up to ``limit`` rows (``clear``)."""
        return f"DELETE FROM {self.quoted} WHERE rowid IN (SELECT rowid FROM {self.quoted} LIMIT ?)"
