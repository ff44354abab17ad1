"""Conditional writes racing each other: in one store, across two stores, across processes.

Every race here is real: the calls are in flight together on a real file, and the checks
are the ones only an atomic compare-and-write passes (exactly one winner of a version,
exactly one creator of a sid, a counter that loses no addition).
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from connectstore import StoreUnavailableError
from connectstore_sqlite import SQLiteStore

from .counter_worker import COUNTER, add_one, count, session
from .helpers import raw_rows
from .mixed_worker import ready_file

REPO = Path(__file__).resolve().parents[3]
CALLERS = 32


async def held_write_lock(db_path: Path) -> sqlite3.Connection:
    """Another connection holding the file's write lock (``ROLLBACK`` and close it to let go)."""
    locker = sqlite3.connect(db_path, isolation_level=None, timeout=30, check_same_thread=False)
    await asyncio.to_thread(locker.execute, "BEGIN IMMEDIATE")
    return locker


async def in_flight(calls: list[Any], db_path: Path) -> list[Any]:
    """Run ``calls`` together, queued behind another connection's write lock.

    They all reach the worker while it waits for the lock, so that they run in one of its
    turns (one transaction) when the lock is let go: each must still get its own answer.
    """
    locker = await held_write_lock(db_path)
    try:
        tasks = [asyncio.ensure_future(call) for call in calls]
        await asyncio.sleep(0)  # each task queues its statement at its first step
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    return await asyncio.gather(*tasks)


@pytest.mark.parametrize("behind_a_lock", [False, True], ids=["free", "queued-together"])
async def test_of_many_set_if_of_one_version_exactly_one_wins(db_path: Path, behind_a_lock: bool) -> None:
    async with SQLiteStore(db_path, sweep_interval=None, timeout=30) as store:
        await store.set("a", session(n=0))
        loaded = await store.get_versioned("a")
        assert loaded is not None
        calls = [store.set_if("a", session(n=i), loaded.version) for i in range(1, CALLERS + 1)]
        results = await (in_flight(calls, db_path) if behind_a_lock else asyncio.gather(*calls))
        winners = [i for i, version in enumerate(results, start=1) if version is not None]
        assert len(winners) == 1, results
        now = await store.get_versioned("a")
        assert now is not None
        assert now.session["n"] == winners[0]
        assert now.version == results[winners[0] - 1]


@pytest.mark.parametrize("behind_a_lock", [False, True], ids=["free", "queued-together"])
async def test_of_many_creates_of_one_sid_exactly_one_wins(db_path: Path, behind_a_lock: bool) -> None:
    async with SQLiteStore(db_path, sweep_interval=None, timeout=30) as store:
        await store.length()  # opened: the table exists for the lock holder
        sessions = [session(owner=i) for i in range(CALLERS)]
        calls = [store.create("new", s) for s in sessions]
        results = await (in_flight(calls, db_path) if behind_a_lock else asyncio.gather(*calls))
        winners = [i for i, version in enumerate(results) if version is not None]
        assert len(winners) == 1, results
        assert await store.get_versioned("new") == (sessions[winners[0]], results[winners[0]])
    assert len(raw_rows(db_path, "SELECT sid FROM sessions")) == 1


async def test_writes_run_together_each_get_their_own_answer(db_path: Path) -> None:
    """set_if and create on many sids, right and stale, in one turn of the worker."""
    async with SQLiteStore(db_path, sweep_interval=None, timeout=30) as store:
        versions = {}
        for i in range(20):
            await store.set(f"s{i}", session(n=0))
            loaded = await store.get_versioned(f"s{i}")
            assert loaded is not None
            versions[f"s{i}"] = loaded.version
        await store.set("s0", session(n="changed"))  # s0's version is stale now
        updated = [session(n=i) for i in range(20)]
        created = [session(n=-i) for i in range(20)]
        calls: list[Any] = []
        for i in range(20):
            calls.append(store.set_if(f"s{i}", updated[i], versions[f"s{i}"]))
            calls.append(store.create(f"s{i}" if i % 2 else f"new{i}", created[i]))
        results = await in_flight(calls, db_path)
        set_ifs, creates = results[0::2], results[1::2]
        assert [version is not None for version in set_ifs] == [False] + [True] * 19
        assert [version is not None for version in creates] == [i % 2 == 0 for i in range(20)]
        for i in range(1, 20):
            assert await store.get_versioned(f"s{i}") == (updated[i], set_ifs[i])
        assert (await store.get("s0") or {})["n"] == "changed"
        for i in range(0, 20, 2):
            assert await store.get_versioned(f"new{i}") == (created[i], creates[i])


