"""A session whose own ``cookie.expires`` is past is expired, whatever the ``expired`` column says.

The rows here are written behind the store's back with the standard library, as another
program (connect-sqlite3 on a loaded machine, a migration script) could leave them: an
``expired`` column a day ahead and a cookie that has already expired.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from email.utils import formatdate
from pathlib import Path
from typing import Any

import pytest

from connectstore import is_expired
from connectstore.cookie import format_expires
from connectstore_sqlite import SQLiteStore
from connectstore_sqlite.queries import DELETE_BATCH

from .helpers import T0, FakeClock, raw_rows, session_at

DAY = 86_400_000
CREATE = "CREATE TABLE IF NOT EXISTS sessions (sid PRIMARY KEY, expired, sess)"
INSERT = "INSERT INTO sessions VALUES (?, ?, ?)"

# cookie.expires one second before T0, in every form a writer may have used
PAST_EXPIRIES: dict[str, Any] = {
    "canonical": format_expires(T0 - 1000),
    "epoch-ms": T0 - 1000,
    "epoch-ms-real": float(T0 - 1000),
    "rfc1123": formatdate((T0 - 1000) / 1000, usegmt=True),
    "offset": "2030-01-01T01:59:59.000+02:00",
    "no-millis": "2029-12-31T23:59:59Z",
}


def write_row(path: Path, sid: str, expired: float, expires: Any, **data: Any) -> None:
    """A row as another program writes it: ``expired`` column and ``cookie.expires`` chosen freely."""
    session = {"cookie": {"originalMaxAge": 1, "expires": expires, "httpOnly": True, "path": "/"}, **data}
    raw_rows(path, CREATE)
    raw_rows(path, INSERT, (sid, expired, json.dumps(session, separators=(",", ":"))))


@pytest.mark.parametrize("column", [int, float], ids=["integer-column", "real-column"])
async def test_expired_cookie_hides_the_row_from_every_read(db_path: Path, column: type) -> None:
    for form, expires in PAST_EXPIRIES.items():
        write_row(db_path, f"past-{form}", column(T0 + DAY), expires)
    write_row(db_path, "live", column(T0 + DAY), format_expires(T0 + 60_000), n=1)
    write_row(db_path, "browser-session", column(T0 + DAY), None, n=2)
    async with SQLiteStore(db_path, clock=FakeClock(), sweep_interval=None) as store:
        for form in PAST_EXPIRIES:
            assert await store.get(f"past-{form}") is None, form
        assert await store.length() == 2
        assert sorted(await store.all()) == ["browser-session", "live"]
        assert sorted([sid async for sid in store.ids()]) == ["browser-session", "live"]
        assert sorted([sid async for sid, _ in store.items()]) == ["browser-session", "live"]


async def test_touch_does_not_bring_an_expired_cookie_back(db_path: Path) -> None:
    write_row(db_path, "past", T0 + DAY, format_expires(T0 - 1000), n=1)
    before = raw_rows(db_path, "SELECT expired, sess FROM sessions")
    async with SQLiteStore(db_path, clock=FakeClock(), sweep_interval=None) as store:
        await store.touch("past", session_at(T0 + 600_000))
        assert await store.get("past") is None
    assert raw_rows(db_path, "SELECT expired, sess FROM sessions") == before


async def test_the_cookie_boundary_is_is_expired(db_path: Path) -> None:
    """Expired from the cookie's own millisecond on, as ``connectstore.is_expired`` says."""
    write_row(db_path, "a", T0 + DAY, format_expires(T0 + 1000))
    [(text,)] = raw_rows(db_path, "SELECT sess FROM sessions")
    clock = FakeClock()
    async with SQLiteStore(db_path, clock=clock, sweep_interval=None) as store:
        for now in (T0 + 999, T0 + 1000, T0 + 1001):
            clock.now = now
            assert (await store.get("a") is None) == is_expired(json.loads(text), now=now), now
            assert await store.length() == (0 if is_expired(json.loads(text), now=now) else 1)


@pytest.mark.parametrize("expires", [False, {}, [], "soon", "2030-13-45T99:99:99.999Z"])
async def test_a_cookie_expiry_that_is_no_date_leaves_it_to_the_column(db_path: Path, expires: Any) -> None:
    write_row(db_path, "odd", T0 + DAY, expires)
    clock = FakeClock()
    async with SQLiteStore(db_path, clock=clock, sweep_interval=None) as store:
        assert await store.length() == 1
        assert [sid async for sid in store.ids()] == ["odd"]
        clock.now = T0 + DAY + 1
        assert await store.length() == 0


async def test_sweep_deletes_rows_whose_cookie_expired(db_path: Path) -> None:
    """The sweep deletes them too (in pages, re-checking each row when it deletes)."""
    for i in range(12):
        write_row(db_path, f"past{i}", T0 + DAY, format_expires(T0 - 1000 - i))
    write_row(db_path, "column-past", T0 - 1, format_expires(T0 + DAY))
    write_row(db_path, "live", T0 + DAY, format_expires(T0 + 60_000))
    write_row(db_path, "not-json", T0 + DAY, None)
    raw_rows(db_path, "UPDATE sessions SET sess = '{\"cookie\": {' WHERE sid = 'not-json'")
    async with SQLiteStore(db_path, clock=FakeClock(), sweep_interval=None) as store:
        assert await store.sweep() == 13
        assert await store.sweep() == 0
    assert sorted(raw_rows(db_path, "SELECT sid FROM sessions")) == [("live",), ("not-json",)]


async def test_sweep_pages_through_many_rows_whose_cookie_expired(db_path: Path) -> None:
    raw_rows(db_path, CREATE)
    past = json.dumps(session_at(T0 - 1000), separators=(",", ":"))
    live = json.dumps(session_at(T0 + 60_000), separators=(",", ":"))
    rows = [(f"s{i}", T0 + DAY, live if i % 3 == 0 else past) for i in range(DELETE_BATCH * 2 + 11)]
    with contextlib.closing(sqlite3.connect(db_path, timeout=10)) as conn:
        conn.executemany(INSERT, rows)
        conn.commit()
    expected_live = sum(1 for i in range(len(rows)) if i % 3 == 0)
    async with SQLiteStore(db_path, clock=FakeClock(), sweep_interval=None) as store:
        assert await store.length() == expected_live
        assert await store.sweep() == len(rows) - expected_live
        assert await store.length() == expected_live
    assert raw_rows(db_path, "SELECT count(*) FROM sessions") == [(expected_live,)]
