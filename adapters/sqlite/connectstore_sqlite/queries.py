"""The connect-sqlite3 table layout, every SQL statement the store runs, and its SQL functions.

The table is exactly the one connect-sqlite3 creates, so a Node app and a Python app
can share one file::

    CREATE TABLE sessions (sid PRIMARY KEY, expired, sess)

``sid`` is the session id, ``sess`` the express-session JSON text and ``expired`` the
**last epoch millisecond at which the session is live** (connect-sqlite3 reads a row as
live while ``now <= expired``). connect-sqlite3 writes ``expired`` as a REAL, this store
as an INTEGER; both compare as numbers.

A row is live when its ``expired`` column says so **and** the session's own
``cookie.expires`` is not past (:data:`COOKIE_EXPIRED`): connect-sqlite3 can write a
column that outlives the cookie (``expired = maxAge ? now + maxAge : now + oneDay``
gives a day to a cookie whose ``maxAge`` reached 0 while it was being saved).

The table name is the only text ever put into SQL: it is checked against
:data:`TABLE_NAME` and quoted. Every value goes through a bound parameter; statements
name them (``:sid``, ``:now``, ``:now_iso``...). The Python functions the statements call
(:func:`cookie_replacer`, :func:`cookie_expired`) are registered on each connection by
:func:`connectstore_sqlite.connect.connect`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Final

from connectstore import Serializer
from connectstore.cookie import parse_expires

__all__ = [
    "COOKIE_EXPIRED",
    "COOKIE_EXPIRED_FUNCTION",
    "DELETE_BATCH",
    "LIVE",
    "REPLACE_COOKIE_FUNCTION",
    "SAME_VERSION",
    "SESSION_OBJECT",
    "TABLE_NAME",
    "Statements",
    "check_table_name",
    "cookie_expired",
    "cookie_replacer",
]

TABLE_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
"""What a table name may be: an SQL identifier of ASCII letters, digits and underscores."""

DELETE_BATCH: Final = 5000
"""Rows deleted per statement by the sweep and ``clear``: other writers get the lock in between."""

REPLACE_COOKIE_FUNCTION: Final = "connectstore_replace_cookie"
"""The SQL function ``touch`` uses to rewrite the stored cookie inside its UPDATE."""

COOKIE_EXPIRED_FUNCTION: Final = "connectstore_cookie_expired"
"""The SQL function ``(json_type, value, now)`` that reads a ``cookie.expires`` SQL cannot.

:data:`COOKIE_EXPIRED` calls it only for a value that is not JavaScript's canonical
``YYYY-MM-DDTHH:MM:SS.mmmZ`` text (what express-session and this store write), such as
an RFC 1123 date or epoch milliseconds written by some other program.
"""

_EXPIRES: Final = "json_extract(sess, '$.cookie.expires')"

COOKIE_EXPIRED: Final = (
    "CASE WHEN json_valid(sess) THEN CASE "
    f"WHEN {_EXPIRES} GLOB '????-??-??T??:??:??.???Z' THEN {_EXPIRES} <= :now_iso "
    f"WHEN {_EXPIRES} IS NULL THEN 0 "
    f"ELSE {COOKIE_EXPIRED_FUNCTION}(json_type(sess, '$.cookie.expires'), {_EXPIRES}, :now) END "
    "ELSE 0 END"
)
"""SQL that is true when the row's own ``cookie.expires`` is at or before now.

Canonical expiry text compares as text with ``:now_iso`` (``now`` in the same format,
which sorts as time does); anything else goes to :data:`COOKIE_EXPIRED_FUNCTION`. A row
whose ``sess`` is not JSON, or whose cookie has no expiry, is left to its ``expired``
column (reading it raises :class:`~connectstore.SessionDecodeError` as before).
"""

LIVE: Final = f":now <= expired AND NOT ({COOKIE_EXPIRED})"
"""SQL that is true for a live row: connect-sqlite3's ``now <= expired`` and a cookie not past."""

