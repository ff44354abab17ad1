"""The connect-sqlite3 table layout on disk, the expiry boundary, and existing tables."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from connectstore import JSONSerializer, StoreError, is_expired
from connectstore_sqlite import SQLiteStore

from .helpers import T0, FakeClock, raw_rows, session_at

# connect-sqlite3's own statements (lib/connect-sqlite3.js, npm 0.9.18).
NODE_CREATE = "CREATE TABLE IF NOT EXISTS sessions (sid PRIMARY KEY, expired, sess)"
NODE_GET = "SELECT sess FROM sessions WHERE sid = ? AND ? <= expired"
NODE_SET = "INSERT OR REPLACE INTO sessions VALUES (?, ?, ?)"


async def test_creates_connect_sqlite3_table_and_writes_its_row_format(db_path: Path) -> None:
    clock = FakeClock()
    session = session_at(T0 + 60_000, views=1, name="ünï")
    async with SQLiteStore(db_path, clock=clock, sweep_interval=None) as store:
        await store.set("abc", session)
    [(sql,)] = raw_rows(db_path, "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'sessions'")
    assert sql == 'CREATE TABLE "sessions" (sid PRIMARY KEY, expired, sess)'
    [(sid, expired, kind, sess)] = raw_rows(
        db_path, "SELECT sid, expired, typeof(expired), sess FROM sessions"
    )
    assert (sid, kind) == ("abc", "integer")
    assert expired == T0 + 60_000 - 1, "expired is the last live millisecond"
    assert sess == JSONSerializer().dumps(session)
    assert json.loads(sess) == session


async def test_file_is_in_wal_mode(db_path: Path) -> None:
    async with SQLiteStore(db_path, sweep_interval=None) as store:
        await store.length()
    assert raw_rows(db_path, "PRAGMA journal_mode") == [("wal",)]


async def test_expiry_boundary_agrees_with_is_expired_and_connect_sqlite3(db_path: Path) -> None:
    """A session written here is live exactly while ``is_expired`` says so, for both readers."""
    clock = FakeClock()
    session = session_at(T0 + 1000)
    async with SQLiteStore(db_path, clock=clock, sweep_interval=None) as store:
        await store.set("abc", session)
        for now in (T0 + 998, T0 + 999, T0 + 1000, T0 + 1001):
            clock.now = now
            live_here = await store.get("abc") is not None
            live_for_node = bool(raw_rows(db_path, NODE_GET, ("abc", now)))
            assert live_here == live_for_node == (not is_expired(session, now=now)), now


async def test_rows_written_by_connect_sqlite3_with_real_expiry_are_read(db_path: Path) -> None:
    """node-sqlite3 binds large numbers as REAL: ``expired`` like ``1795783204289.0``."""
    raw_rows(db_path, NODE_CREATE)
    text = json.dumps(session_at(T0 + 5000, views=3), separators=(",", ":"))
    raw_rows(db_path, NODE_SET, ("node", float(T0 + 5000), text))
    clock = FakeClock()
    async with SQLiteStore(db_path, clock=clock, sweep_interval=None) as store:
        assert await store.get("node") == json.loads(text)
        assert await store.length() == 1
        clock.now = T0 + 4999
        assert await store.get("node") is not None
        clock.now = T0 + 5000  # the cookie's own expiry: expired here (express-session's rule) ...
        assert await store.get("node") is None
        assert raw_rows(db_path, NODE_GET, ("node", T0 + 5000)), (
            "... while connect-sqlite3 keeps it 1 ms more"
        )
        clock.now = T0 + 5001
        assert await store.get("node") is None
        assert await store.length() == 0
        assert await store.all() == {}


async def test_existing_table_is_used_as_it_is(db_path: Path) -> None:
    raw_rows(db_path, NODE_CREATE)
    raw_rows(db_path, NODE_SET, ("kept", float(T0 + 5000), json.dumps(session_at(T0 + 5000))))
    before = raw_rows(db_path, "SELECT sql FROM sqlite_master WHERE name = 'sessions'")
    async with SQLiteStore(db_path, clock=FakeClock(), sweep_interval=None) as store:
        assert await store.length() == 1
    assert raw_rows(db_path, "SELECT sql FROM sqlite_master WHERE name = 'sessions'") == before
    assert raw_rows(db_path, "SELECT sid, typeof(expired) FROM sessions") == [("kept", "real")]


async def test_table_with_other_layout_is_refused_clearly(db_path: Path) -> None:
    raw_rows(
        db_path, "CREATE TABLE sessions (sid TEXT NOT NULL PRIMARY KEY, sess JSON NOT NULL, expire TEXT)"
    )
    store = SQLiteStore(db_path, sweep_interval=None)
    try:
        with pytest.raises(StoreError, match=r"not a connect-sqlite3 sessions table.*expired"):
            await store.get("x")
    finally:
        await store.close()


async def test_table_without_unique_sid_is_refused_clearly(db_path: Path) -> None:
    raw_rows(db_path, "CREATE TABLE sessions (sid, expired, sess)")
    store = SQLiteStore(db_path, sweep_interval=None)
    try:
        with pytest.raises(StoreError, match="PRIMARY KEY or UNIQUE index on sid"):
            await store.get("x")
    finally:
        await store.close()


async def test_table_with_unique_index_on_sid_is_accepted(db_path: Path) -> None:
    raw_rows(db_path, "CREATE TABLE sessions (id INTEGER PRIMARY KEY, sid TEXT, expired, sess)")
    raw_rows(db_path, "CREATE UNIQUE INDEX sessions_sid ON sessions (sid)")
    async with SQLiteStore(db_path, sweep_interval=None) as store:
        await store.set("a", session_at(None, n=1))
        await store.set("a", session_at(None, n=2))
        assert (await store.get("a") or {})["n"] == 2
    assert raw_rows(db_path, "SELECT count(*) FROM sessions") == [(1,)]


async def test_set_replaces_in_place_keeping_the_rowid(db_path: Path) -> None:
    """An upsert, not INSERT OR REPLACE: a listing in progress never sees a sid twice."""
    async with SQLiteStore(db_path, sweep_interval=None) as store:
        await store.set("a", session_at(None, n=1))
        [(rowid,)] = raw_rows(db_path, "SELECT rowid FROM sessions")
        await store.set("a", session_at(None, n=2))
    assert raw_rows(db_path, "SELECT rowid FROM sessions") == [(rowid,)]


async def test_session_without_expiry_lives_ttl_seconds(db_path: Path) -> None:
    clock = FakeClock()
    async with SQLiteStore(db_path, ttl=30, clock=clock, sweep_interval=None) as store:
        await store.set("a", session_at(None))
        assert raw_rows(db_path, "SELECT expired FROM sessions") == [(T0 + 30_000 - 1,)]
        clock.now = T0 + 29_999
        assert await store.get("a") is not None
        clock.now = T0 + 30_000
        assert await store.get("a") is None


async def test_default_ttl_is_one_day(db_path: Path) -> None:
    clock = FakeClock()
    async with SQLiteStore(db_path, clock=clock, sweep_interval=None) as store:
        await store.set("a", session_at(None))
    assert raw_rows(db_path, "SELECT expired FROM sessions") == [(T0 + 86_400_000 - 1,)]


async def test_two_tables_in_one_file_are_separate(db_path: Path) -> None:
    async with (
        SQLiteStore(db_path, sweep_interval=None) as first,
        SQLiteStore(db_path, table="admin_sessions", sweep_interval=None) as second,
    ):
        await first.set("a", session_at(None))
        await second.set("b", session_at(None))
        await first.clear()
        assert await first.length() == 0
        assert list(await second.all()) == ["b"]
