"""Helpers of the SQLite store tests: sessions, a settable clock, raw access to the file."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path
from typing import Any

from connectstore import SessionData
from connectstore.cookie import format_expires

#: An arbitrary fixed "now" (2030-01-01T00:00:00.000Z) for tests that set the clock.
T0 = 1_893_456_000_000


class FakeClock:
    """A clock in epoch milliseconds that only moves when a test moves it."""

    def __init__(self, now: int = T0) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


def session_at(expires_ms: int | None, max_age_ms: int | None = 60_000, **data: Any) -> SessionData:
    """An express-session session whose cookie expires at ``expires_ms`` (None: no expiry)."""
    expires = None if expires_ms is None else format_expires(expires_ms)
    original = None if expires_ms is None else max_age_ms
    return {"cookie": {"originalMaxAge": original, "expires": expires, "httpOnly": True, "path": "/"}, **data}


def raw_rows(path: Path, sql: str, parameters: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Run ``sql`` on the file with the standard library (what any other SQLite user sees)."""
    with contextlib.closing(sqlite3.connect(path, timeout=10)) as conn:
        rows = conn.execute(sql, parameters).fetchall()
        conn.commit()
        return rows