SAME_VERSION: Final = "CAST(sess AS TEXT) = :version"
"""SQL that is true when the row's ``sess`` is the text ``:version`` (a version is the stored text).

The ``CAST`` lets a ``sess`` that another program stored as a BLOB match its text, as
:meth:`~connectstore_sqlite.SQLiteStore.get_versioned` reports it; it changes nothing for
TEXT, which is what express-session, connect-sqlite3 and this store write.
"""

SESSION_OBJECT: Final = (
    "CASE WHEN json_valid(sess) THEN json_type(sess) = 'object' "
    "AND instr(CAST(sess AS BLOB), x'00') = 0 ELSE 0 END"
)
"""SQL that is true when ``sess`` is a JSON object: a session :class:`~connectstore.JSONSerializer` reads.

What ``length()`` counts beside :data:`LIVE`, so that it never counts a corrupt row (one
that the listings skip). ``json_type`` raises on malformed JSON, hence the ``CASE``; a
NUL byte ends the text SQLite's JSON functions read but not the text Python decodes.
"""


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
    """The SQL text of every operation on one sessions table (each made once, on first use)."""

    table: str

    @cached_property
    def quoted(self) -> str:
        """The table name as an SQL identifier."""
        return f'"{self.table}"'

    @cached_property
    def create_table(self) -> str:
        """connect-sqlite3's own CREATE statement (no declared types), if the table is missing."""
        return f"CREATE TABLE IF NOT EXISTS {self.quoted} (sid PRIMARY KEY, expired, sess)"

    @cached_property
    def create_index(self) -> str:
        """An index on ``expired``: the sweep and ``length`` read only the rows they need."""
        return f'CREATE INDEX IF NOT EXISTS "{self.table}_expired" ON {self.quoted} (expired)'

    @cached_property
    def table_info(self) -> str:
        """Columns of the table (to check an existing table has the layout)."""
        return f"PRAGMA table_info({self.quoted})"

    @cached_property
    def index_list(self) -> str:
        """Indexes of the table (to check ``sid`` is unique)."""
        return f"PRAGMA index_list({self.quoted})"

    @cached_property
    def get(self) -> str:
        """``:sid, :now, :now_iso`` -> the stored text of a live session."""
        return f"SELECT sess FROM {self.quoted} WHERE sid = :sid AND {LIVE}"

    @cached_property
    def upsert(self) -> str:
        """``:sid, :expired, :sess``: insert or replace, keeping the row's rowid."""
        return (
            f"INSERT INTO {self.quoted} (sid, expired, sess) VALUES (:sid, :expired, :sess) "
            "ON CONFLICT (sid) DO UPDATE SET expired = excluded.expired, sess = excluded.sess"
        )

    @cached_property
    def delete(self) -> str:
        """``:sid``: remove one session, live or not."""
        return f"DELETE FROM {self.quoted} WHERE sid = :sid"

    @cached_property
    def set_if(self) -> str:
        """``:sid, :expired, :sess, :version, :now, :now_iso``: replace a live row whose ``sess`` is
        still ``version``; changes one row or none.
        """
        return (
            f"UPDATE {self.quoted} SET expired = :expired, sess = :sess "
            f"WHERE sid = :sid AND {SAME_VERSION} AND {LIVE}"
        )

    @cached_property
    def delete_if(self) -> str:
        """``:sid, :version, :now, :now_iso``: delete a live row whose ``sess`` is still ``version``
        (a ``set_if`` whose expiry is past); deletes one row or none.
        """
        return f"DELETE FROM {self.quoted} WHERE sid = :sid AND {SAME_VERSION} AND {LIVE}"

    @cached_property
    def create(self) -> str:
        """``:sid, :expired, :sess, :now, :now_iso``: insert, or replace a row that is not live;
        changes one row, or none when a live row (a corrupt one too) is there.

        ``expired`` and ``sess`` in the ``WHERE`` are the existing row's. A row whose
        ``expired`` is not a number (NULL) is not live, as for ``get``.
        """
        return (
            f"INSERT INTO {self.quoted} (sid, expired, sess) VALUES (:sid, :expired, :sess) "
            "ON CONFLICT (sid) DO UPDATE SET expired = excluded.expired, sess = excluded.sess "
            f"WHERE NOT COALESCE(({LIVE}), 0)"
        )

    @cached_property
    def touch(self) -> str:
        """``:expired, :cookie, :sid, :now, :now_iso``: new expiry and cookie for a live session."""
        return (
            f"UPDATE {self.quoted} SET expired = :expired, sess = {REPLACE_COOKIE_FUNCTION}(sess, :cookie) "
            f"WHERE sid = :sid AND {LIVE}"
        )

    @cached_property
    def expire_now(self) -> str:
        """``:sid, :now``: delete a session (a touch whose new expiry is already past)."""
        return f"DELETE FROM {self.quoted} WHERE sid = :sid AND :now <= expired"

    @cached_property
    def count_live(self) -> str:
        """``:now, :now_iso`` -> the number of live sessions whose ``sess`` is a JSON object.

        The index on ``expired`` narrows the rows read to those live by their column.
        """
        return f"SELECT COUNT(*) FROM {self.quoted} WHERE {LIVE} AND ({SESSION_OBJECT})"

    @cached_property
    def page_items(self) -> str:
        """``:after, :now, :now_iso, :limit`` -> ``(rowid, sid, sess)`` of live sessions, in rowid order."""
        return (
            f"SELECT rowid, sid, sess FROM {self.quoted} NOT INDEXED "
            f"WHERE rowid > :after AND {LIVE} ORDER BY rowid LIMIT :limit"
        )

    @cached_property
    def delete_expired_batch(self) -> str:
        """``:now, :limit``: delete up to ``limit`` rows whose ``expired`` is past (``now > expired``)."""
        return (
            f"DELETE FROM {self.quoted} WHERE rowid IN "
            f"(SELECT rowid FROM {self.quoted} WHERE expired < :now LIMIT :limit)"
        )

    @cached_property
    def page_cookie_expired(self) -> str:
        """``:after, :now, :now_iso, :limit`` -> rowids of rows live by ``expired`` but not by cookie."""
        return (
            f"SELECT rowid FROM {self.quoted} NOT INDEXED "
            f"WHERE rowid > :after AND :now <= expired AND ({COOKIE_EXPIRED}) ORDER BY rowid LIMIT :limit"
        )

    @cached_property
    def delete_cookie_expired(self) -> str:
        """``:rowids`` (a JSON array), ``:now, :now_iso``: delete those still expired by cookie."""
        return (
            f"DELETE FROM {self.quoted} WHERE rowid IN (SELECT value FROM json_each(:rowids)) "
            f"AND ({COOKIE_EXPIRED})"
        )

    @cached_property
    def delete_any_batch(self) -> str:
        """``:limit``: delete up to ``limit`` rows (``clear``)."""
        return f"DELETE FROM {self.quoted} WHERE rowid IN (SELECT rowid FROM {self.quoted} LIMIT :limit)"


def cookie_replacer(serializer: Serializer) -> Callable[[str | bytes, str], str]:
    """The SQL function of ``touch`` (:data:`REPLACE_COOKIE_FUNCTION`): the stored session with
    its cookie replaced by the one in ``cookie_text`` (runs inside SQLite's UPDATE).
    """

    def replace_cookie(stored: str | bytes, cookie_text: str) -> str:
        current = serializer.loads(stored)
        current["cookie"] = serializer.loads(cookie_text)["cookie"]
        return serializer.dumps(current)

    return replace_cookie


def cookie_expired(json_type: str | None, value: object, now: int) -> int:
    """SQL function :data:`COOKIE_EXPIRED_FUNCTION`: 1 when a ``cookie.expires`` SQL cannot
    compare is at or before ``now``.

    A value that is no date (``false``, an object, unreadable text) is no expiry here: the
    row's ``expired`` column decides, and reading the session reports what is wrong.
    """
    if json_type not in ("text", "integer", "real"):
        return 0
    try:
        expires = parse_expires(value)
    except Exception:  # any unreadable value: never fail the whole statement over one row
        return 0
    return int(expires is not None and expires <= now)
