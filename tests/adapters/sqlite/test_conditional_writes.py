"""get_versioned, set_if and create on a real SQLite file: what each writes, and when it refuses.

The version of a row is its stored ``sess`` text. These tests read the file with the
standard library (what connect-sqlite3 and any other SQLite user see) to check that a
conditional write stores exactly what ``set`` stores, and write it behind the store's
back to check that any change of the row changes its version.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from connectstore import (
    NO_VERSION,
    JSONSerializer,
    SerializationError,
    SessionDecodeError,
    Versioned,
    supports,
)
from connectstore_sqlite import SQLiteStore

from .helpers import T0, FakeClock, raw_rows, session_at

MINUTE = 60_000


def stored(db_path: Path, sid: str) -> tuple[object, str] | None:
    """``(expired, sess)`` of ``sid`` as the file holds them, or None."""
    rows = raw_rows(db_path, "SELECT expired, sess FROM sessions WHERE sid = ?", (sid,))
    return (rows[0][0], rows[0][1]) if rows else None


async def opened(store: SQLiteStore) -> SQLiteStore:
    """``store`` once it has opened the file (the table exists for raw writes)."""
    await store.length()
    return store


async def test_get_versioned_is_get_with_the_stored_text_as_version(db_path: Path) -> None:
    async with SQLiteStore(db_path, clock=FakeClock(), sweep_interval=None) as store:
        session = session_at(T0 + MINUTE, views=1, user={"name": "Zoë"})
        await store.set("a", session)
        got = await store.get_versioned("a")
        assert isinstance(got, Versioned)
        assert got.session == session == await store.get("a")
        assert got.version == (stored(db_path, "a") or (None, ""))[1]
        got.session["views"] = 2
        assert (await store.get("a") or {})["views"] == 1, "the session is the caller's own dict"
        assert await store.get_versioned("missing") is None
        with pytest.raises(TypeError, match="a session id is a str, not int"):
            await store.get_versioned(1)  # type: ignore[arg-type]


async def test_get_versioned_of_expired_or_corrupt_rows(db_path: Path) -> None:
    clock = FakeClock()
    async with SQLiteStore(db_path, clock=clock, sweep_interval=None) as store:
        await store.set("short", session_at(T0 + 1000))
        await store.set("bad", session_at(T0 + MINUTE))
        raw_rows(db_path, "UPDATE sessions SET sess = '{\"cookie\": {' WHERE sid = 'bad'")
        with pytest.raises(SessionDecodeError) as raised:
            await store.get_versioned("bad")
        assert raised.value.sid == "bad"
        assert await store.get_versioned("short") is not None
        clock.now = T0 + 1000
        assert await store.get_versioned("short") is None


async def test_set_if_writes_what_set_writes_and_returns_the_next_version(db_path: Path) -> None:
    async with SQLiteStore(db_path, clock=FakeClock(), sweep_interval=None) as store:
        await store.set("a", session_at(T0 + MINUTE, n=1))
        loaded = await store.get_versioned("a")
        assert loaded is not None
        new = session_at(T0 + 2 * MINUTE, n=2, cart=[1, 2.5, None])
        version = await store.set_if("a", new, loaded.version)
        assert version is not None
        assert version != loaded.version
        assert await store.get_versioned("a") == (new, version)
        await store.set("b", new)
    assert stored(db_path, "a") == stored(db_path, "b") == (T0 + 2 * MINUTE - 1, version)
    assert version == JSONSerializer().dumps(new), "express-session's JSON, no version field"


async def test_set_if_over_a_changed_row_writes_nothing(db_path: Path) -> None:
    async with SQLiteStore(db_path, clock=FakeClock(), sweep_interval=None) as store:
        await store.set("a", session_at(T0 + MINUTE, n=1))
        first = await store.get_versioned("a")
        assert first is not None
        await store.set("a", session_at(T0 + MINUTE, n=2))
        before = stored(db_path, "a")
        assert await store.set_if("a", session_at(T0 + MINUTE, n=3), first.version) is None
        assert stored(db_path, "a") == before
        assert await store.set_if("a", session_at(T0 + MINUTE, n=3), "not a version") is None
        assert await store.set_if("missing", session_at(T0 + MINUTE), first.version) is None
        assert stored(db_path, "missing") is None, "set_if never creates"


async def test_set_if_never_brings_back_a_destroyed_session(db_path: Path) -> None:
    async with SQLiteStore(db_path, clock=FakeClock(), sweep_interval=None) as store:
        version = await store.create("a", session_at(T0 + MINUTE, n=1))
        assert version is not None
        await store.destroy("a")
        assert await store.set_if("a", session_at(T0 + MINUTE, n=2), version) is None
        assert stored(db_path, "a") is None


async def test_set_if_over_an_expired_row_writes_nothing(db_path: Path) -> None:
    clock = FakeClock()
    async with SQLiteStore(db_path, clock=clock, sweep_interval=None) as store:
        await store.set("a", session_at(T0 + 1000, n=1))
        loaded = await store.get_versioned("a")
        assert loaded is not None
        clock.now = T0 + 1000  # the row's expiry (expired = T0 + 999)
        before = stored(db_path, "a")
        assert await store.set_if("a", session_at(T0 + MINUTE, n=2), loaded.version) is None
        assert stored(db_path, "a") == before


async def test_set_if_over_a_row_whose_cookie_expired_writes_nothing(db_path: Path) -> None:
    """connect-sqlite3 can give a row a column that outlives its cookie: the cookie decides."""
    clock = FakeClock()
    async with SQLiteStore(db_path, clock=clock, sweep_interval=None) as store:
        text = json.dumps(session_at(T0 - 1, n=1), separators=(",", ":"))
        await opened(store)
        raw_rows(db_path, "INSERT INTO sessions VALUES ('a', ?, ?)", (float(T0 + 86_400_000), text))
        assert await store.get_versioned("a") is None
        assert await store.set_if("a", session_at(T0 + MINUTE, n=2), text) is None
        assert await store.set_if("a", session_at(T0 - 1, n=2), text) is None, "nor deletes it"
    assert stored(db_path, "a") == (float(T0 + 86_400_000), text)


async def test_set_if_with_an_expiry_already_past_deletes_the_matching_row(db_path: Path) -> None:
    async with SQLiteStore(db_path, clock=FakeClock(), sweep_interval=None) as store:
        first = await store.create("a", session_at(T0 + MINUTE, n=1))
        assert first is not None
        second = await store.set_if("a", session_at(T0 + MINUTE, n=2), first)
        assert second is not None
        assert await store.set_if("a", session_at(T0 - 1, n=3), first) is None, "a stale delete"
        assert stored(db_path, "a") is not None
        assert await store.set_if("a", session_at(T0, n=3), second) == NO_VERSION
        assert stored(db_path, "a") is None
        assert await store.set_if("a", session_at(T0 + MINUTE), NO_VERSION) is None
        assert stored(db_path, "a") is None


async def test_no_version_matches_no_row_not_even_an_empty_one(db_path: Path) -> None:
    async with SQLiteStore(db_path, clock=FakeClock(), sweep_interval=None) as store:
        await opened(store)
        raw_rows(db_path, "INSERT INTO sessions VALUES ('empty', ?, '')", (T0 + MINUTE,))
        assert await store.set_if("empty", session_at(T0 + MINUTE), NO_VERSION) is None
        assert await store.set_if("empty", session_at(T0 - 1), NO_VERSION) is None
    assert stored(db_path, "empty") == (T0 + MINUTE, "")


async def test_set_if_refuses_bad_input_before_writing(db_path: Path) -> None:
    async with SQLiteStore(db_path, clock=FakeClock(), sweep_interval=None) as store:
        version = await store.create("a", session_at(T0 + MINUTE, n=1))
        assert version is not None
        before = stored(db_path, "a")
        with pytest.raises(SerializationError):
            await store.set_if("a", session_at(T0 + MINUTE, n={1, 2}), version)
        with pytest.raises(SerializationError):
            await store.set_if("a", session_at(T0 - 1, n={1, 2}), version)
        with pytest.raises(TypeError, match="a session id is a str, not bytes"):
            await store.set_if(b"a", session_at(T0 + MINUTE), version)  # type: ignore[arg-type]
        with pytest.raises(SerializationError):
            await store.create("b", session_at(T0 + MINUTE, n=float("nan")))
        with pytest.raises(TypeError, match="a session id is a str, not NoneType"):
            await store.create(None, session_at(T0 + MINUTE))  # type: ignore[arg-type]
        assert stored(db_path, "a") == before
        assert stored(db_path, "b") is None
        assert await store.set_if("a", session_at(T0 + MINUTE, n=2), version) is not None


async def test_a_raw_write_from_another_connection_changes_the_version(db_path: Path) -> None:
    async with SQLiteStore(db_path, clock=FakeClock(), sweep_interval=None) as store:
        await store.set("a", session_at(T0 + MINUTE, n=1))
        loaded = await store.get_versioned("a")
        assert loaded is not None
        changed = json.dumps(session_at(T0 + MINUTE, n=1, other=True), separators=(",", ":"))
        raw_rows(db_path, "UPDATE sessions SET sess = ? WHERE sid = 'a'", (changed,))
        now = await store.get_versioned("a")
        assert now is not None
        assert now.version != loaded.version
        assert await store.set_if("a", session_at(T0 + MINUTE, n=2), loaded.version) is None
        assert stored(db_path, "a") == (T0 + MINUTE - 1, changed)
        assert await store.set_if("a", session_at(T0 + MINUTE, n=2), now.version) is not None


async def test_touch_changes_the_version(db_path: Path) -> None:
    clock = FakeClock()
    async with SQLiteStore(db_path, clock=clock, sweep_interval=None) as store:
        await store.set("a", session_at(T0 + MINUTE, n=1))
        loaded = await store.get_versioned("a")
        assert loaded is not None
        clock.now = T0 + 1000
        await store.touch("a", session_at(T0 + 1000 + MINUTE))
        touched = await store.get_versioned("a")
        assert touched is not None
        assert touched.version != loaded.version
        assert touched.session["n"] == 1
        assert await store.set_if("a", session_at(T0 + MINUTE, n=2), loaded.version) is None
        assert await store.set_if("a", session_at(T0 + 2 * MINUTE, n=2), touched.version) is not None


async def test_a_blob_sess_has_its_text_as_version(db_path: Path) -> None:
    """A row another program stored as a BLOB is read, and compared, as its text."""
    async with SQLiteStore(db_path, clock=FakeClock(), sweep_interval=None) as store:
        text = json.dumps(session_at(T0 + MINUTE, n=1), separators=(",", ":"))
        await opened(store)
        raw_rows(db_path, "INSERT INTO sessions VALUES ('a', ?, ?)", (T0 + MINUTE, text.encode()))
        loaded = await store.get_versioned("a")
        assert loaded is not None
        assert loaded.version == text
        assert loaded.session["n"] == 1
        version = await store.set_if("a", session_at(T0 + MINUTE, n=2), loaded.version)
        assert version is not None
    assert raw_rows(db_path, "SELECT typeof(sess), sess FROM sessions") == [("text", version)]


async def test_create_writes_what_set_writes_only_where_no_live_session_is(db_path: Path) -> None:
    async with SQLiteStore(db_path, clock=FakeClock(), sweep_interval=None) as store:
        session = session_at(T0 + MINUTE, user="alice")
        version = await store.create("a", session)
        assert version is not None
        assert await store.get_versioned("a") == (session, version)
        assert await store.create("a", session_at(T0 + MINUTE, user="mallory")) is None
        assert await store.get("a") == session
        await store.set("b", session)
    assert stored(db_path, "a") == stored(db_path, "b") == (T0 + MINUTE - 1, version)


async def test_create_over_expired_rows_replaces_them(db_path: Path) -> None:
    clock = FakeClock()
    async with SQLiteStore(db_path, clock=clock, sweep_interval=None) as store:
        await store.set("by-column", session_at(T0 + 1000, n=1))
        cookie_past = json.dumps(session_at(T0 - 1, n=1), separators=(",", ":"))
        raw_rows(db_path, "INSERT INTO sessions VALUES ('by-cookie', ?, ?)", (T0 + 86_400_000, cookie_past))
        cookie_live = json.dumps(session_at(T0 + MINUTE, n=1), separators=(",", ":"))
        raw_rows(db_path, "INSERT INTO sessions VALUES ('no-column', NULL, ?)", (cookie_live,))
        clock.now = T0 + 1000
        for sid in ("by-column", "by-cookie", "no-column"):
            assert await store.get(sid) is None
            version = await store.create(sid, session_at(T0 + MINUTE, n=2))
            assert version is not None, sid
            assert stored(db_path, sid) == (T0 + MINUTE - 1, version)
        rows = raw_rows(db_path, "SELECT COUNT(*) FROM sessions")
    assert rows == [(3,)]


async def test_create_over_a_corrupt_row_writes_nothing(db_path: Path) -> None:
    async with SQLiteStore(db_path, clock=FakeClock(), sweep_interval=None) as store:
        await opened(store)
        raw_rows(db_path, "INSERT INTO sessions VALUES ('bad', ?, '{not json')", (T0 + MINUTE,))
        assert await store.create("bad", session_at(T0 + MINUTE)) is None
        assert await store.create("bad", session_at(T0 - 1)) is None
    assert stored(db_path, "bad") == (T0 + MINUTE, "{not json")


async def test_create_with_an_expiry_already_past_writes_nothing(db_path: Path) -> None:
    async with SQLiteStore(db_path, clock=FakeClock(), sweep_interval=None) as store:
        assert await store.create("new", session_at(T0)) == NO_VERSION
        assert stored(db_path, "new") is None
        live = session_at(T0 + MINUTE, n=1)
        await store.set("live", live)
        assert await store.create("live", session_at(T0 - 1)) is None
        assert await store.get("live") == live


async def test_conditional_writes_on_a_memory_database() -> None:
    """``:memory:`` has no reader connection: every call runs on the worker, with the same results."""
    clock = FakeClock()
    async with SQLiteStore(":memory:", clock=clock, sweep_interval=None) as store:
        first = await store.create("a", session_at(T0 + MINUTE, n=1))
        assert first is not None
        assert await store.create("a", session_at(T0 + MINUTE, n=9)) is None
        second = await store.set_if("a", session_at(T0 + MINUTE, n=2), first)
        assert second is not None
        assert await store.set_if("a", session_at(T0 + MINUTE, n=3), first) is None
        assert await store.get_versioned("a") == (session_at(T0 + MINUTE, n=2), second)
        assert await store.create("b", session_at(T0 - 1)) == NO_VERSION
        assert await store.set_if("a", session_at(T0 - 1), second) == NO_VERSION
        assert await store.get_versioned("a") is None


def test_the_store_declares_the_conditional_writes() -> None:
    store = SQLiteStore(":memory:")
    assert all(supports(store, name) for name in ("get_versioned", "set_if", "create"))
