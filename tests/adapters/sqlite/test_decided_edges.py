"""The contract's decided edges on SQLite: corrupt rows in listings, sids that are no str, batch_size."""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from connectstore import JSONSerializer, SessionData
from connectstore_sqlite import SQLiteStore
from connectstore_sqlite.queries import COOKIE_EXPIRED_FUNCTION, Statements, cookie_expired

from .helpers import T0, FakeClock, raw_rows, session_at

#: ``sess`` values that are no session: not JSON, JSON that is no object, text SQLite's
#: JSON functions read differently from Python (a NUL byte), and a NULL column.
CORRUPT: dict[str, Any] = {
    "truncated": '{"cookie": {',
    "not-json": "\x00{not json",
    "array": "[1, 2]",
    "null": "null",
    "number": "42",
    "empty": "",
    "nul-inside": '{"cookie": {}}\x00junk',
    "nan": '{"n": NaN}',
    "sql-null": None,
}


async def test_listings_skip_every_kind_of_corrupt_row_and_length_agrees(
    db_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """all/ids/items skip a corrupt row with a warning naming it; length() never fails on
    malformed JSON and counts exactly what all() lists, also across listing pages.
    """
    caplog.set_level(logging.WARNING, logger="connectstore")
    async with SQLiteStore(db_path, sweep_interval=None, batch_size=2) as store:
        live = {}
        for i, (name, stored) in enumerate(CORRUPT.items()):
            live[f"live{i}"] = session_at(None, i=i)
            await store.set(f"live{i}", live[f"live{i}"])
            await store.set(f"bad-{name}", session_at(None))
            raw_rows(db_path, "UPDATE sessions SET sess = ? WHERE sid = ?", (stored, f"bad-{name}"))
        assert await store.all() == live
        assert [sid async for sid in store.ids()] == list(live)
        assert [sid async for sid, _ in store.items()] == list(live)
        assert await store.length() == len(live)
        for name in CORRUPT:
            messages = [r.getMessage() for r in caplog.records if f"'bad-{name}'" in r.getMessage()]
            assert len(messages) == 3, (name, messages)  # one per listing: all, ids, items
        await store.clear()
        assert raw_rows(db_path, "SELECT count(*) FROM sessions") == [(0,)], "clear() removes them too"


async def test_length_leaves_out_an_expired_or_corrupt_row_and_uses_the_index(db_path: Path) -> None:
    clock = FakeClock()
    async with SQLiteStore(db_path, clock=clock, sweep_interval=None) as store:
        await store.set("live", session_at(T0 + 60_000))
        await store.set("old", session_at(T0 + 1000))
        await store.set("bad", session_at(T0 + 60_000))
        raw_rows(db_path, "UPDATE sessions SET sess = '{' WHERE sid = 'bad'")
        clock.now = T0 + 1000
        assert await store.length() == 1
    with contextlib.closing(sqlite3.connect(db_path)) as conn:
        conn.create_function(COOKIE_EXPIRED_FUNCTION, 3, cookie_expired)
        count_live = Statements("sessions").count_live
        plan = conn.execute(f"EXPLAIN QUERY PLAN {count_live}", {"now": T0, "now_iso": "x"}).fetchall()
    assert any("USING INDEX sessions_expired" in str(row) for row in plan), plan


class PrefixedJSON:
    """A serializer other than the default: JSON behind a version prefix (not JSON for SQLite)."""

    def dumps(self, session: Mapping[str, Any]) -> str:
        return "v1:" + JSONSerializer().dumps(session)

    def loads(self, data: str | bytes) -> SessionData:
        text = data.decode() if isinstance(data, bytes) else data
        if not text.startswith("v1:"):
            raise ValueError("no version prefix")
        value = json.loads(text[3:])
        if not isinstance(value, dict):
            raise ValueError("not an object")
        return value


async def test_length_with_another_serializer_counts_what_the_listings_list(db_path: Path) -> None:
    async with SQLiteStore(db_path, sweep_interval=None, serializer=PrefixedJSON()) as store:
        await store.set("a", session_at(None, n=1))
        await store.set("b", session_at(None, n=2))
        await store.set("bad", session_at(None, n=3))
        raw_rows(db_path, "UPDATE sessions SET sess = 'v2:{}' WHERE sid = 'bad'")
        assert sorted(await store.all()) == ["a", "b"]
        assert await store.length() == 2
        await store.touch("a", session_at(None, n=-1))
        assert (await store.get("a") or {})["n"] == 1


async def test_listings_read_batch_size_rows_at_a_time(db_path: Path) -> None:
    """A row added behind the listing's back after its first page was read is still listed
    when it lands on a later page: pages are ``batch_size`` rows.
    """
    async with SQLiteStore(db_path, sweep_interval=None, batch_size=2) as store:
        for i in range(3):
            await store.set(f"s{i}", session_at(None))
        seen: list[str] = []
        async for sid in store.ids():
            if not seen:
                text = json.dumps(session_at(None), separators=(",", ":"))
                raw_rows(db_path, "INSERT INTO sessions VALUES ('late', ?, ?)", (T0 * 2, text))
            seen.append(sid)
    assert seen == ["s0", "s1", "s2", "late"]


SID_METHODS = {
    "get": lambda store, sid: store.get(sid),
    "set": lambda store, sid: store.set(sid, session_at(None)),
    "destroy": lambda store, sid: store.destroy(sid),
    "touch": lambda store, sid: store.touch(sid, session_at(None)),
}


@pytest.mark.parametrize("method", sorted(SID_METHODS))
@pytest.mark.parametrize("sid", [1, None, b"abc"], ids=["int", "None", "bytes"])
async def test_a_sid_that_is_no_str_is_a_type_error_before_any_io(
    tmp_path: Path, method: str, sid: object
) -> None:
    """TypeError naming the type, before the store opens anything (its folder is missing:
    any I/O would raise StoreUnavailableError instead).
    """
    store = SQLiteStore(tmp_path / "missing" / "s.db", sweep_interval=None)
    try:
        with pytest.raises(TypeError, match=f"a session id is a str, not {type(sid).__name__}"):
            await SID_METHODS[method](store, sid)
    finally:
        await store.close()
    assert not (tmp_path / "missing").exists()
