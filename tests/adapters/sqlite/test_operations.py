"""touch, listings, streaming and bad data on a real SQLite file."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
from pathlib import Path

import pytest

from connectstore import SerializationError, SessionDecodeError
from connectstore.cookie import format_expires
from connectstore_sqlite import DEFAULT_BATCH_SIZE, SQLiteStore

from .helpers import T0, FakeClock, raw_rows, session_at


async def test_touch_rewrites_cookie_and_expiry_but_not_application_data(db_path: Path) -> None:
    clock = FakeClock()
    async with SQLiteStore(db_path, clock=clock, sweep_interval=None) as store:
        await store.set("a", session_at(T0 + 60_000, views=1, cart=[1, 2]))
        clock.now = T0 + 30_000
        touched = session_at(T0 + 30_000 + 120_000, max_age_ms=120_000, views=999, cart=None)
        await store.touch("a", touched)
        stored = await store.get("a")
    assert stored == {"cookie": touched["cookie"], "views": 1, "cart": [1, 2]}
    [(expired, sess)] = raw_rows(db_path, "SELECT expired, sess FROM sessions")
    assert expired == T0 + 150_000 - 1
    cookie = json.loads(sess)["cookie"]
    assert cookie["expires"] == format_expires(T0 + 150_000)
    assert cookie["originalMaxAge"] == 120_000
    assert sess.startswith('{"cookie":'), "the cookie keeps its place in the stored JSON"


async def test_touch_of_missing_or_expired_session_creates_nothing(db_path: Path) -> None:
    clock = FakeClock()
    async with SQLiteStore(db_path, clock=clock, sweep_interval=None) as store:
        await store.touch("missing", session_at(T0 + 60_000))
        await store.set("old", session_at(T0 + 1000))
        clock.now = T0 + 1000
        await store.touch("old", session_at(T0 + 60_000))
        assert await store.get("old") is None
        assert await store.get("missing") is None
    assert raw_rows(db_path, "SELECT sid, expired FROM sessions") == [("old", T0 + 999)]


async def test_touch_with_expiry_in_the_past_ends_the_session(db_path: Path) -> None:
    clock = FakeClock()
    async with SQLiteStore(db_path, clock=clock, sweep_interval=None) as store:
        await store.set("a", session_at(T0 + 60_000))
        await store.touch("a", session_at(T0 - 1))
        assert await store.get("a") is None


async def test_touch_without_cookie_expiry_extends_by_ttl(db_path: Path) -> None:
    clock = FakeClock()
    async with SQLiteStore(db_path, ttl=10, clock=clock, sweep_interval=None) as store:
        await store.set("a", session_at(T0 + 1000, n=1))
        await store.touch("a", session_at(None))
        clock.now = T0 + 9_999
        assert await store.get("a") == {**session_at(None), "n": 1}


async def test_touch_never_loses_a_concurrent_set(db_path: Path) -> None:
    """Writer and toucher on two connections (as two processes would be): the last set wins."""
    async with (
        SQLiteStore(db_path, sweep_interval=None) as writer,
        SQLiteStore(db_path, sweep_interval=None) as toucher,
    ):
        await writer.set("a", session_at(T0 * 2, n=0))

        async def write() -> None:
            for n in range(1, 301):
                await writer.set("a", session_at(T0 * 2, n=n))

        async def touch() -> None:
            for i in range(300):
                await toucher.touch("a", session_at(T0 * 2 + i, n=-1))

        await asyncio.gather(write(), touch())
        stored = await writer.get("a")
    assert stored is not None
    assert stored["n"] == 300


async def test_corrupt_json_names_the_session_and_spares_the_others(
    db_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="connectstore")
    async with SQLiteStore(db_path, sweep_interval=None) as store:
        await store.set("good", session_at(None, n=1))
        await store.set("bad", session_at(None, n=2))
        raw_rows(db_path, "UPDATE sessions SET sess = '{\"cookie\": {' WHERE sid = 'bad'")
        with pytest.raises(SessionDecodeError) as caught:
            await store.get("bad")
        assert caught.value.sid == "bad"
        assert (await store.get("good") or {})["n"] == 1
        with pytest.raises(SessionDecodeError) as touched:
            await store.touch("bad", session_at(None))
        assert touched.value.sid == "bad"
        assert list(await store.all()) == ["good"], "listings skip a corrupt row"
        assert [sid async for sid in store.ids()] == ["good"]
        assert [sid async for sid, _ in store.items()] == ["good"]
        assert await store.length() == 1, "length() counts what all() lists"
        warnings = [r for r in caplog.records if r.name == "connectstore" and r.levelno == logging.WARNING]
        assert len(warnings) == 3, "one warning per listing that met the row"
        assert all("'bad'" in r.getMessage() and "cookie" not in r.getMessage() for r in warnings)
    [(sess,)] = raw_rows(db_path, "SELECT sess FROM sessions WHERE sid = 'bad'")
    assert sess == '{"cookie": {', "a failed touch leaves the row as it was"


@pytest.mark.parametrize("stored", ["[1, 2]", "null", "", "\x00"])
async def test_stored_values_that_are_no_session_raise_decode_error(db_path: Path, stored: str) -> None:
    async with SQLiteStore(db_path, sweep_interval=None) as store:
        await store.set("x", session_at(None))
        raw_rows(db_path, "UPDATE sessions SET sess = ? WHERE sid = 'x'", (stored,))
        with pytest.raises(SessionDecodeError):
            await store.get("x")


async def test_null_sess_column_raises_decode_error(db_path: Path) -> None:
    async with SQLiteStore(db_path, sweep_interval=None) as store:
        await store.set("x", session_at(None))
        raw_rows(db_path, "UPDATE sessions SET sess = NULL WHERE sid = 'x'")
        with pytest.raises(SessionDecodeError):
            await store.get("x")


async def test_unstorable_session_writes_nothing(db_path: Path) -> None:
    async with SQLiteStore(db_path, sweep_interval=None) as store:
        await store.set("a", session_at(None, n=1))
        with pytest.raises(SerializationError):
            await store.set("a", session_at(None, n=float("nan")))
        with pytest.raises(SerializationError):
            await store.set("a", {"cookie": "not an object"})
        assert (await store.get("a") or {})["n"] == 1


async def test_sid_must_be_text(db_path: Path) -> None:
    async with SQLiteStore(db_path, sweep_interval=None) as store:
        with pytest.raises(TypeError):
            await store.get(1)  # type: ignore[arg-type]


async def test_listings_count_live_rows_only(db_path: Path) -> None:
    clock = FakeClock()
    async with SQLiteStore(db_path, clock=clock, sweep_interval=None) as store:
        for i in range(10):
            await store.set(f"s{i}", session_at(T0 + 1000 * (i + 1), i=i))
        clock.now = T0 + 5000  # s0..s4 expired (still on disk: no cleanup ran)
        assert await store.length() == 5
        assert sorted(await store.all()) == [f"s{i}" for i in range(5, 10)]
        assert sorted([sid async for sid in store.ids()]) == [f"s{i}" for i in range(5, 10)]
        assert sorted([s["i"] async for _, s in store.items()]) == [5, 6, 7, 8, 9]
    assert raw_rows(db_path, "SELECT count(*) FROM sessions") == [(10,)]


async def test_streaming_crosses_pages_and_reports_each_sid_once(db_path: Path) -> None:
    count = DEFAULT_BATCH_SIZE * 2 + 7
    async with SQLiteStore(db_path, sweep_interval=None) as store:
        for i in range(count):
            await store.set(f"s{i:05d}", session_at(None, i=i))
        seen: list[str] = []
        async for sid in store.ids():
            if len(seen) == DEFAULT_BATCH_SIZE + 3:  # rewrites during the listing must not repeat a sid
                await store.set("s00000", session_at(None, i=-1))
                await store.set(f"s{count - 1:05d}", session_at(None, i=-1))
            seen.append(sid)
        assert len(seen) == len(set(seen)) == count
        items = {sid: s["i"] async for sid, s in store.items()}
        assert len(items) == count
        assert items["s00000"] == -1


async def test_clear_removes_every_row_in_batches(db_path: Path) -> None:
    async with SQLiteStore(db_path, sweep_interval=None) as store:
        await store.length()  # creates the table
        rows = [(f"s{i}", T0 * 2, json.dumps(session_at(None))) for i in range(12_345)]
        with contextlib.closing(sqlite3.connect(db_path)) as conn:
            conn.executemany("INSERT INTO sessions VALUES (?, ?, ?)", rows)
            conn.commit()
        assert await store.length() == 12_345
        await store.clear()
        assert await store.length() == 0
    assert raw_rows(db_path, "SELECT count(*) FROM sessions") == [(0,)]
