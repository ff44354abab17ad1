"""The background sweep, close() and reopening, and a database that is locked, missing or not a database."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from connectstore import StoreError, StoreUnavailableError
from connectstore_sqlite import SQLiteStore

from .helpers import T0, FakeClock, raw_rows, session_at

REPO = Path(__file__).resolve().parents[2]


async def wait_until(condition: object, what: str, timeout: float = 60.0) -> None:
    """Poll ``condition()`` until it is true; fail after ``timeout`` seconds (a hang, not speed)."""
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def count_rows(path: Path) -> int:
    return int(raw_rows(path, "SELECT count(*) FROM sessions")[0][0])


async def test_sweep_task_deletes_expired_rows_only(db_path: Path) -> None:
    clock = FakeClock()
    async with SQLiteStore(db_path, clock=clock, sweep_interval=0.05) as store:
        for i in range(3):
            await store.set(f"old{i}", session_at(T0 + 1000))
        await store.set("live", session_at(T0 + 60_000))
        assert count_rows(db_path) == 4
        clock.now = T0 + 1000
        await wait_until(lambda: count_rows(db_path) == 1, "the sweep")
        assert await store.get("live") is not None


async def test_sweep_reports_rows_deleted_in_batches(db_path: Path) -> None:
    clock = FakeClock()
    async with SQLiteStore(db_path, clock=clock, sweep_interval=None) as store:
        await store.length()
        rows = [(f"s{i}", T0 + (i % 2) * 10_000, "{}") for i in range(12_001)]
        with contextlib.closing(sqlite3.connect(db_path)) as conn:
            conn.executemany("INSERT INTO sessions VALUES (?, ?, ?)", rows)
            conn.commit()
        clock.now = T0 + 1
        assert await store.sweep() == 6_001
        assert await store.sweep() == 0
    assert count_rows(db_path) == 6_000


async def test_sweep_survives_errors_and_retries(db_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    caplog.set_level(logging.WARNING, logger="connectstore")
    async with SQLiteStore(db_path, clock=clock, sweep_interval=0.05) as store:
        await store.set("a", session_at(T0 + 1000))
        raw_rows(db_path, "DROP TABLE sessions")  # every sweep now fails: no such table
        await wait_until(
            lambda: "sweeping expired sessions failed" in caplog.text, "the failure to be logged"
        )
        raw_rows(db_path, "CREATE TABLE sessions (sid PRIMARY KEY, expired, sess)")
        raw_rows(db_path, "INSERT INTO sessions VALUES ('b', ?, '{}')", (T0 + 1000,))
        clock.now = T0 + 2000
        await wait_until(lambda: count_rows(db_path) == 0, "the sweep after the failures")


async def test_close_leaves_no_task_or_thread_and_is_idempotent(db_path: Path) -> None:
    threads_before = set(threading.enumerate())
    tasks_before = asyncio.all_tasks()
    store = SQLiteStore(db_path, sweep_interval=0.05)
    await store.set("a", session_at(None, n=1))
    for _ in range(2):  # closed, reopened by the next call, closed again
        assert len(asyncio.all_tasks() - tasks_before) == 2, "the sweep and the connection's task run"
        assert set(threading.enumerate()) - threads_before, "the connection has its thread"
        await store.close()
        await store.close()
        assert asyncio.all_tasks() - tasks_before == set()
        await wait_until(lambda: set(threading.enumerate()) <= threads_before, "the thread to end")
        assert (await store.get("a") or {})["n"] == 1, "the next call reopens the file, data unchanged"


async def test_calls_after_close_work_and_a_later_close_releases_again(db_path: Path) -> None:
    threads_before = set(threading.enumerate())
    store = SQLiteStore(db_path, sweep_interval=None)
    await store.set("a", session_at(None, n=1))
    await store.close()
    await store.set("b", session_at(None, n=2))
    await store.touch("a", session_at(None, n=0))
    assert sorted(await store.all()) == ["a", "b"]
    assert await store.length() == 2
    await store.destroy("b")
    await store.close()
    await wait_until(lambda: set(threading.enumerate()) <= threads_before, "the thread to end")
    assert raw_rows(db_path, "SELECT sid FROM sessions") == [("a",)]
    async with store:
        await store.clear()
    assert count_rows(db_path) == 0


async def test_close_while_a_call_opens_the_file_leaves_nothing_open(db_path: Path) -> None:
    """The call opening the file when close() runs opens it again and succeeds; the next
    close() releases everything.
    """
    threads_before = set(threading.enumerate())
    tasks_before = asyncio.all_tasks()
    store = SQLiteStore(db_path, sweep_interval=3600)
    opening = asyncio.ensure_future(store.set("a", session_at(None, n=1)))
    await asyncio.sleep(0)  # the call is opening the connection (on its worker thread)
    await store.close()
    await opening
    assert (await store.get("a") or {})["n"] == 1
    await store.close()
    assert asyncio.all_tasks() - tasks_before == set()
    await wait_until(lambda: set(threading.enumerate()) <= threads_before, "the threads to end")


async def test_a_memory_database_is_new_after_close() -> None:
    """``:memory:`` lives as long as the connection: close() ends it, the next call starts anew."""
    store = SQLiteStore(":memory:", sweep_interval=None)
    await store.set("a", session_at(None, n=1))
    assert await store.length() == 1
    await store.close()
    assert await store.get("a") is None
    assert await store.length() == 0
    await store.set("a", session_at(None, n=2))
    assert (await store.get("a") or {})["n"] == 2
    await store.close()


async def test_close_of_a_store_never_used_does_nothing(db_path: Path) -> None:
    store = SQLiteStore(db_path)
    await store.close()
    assert not await asyncio.to_thread(db_path.exists)


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a new interpreter; the timeout catches a process that would not exit."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
    )


@pytest.mark.parametrize(
    ("sweep_interval", "closes"),
    [(3600, True), (3600, False), (None, False)],
    ids=["closed", "never-closed", "never-closed-without-sweep"],
)
def test_process_exits_when_its_event_loop_ends(
    db_path: Path, sweep_interval: float | None, closes: bool
) -> None:
    """Even a store nobody closed must not keep the process alive, nor say anything on the way.

    (As the loop ends, the store's task lets go of the connection; more cases, such as a
    loop closed without running its tasks, are in test_event_loops.py.)
    """
    result = run_python(
        f"""
        import asyncio
        from connectstore_sqlite import SQLiteStore

        async def main():
            store = SQLiteStore({str(db_path)!r}, sweep_interval={sweep_interval})
            await store.set("a", {{"cookie": {{"expires": None}}, "n": 1}})
            assert (await store.get("a"))["n"] == 1
            if {closes}:
                await store.close()

        asyncio.run(main())
        print("done")
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "done"
    assert result.stderr == ""


