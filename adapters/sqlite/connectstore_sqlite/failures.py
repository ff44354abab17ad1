"""Turning sqlite3 errors into connectstore's typed errors.

A database that is locked for longer than the store's ``timeout``, a file that cannot be
opened, a full disk or an I/O error is the SQLite form of "the backend is down":
:class:`~connectstore.StoreUnavailableError`. Anything else SQLite refuses is a
:class:`~connectstore.StoreError` naming the database.
"""

from __future__ import annotations

import sqlite3
from typing import Final

from connectstore import StoreError, StoreUnavailableError

__all__ = ["is_udf_failure", "is_unavailable", "translate"]

# SQLite primary result codes (stable C API numbers; Python names them only from 3.11).
_UNAVAILABLE_CODES: Final = frozenset(
    {
        5,  # SQLITE_BUSY: locked by another connection beyond the busy timeout
        6,  # SQLITE_LOCKED
        8,  # SQLITE_READONLY: file or directory not writable
        10,  # SQLITE_IOERR
        13,  # SQLITE_FULL
        14,  # SQLITE_CANTOPEN
        15,  # SQLITE_PROTOCOL: WAL lock protocol race that outlasted the retries
    }
)
_UNAVAILABLE_MESSAGES: Final = ("locked", "unable to open", "disk i/o", "is full", "readonly", "busy")
_UDF_FAILURE: Final = "user-defined function raised exception"


def is_unavailable(exc: sqlite3.Error) -> bool:
    """Whether ``exc`` means "cannot reach the data right now" rather than "bad request"."""
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(code, int):
        return (code & 0xFF) in _UNAVAILABLE_CODES
    message = str(exc).lower()
    return any(fragment in message for fragment in _UNAVAILABLE_MESSAGES)


def is_udf_failure(exc: sqlite3.Error) -> bool:
    """Whether ``exc`` is SQLite reporting that a Python SQL function raised."""
    return _UDF_FAILURE in str(exc)


def translate(exc: sqlite3.Error, database: str) -> StoreError:
    """The connectstore error to raise for ``exc`` (chain it with ``from exc``)."""
    if is_unavailable(exc):
        return StoreUnavailableError(f"SQLite database {database!r} is unavailable: {exc}")
    return StoreError(f"SQLite database {database!r}: {exc}")
