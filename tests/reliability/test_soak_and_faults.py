"""Soak with faults: many clients over real TCP against every store; nothing acknowledged is lost.

For each store the test app (``SessionMiddleware`` + ``SessionEngine``) is served by uvicorn
on loopback and :func:`run_load` drives concurrent login / update / read / logout flows.
During the load the backend fails: our own redis-server is SIGKILLed and restarted (it
replays its append-only file), the SurrealDB WebSocket server is killed and served again
on the same port, another process holds the SQLite file's write lock longer than the busy
timeout. Asserted: no ledger violation (no lost write, no write into another session),
the store agrees with every ledger, every request overlapping a fault answered within
the engine's store timeout plus a margin, failures named ``StoreUnavailableError``, and
service came back by itself. The figures are printed (``pytest -s``) for
docs/reliability.md; ``CONNECTSTORE_SOAK=long`` runs the long form.
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from connectstore import Store
from connectstore_redis import RedisStore
from connectstore_sqlite import SQLiteStore
from connectstore_surrealdb import RootAuth, SurrealDBStore
from tests.adapters.redis.servers import RedisServer
from tests.adapters.surrealdb.server import ROOT_PASSWORD, ROOT_USER, LoopbackSurreal
from tests.reliability.app import make_app, make_engine
from tests.reliability.load import Fault, LoadProfile, RunResult, run_load, verify
from tests.reliability.services import SQLiteWorkers, lock_sqlite, served

STORE_TIMEOUT = 1.0
"""The engine's ``store_timeout``: no request may wait longer than this plus MARGIN in a fault."""
BACKEND_TIMEOUT = 0.5
"""Each store's own timeout (Redis round trip, SurrealDB call, SQLite busy timeout)."""
MARGIN = 3.0
"""Scheduling, the successful store calls before the failing one, and HTTP on a busy 2-core box
(shared with other test runs). Each fault lasts longer than STORE_TIMEOUT + MARGIN, so a
request that waited for the backend to come back instead of failing still breaks the bound.
"""
PROFILE = LoadProfile.current()
assert PROFILE.fault_for > STORE_TIMEOUT + MARGIN, "a fault must outlast the bound it checks"


def report(result: RunResult, checked: dict[str, int]) -> dict[str, Any]:
    """Print the run's figures (and append them to $CONNECTSTORE_SOAK_REPORT if set)."""
    summary = {**result.summary(), **checked}
    line = json.dumps(summary)
    print(f"\nSOAK {line}")
    target = os.environ.get("CONNECTSTORE_SOAK_REPORT")
    if target:
        with open(target, "a", encoding="utf-8") as out:
            out.write(line + "\n")
    return summary


def check_run(result: RunResult, *, faulted: bool) -> None:
    """The assertions every scenario shares."""
    assert result.violations == [], result.violations[:10]
    records = result.records
    assert len(records) >= PROFILE.clients * 10, "the load did not run"
    normal = [r for r in records if not result.in_fault(r)]
    unexpected = [r for r in normal if r.status not in (200, 409)]
    assert not unexpected, f"failures outside any fault: {unexpected[:5]}"
    if not faulted:
        return
    assert len(result.windows) == PROFILE.faults
    for window in result.windows:
        assert window.recovery < 10.0, f"service did not come back by itself: {window}"
        during = [r for r in records if window.began <= r.started and r.ended <= window.ended]
        assert any(r.status == 503 for r in during), "the fault did not make any request fail"
    bound = STORE_TIMEOUT + MARGIN
    overlapping = [r for r in records if result.in_fault(r)]
    slow = [r for r in overlapping if r.latency > bound]
    assert not slow, f"requests waited longer than {bound} s during a fault: {slow[:5]}"
    failures = [r for r in overlapping if r.status >= 500 or r.status == 0]
    unclear = [r for r in failures if (r.status, r.error) != (503, "StoreUnavailableError")]
    assert not unclear, f"failures without a clear error: {unclear[:5]}"


async def soak(name: str, store: Store, fault: Fault | None) -> None:
    """Serve ``store`` in this process, load it, check, verify against the store, report."""
    app = make_app(make_engine(store, store_timeout=STORE_TIMEOUT))
    async with served(app) as url:
        result = await run_load(name, [url], PROFILE, fault)
    check_run(result, faulted=fault is not None)
    report(result, await verify(store, result))


async def test_redis_killed_and_restarted_under_load(tmp_path: Path) -> None:
    server = RedisServer(tmp_path, durable=True)
    server.start()
    try:

        async def begin() -> None:
            server.kill()

        async def end() -> None:
            await asyncio.to_thread(server.start)

        prefix = f"cs-soak-{uuid.uuid4().hex[:8]}:"
        async with RedisStore.from_url(server.url, prefix=prefix, timeout=BACKEND_TIMEOUT) as store:
            await soak("redis", store, (begin, end))
    finally:
        server.kill()


async def test_surrealdb_websocket_server_killed_and_restarted_under_load() -> None:
    server = LoopbackSurreal()
    await server.open()
    try:
        store = SurrealDBStore(server.url, auth=RootAuth(ROOT_USER, ROOT_PASSWORD), timeout=BACKEND_TIMEOUT)
        async with store:
            await soak("surrealdb-ws", store, (server.stop, server.start))
    finally:
        await server.close()


async def test_surrealdb_embedded_under_load() -> None:
    async with SurrealDBStore("mem://", timeout=BACKEND_TIMEOUT) as store:
        await soak("surrealdb-mem", store, None)


@pytest.fixture
async def sqlite_workers(tmp_path: Path) -> AsyncIterator[SQLiteWorkers]:
    db = tmp_path / "sessions.db"
    async with SQLiteStore(db, sweep_interval=None) as store:
        await store.length()  # create the file and the table once, before the workers
    workers = SQLiteWorkers(db, 3, busy_timeout=BACKEND_TIMEOUT, store_timeout=STORE_TIMEOUT)
    await workers.start()
    try:
        yield workers
    finally:
        workers.stop()


async def test_sqlite_three_worker_processes_with_the_file_locked_under_load(
    sqlite_workers: SQLiteWorkers,
) -> None:
    holder: list[Any] = []

    async def begin() -> None:
        # another process holds the write lock for the whole fault (> busy timeout)
        holder.append(await asyncio.to_thread(lock_sqlite, sqlite_workers.db, PROFILE.fault_for))

    async def end() -> None:
        process = holder.pop()
        await asyncio.to_thread(process.wait, 30)
        process.stdout.close()

    result = await run_load("sqlite", sqlite_workers.urls, PROFILE, (begin, end))
    sqlite_workers.stop()
    check_run(result, faulted=True)
    async with SQLiteStore(sqlite_workers.db, sweep_interval=None) as store:
        report(result, await verify(store, result))