async def test_a_counter_from_many_tasks_loses_no_addition(db_path: Path) -> None:
    tasks, increments = 16, 15
    async with SQLiteStore(db_path, sweep_interval=None, timeout=30) as store:
        await store.set(COUNTER, session(n=0))
        conflicts = await asyncio.gather(*(count(store, increments) for _ in range(tasks)))
        assert (await store.get(COUNTER) or {})["n"] == tasks * increments
    assert sum(conflicts) > 0, "the tasks never raced: the test proved nothing"


async def test_a_counter_from_two_stores_on_one_file_loses_no_addition(db_path: Path) -> None:
    tasks, increments = 8, 15
    async with (
        SQLiteStore(db_path, sweep_interval=None, timeout=30) as one,
        SQLiteStore(db_path, sweep_interval=None, timeout=30) as other,
    ):
        await one.set(COUNTER, session(n=0))
        conflicts = await asyncio.gather(
            *(count(store, increments) for store in (one, other) for _ in range(tasks))
        )
        assert (await other.get(COUNTER) or {})["n"] == 2 * tasks * increments
        assert (await one.get(COUNTER) or {})["n"] == 2 * tasks * increments
    assert sum(conflicts) > 0, "the tasks never raced: the test proved nothing"


async def test_set_if_and_create_fail_unavailable_while_the_file_stays_locked(db_path: Path) -> None:
    async with SQLiteStore(db_path, sweep_interval=None, timeout=0.2) as store:
        await store.set("a", session(n=0))
        loaded = await store.get_versioned("a")
        assert loaded is not None
        locker = await held_write_lock(db_path)
        try:
            outcomes = await asyncio.gather(
                store.set_if("a", session(n=1), loaded.version),
                store.create("b", session(n=1)),
                return_exceptions=True,
            )
            assert all(isinstance(o, StoreUnavailableError) for o in outcomes), outcomes
            assert await store.get_versioned("a") == loaded, "a read still answers"
        finally:
            locker.execute("ROLLBACK")
            locker.close()
        assert await store.get("b") is None
        assert await store.set_if("a", session(n=2), loaded.version) is not None, "nothing was written"
        assert await add_one(store, "a") == 0


def start_workers(db: Path, go_file: Path, workers: int, tasks: int, increments: int, sids: int) -> list[Any]:
    return [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.adapters.sqlite.counter_worker",
                *map(str, (db, w, tasks, increments, sids, go_file)),
            ],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for w in range(workers)
    ]


def wait_until_ready(workers: list[subprocess.Popen[str]], go_file: Path) -> None:
    """Wait (bounded, generously) until every worker has opened the store."""
    deadline = time.monotonic() + 300
    while not all(ready_file(go_file, w).exists() for w in range(len(workers))):
        for process in workers:
            if process.poll() is not None:
                pytest.fail(f"a worker ended before it was ready: {process.communicate()[1]}")
        if time.monotonic() > deadline:
            pytest.fail("the workers did not get ready")
        time.sleep(0.02)


async def test_processes_racing_on_one_file_lose_no_addition_and_create_each_sid_once(
    tmp_path: Path,
) -> None:
    db, go_file = tmp_path / "shared.db", tmp_path / "go"
    workers, tasks, increments, sids = 3, 4, 25, 100
    async with SQLiteStore(db, sweep_interval=None) as store:
        await store.set(COUNTER, session(n=0))
    processes = start_workers(db, go_file, workers, tasks, increments, sids)
    wait_until_ready(processes, go_file)
    go_file.touch()
    reports = []
    for process in processes:
        out, err = process.communicate(timeout=600)
        assert process.returncode == 0, err
        reports.append(json.loads(out))
    assert [r["errors"] for r in reports] == [[]] * workers
    assert max(r["started"] for r in reports) < min(r["ended"] for r in reports), "the workers overlapped"
    async with SQLiteStore(db, sweep_interval=None) as store:
        assert (await store.get(COUNTER) or {})["n"] == sum(r["added"] for r in reports) == 300
        created = [sid for r in reports for sid in r["created"]]
        assert sorted(created) == sorted(f"c-{i}" for i in range(sids)), "each sid created once"
        for worker, report in enumerate(reports):
            for sid in report["created"]:
                assert (await store.get(sid) or {})["owner"] == worker, sid
    assert sum(r["conflicts"] for r in reports) > 0, "the processes never raced: the test proved nothing"
