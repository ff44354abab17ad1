"""Writes in flight together share the worker's turn; quick reads never wait behind a lock."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from connectstore import SessionDecodeError, StoreUnavailableError
from connectstore_sqlite import SQLiteStore

from .helpers import raw_rows, session_at


async def test_concurrent_writes_each_get_their_own_outcome(db_path: Path) -> None:
    async with SQLiteStore(db_path, sweep_interval=None) as store:
        await store.set("bad", session_at(None, n=0))
        raw_rows(db_path, "UPDATE sessions SET sess = '{\"cookie\": {' WHERE sid = 'bad'")
        calls = [store.set(f"s{i}", session_at(None, n=i)) for i in range(40)]
        calls.insert(20, store.touch("bad", session_at(None)))  # fails inside the batch
        calls.append(store.destroy("s0"))
        outcomes = await asyncio.gather(*calls, return_exceptions=True)
        failed = [o for o in outcomes if isinstance(o, BaseException)]
        assert len(failed) == 1, outcomes
        assert isinstance(failed[0], SessionDecodeError)
        assert failed[0].sid == "bad"
        assert await store.get("s0") is None, "the destroy queued after the set ran after it"
        for i in range(1, 40):
            assert (await store.get(f"s{i}") or {})["n"] == i
    assert len(raw_rows(db_path, "SELECT sid FROM sessions")) == 40  # s1..s39 and the corrupt row


async def test_a_write_withdrawn_before_the_worker_took_it_never_lands(db_path: Path) -> None:
    async with SQLiteStore(db_path, sweep_interval=None) as store:
        await store.set("kept", session_at(None, n=1))
        # Keep the worker busy: a write it has claimed that waits for another process's lock.
        locker = sqlite3.connect(db_path, isolation_level=None, timeout=10)
        locker.execute("BEGIN IMMEDIATE")
        try:
            first = asyncio.ensure_future(store.set("first", session_at(None, n=1)))
            await asyncio.sleep(0.05)
            second = asyncio.ensure_future(store.set("second", session_at(None, n=2)))
            await asyncio.sleep(0)
            second.cancel()
            with pytest.raises(asyncio.CancelledError):
                await second
        finally:
            locker.execute("ROLLBACK")
            locker.close()
        await first
        assert await store.get("second") is None, "a cancelled write queued behind a busy worker never ran"
        assert (await store.get("first") or {})["n"] == 1


async def test_a_get_is_answered_while_a_set_waits_for_another_process_lock(db_path: Path) -> None:
    async with SQLiteStore(db_path, sweep_interval=None, timeout=30) as store:
        await store.set("a", session_at(None, n=1))
        locker = sqlite3.connect(db_path, isolation_level=None, timeout=10)
        locker.execute("BEGIN IMMEDIATE")
        try:
            waiting = asyncio.ensure_future(store.set("b", session_at(None, n=2)))
            await asyncio.sleep(0.05)
            assert not waiting.done(), "the set waits for the lock"
            assert (await store.get("a") or {})["n"] == 1, "the read did not queue behind it"
        finally:
            locker.execute("ROLLBACK")
            locker.close()
        await waiting
        assert (await store.get("b") or {})["n"] == 2


async def test_writes_that_find_the_lock_taken_all_fail_unavailable(db_path: Path) -> None:
    async with SQLiteStore(db_path, sweep_interval=None, timeout=0.2) as store:
        await store.set("a", session_at(None, n=1))
        locker = sqlite3.connect(db_path, isolation_level=None, timeout=10)
        locker.execute("BEGIN IMMEDIATE")
        try:
            outcomes = await asyncio.gather(
                *(store.set(f"s{i}", session_at(None, n=i)) for i in range(10)), return_exceptions=True
            )
        finally:
            locker.execute("ROLLBACK")
            locker.close()
        assert all(isinstance(o, StoreUnavailableError) for o in outcomes), outcomes
        assert await store.length() == 1
        await store.set("after", session_at(None, n=3))
        assert (await store.get("after") or {})["n"] == 3


async def test_a_memory_store_reads_through_the_worker() -> None:
    async with SQLiteStore(":memory:", sweep_interval=None) as store:
        await asyncio.gather(*(store.set(f"s{i}", session_at(None, n=i)) for i in range(20)))
        assert [(await store.get(f"s{i}") or {})["n"] for i in range(20)] == list(range(20))
