"""Opening the database: connect, switch to WAL, create or check the sessions table.

:func:`connect` runs on the connection's worker thread (plain blocking sqlite3 calls).
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Mapping
from typing import Any

from connectstore import Serializer, StoreError
from connectstore_sqlite.queries import (
    COOKIE_EXPIRED_FUNCTION,
    REPLACE_COOKIE_FUNCTION,
    Statements,
    cookie_expired,
    cookie_replacer,
)

__all__ = ["MEMORY", "SQLFunction", "connect", "connect_reader", "connector"]

logger = logging.getLogger("connectstore_sqlite")

MEMORY = ":memory:"

SQLFunction = tuple[int, Callable[..., Any]]
"""A Python function SQL statements call: ``(number of arguments, function)``."""


def connect(
    path: str,
    statements: Statements,
    *,
    timeout: float,
    synchronous: str,
    functions: Mapping[str, SQLFunction],
) -> sqlite3.Connection:
    """An autocommit connection to ``path`` with the sessions table ready and ``functions`` registered.

    The file is switched to WAL (persistent: other programs on the file then use it too).
    Raises ``sqlite3.Error`` for what SQLite refuses and :class:`StoreError` for a table
    that is not connect-sqlite3's or an SQLite without JSON functions.
    """
    conn = sqlite3.connect(path, timeout=timeout, isolation_level=None)
    try:
        _check_json_functions(conn)
        if path != MEMORY:
            [(mode,)] = conn.execute("PRAGMA journal_mode = WAL").fetchall()
            if str(mode).lower() != "wal":
                logger.warning("%s could not switch to WAL (journal_mode is %s)", path, mode)
        conn.execute(f"PRAGMA synchronous = {synchronous}")
        conn.execute(statements.create_table)
        check_layout(conn, statements, path)
        conn.execute(statements.create_index)
        for name, (arguments, function) in functions.items():
            conn.create_function(name, arguments, function, deterministic=True)
    except BaseException:
        conn.close()
        raise
    return conn


def connect_reader(path: str, functions: Mapping[str, SQLFunction]) -> sqlite3.Connection | None:
    """The connection the event loop reads through, or None (``":memory:"``, a file not in WAL mode).

    Opened after :func:`connect` (the table exists, the WAL index is built). It has no
    busy timeout (a read that meets a lock fails at once with SQLITE_BUSY, and the store
    sends it to the worker; if opening it fails, there is no reader), may be used from
    any thread (one at a time: the thread of the store's event loop) and refuses to
    write (``query_only``).
    """
    if path == MEMORY:
        return None
    conn = sqlite3.connect(path, timeout=0, isolation_level=None, check_same_thread=False)
    try:
        [(mode,)] = conn.execute("PRAGMA journal_mode").fetchall()
        if str(mode).lower() != "wal":
            conn.close()
            return None
        conn.execute("PRAGMA query_only = 1")
        for name, (arguments, function) in functions.items():
            conn.create_function(name, arguments, function, deterministic=True)
    except sqlite3.Error:  # no reader, then: every read goes to the worker
        conn.close()
        return None
    except BaseException:
        conn.close()
        raise
    return conn


def connector(
    path: str, statements: Statements, timeout: float, synchronous: str, serializer: Serializer
) -> tuple[Callable[[], sqlite3.Connection], Callable[[], sqlite3.Connection | None]]:
    """What opens the store's connection and its reader (on its worker thread), with the SQL functions.

    The connection holds its SQL functions where the garbage collector cannot see: none of
    them (nor this opener) may refer to the store, or a forgotten store could never be
    collected.
    """
    functions: dict[str, SQLFunction] = {
        REPLACE_COOKIE_FUNCTION: (2, cookie_replacer(serializer)),
        COOKIE_EXPIRED_FUNCTION: (3, cookie_expired),
    }
    return (
        lambda: connect(path, statements, timeout=timeout, synchronous=synchronous, functions=functions),
        lambda: connect_reader(path, functions),
    )


def check_layout(conn: sqlite3.Connection, statements: Statements, path: str) -> None:
    """Refuse an existing table that is not connect-sqlite3's (missing columns, sid not unique)."""
    table = statements.table
    columns = {row[1]: row for row in conn.execute(statements.table_info).fetchall()}
    missing = {"sid", "expired", "sess"} - set(columns)
    if missing:
        raise StoreError(
            f"table {table!r} in {path!r} is not a connect-sqlite3 sessions table "
            f"(no column {', '.join(sorted(missing))})"
        )
    primary_key = [name for name, row in columns.items() if row[5]]
    if primary_key == ["sid"]:
        return
    for index in conn.execute(statements.index_list).fetchall():
        if index[2]:  # unique
            names = [r[2] for r in conn.execute(f'PRAGMA index_info("{index[1]}")').fetchall()]
            if names == ["sid"]:
                return
    raise StoreError(f"table {table!r} in {path!r} has no PRIMARY KEY or UNIQUE index on sid")


def _check_json_functions(conn: sqlite3.Connection) -> None:
    """The store reads ``cookie.expires`` with SQLite's JSON functions (built in since 3.38)."""
    try:
        conn.execute("SELECT json_valid('{}'), json_extract('{}', '$.a'), json_type('{}')").fetchall()
    except sqlite3.OperationalError as exc:
        raise StoreError(
            f"SQLite {sqlite3.sqlite_version} has no JSON functions ({exc}); connectstore-sqlite "
            "needs SQLite 3.38 or newer, or one built with JSON1"
        ) from None