async def test_locked_database_fails_fast_then_recovers(db_path: Path) -> None:
    async with SQLiteStore(db_path, timeout=0.2, sweep_interval=None) as store:
        await store.set("a", session_at(None, n=1))
        holder = sqlite3.connect(db_path, isolation_level=None)
        try:
            holder.execute("BEGIN EXCLUSIVE")
            with pytest.raises(StoreUnavailableError, match="locked"):
                await store.set("a", session_at(None, n=2))
            assert (await store.get("a") or {})["n"] == 1, "WAL readers are not blocked by a writer"
            holder.execute("ROLLBACK")
        finally:
            holder.close()
        await store.set("a", session_at(None, n=3))
        assert (await store.get("a") or {})["n"] == 3


async def test_missing_folder_is_unavailable_until_it_exists(tmp_path: Path) -> None:
    folder = tmp_path / "not-yet"
    async with SQLiteStore(folder / "sessions.db", sweep_interval=None) as store:
        with pytest.raises(StoreUnavailableError, match="unable to open"):
            await store.get("a")
        folder.mkdir()
        assert await store.get("a") is None
        await store.set("a", session_at(None))
        assert await store.length() == 1


@pytest.fixture
def not_a_database(db_path: Path) -> Iterator[Path]:
    """A file of text where the database should be; checks afterwards that it was left alone."""
    content = b"this is not a database file, just text" * 100
    db_path.write_bytes(content)
    yield db_path
    assert db_path.read_bytes() == content, "the file is left alone"


async def test_file_that_is_not_a_database_is_a_clear_error(not_a_database: Path) -> None:
    async with SQLiteStore(not_a_database, sweep_interval=None) as store:
        with pytest.raises(StoreError, match="not a database"):
            await store.get("a")


async def test_a_write_whose_caller_gave_up_never_lands_later(db_path: Path) -> None:
    """A caller that times out while its statement waits for another process's lock: when
    the call has failed, the write has either happened or never will, so it can never
    overwrite a write acknowledged after the failure (found by the long soak test).
    """
    from connectstore import within

    async with SQLiteStore(db_path, timeout=1.0, sweep_interval=None) as store:
        await store.set("a", session_at(None, n=1))
        holder = sqlite3.connect(db_path, isolation_level=None)
        try:
            holder.execute("BEGIN EXCLUSIVE")
            queued = asyncio.ensure_future(within(0.2, store.set("a", session_at(None, n=2)), "sqlite"))
            sending = asyncio.ensure_future(within(0.2, store.set("a", session_at(None, n=3)), "sqlite"))
            for call in (queued, sending):
                with pytest.raises(StoreUnavailableError):
                    await call
            when_failed = raw_rows(db_path, "SELECT sess FROM sessions WHERE sid = 'a'")
            holder.execute("ROLLBACK")  # the lock goes: a statement still waiting for it would now write
        finally:
            holder.close()
        await asyncio.sleep(0.5)
        assert raw_rows(db_path, "SELECT sess FROM sessions WHERE sid = 'a'") == when_failed
        assert (await store.get("a") or {})["n"] == 1
