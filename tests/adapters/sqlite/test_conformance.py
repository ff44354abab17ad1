"""The connectstore conformance suite, run on a SQLite file and on ``:memory:``.

On a file, ``backend_outage`` is another connection holding the file's write lock
(``BEGIN EXCLUSIVE``) for longer than the store's ``timeout``: writes fail fast with
StoreUnavailableError while WAL readers still read, as SQLite promises. ``corrupt_record``
overwrites a row's ``sess`` column with text that is not JSON. A private ``:memory:``
database cannot be reached behind the store's back: both are "not supported" there, and
its sessions do not outlive ``close()`` (``close_keeps_data = False``).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import ClassVar

import pytest
import pytest_asyncio

from connectstore_conformance import StoreConformance
from connectstore_sqlite import SQLiteStore

#: Seconds a store call waits for another connection's lock (short, so outages fail fast).
BUSY_TIMEOUT = 1.0


def _corrupt_row(path: Path, sid: str) -> None:
    with sqlite3.connect(path, timeout=30.0, isolation_level=None) as connection:
        changed = connection.execute(
            "UPDATE sessions SET sess = ? WHERE sid = ?", ("\x00{not json", sid)
        ).rowcount
    connection.close()
    assert changed == 1, f"no row for {sid!r} to corrupt"


class TestSQLiteFileConformance(StoreConformance):
    """A store on a real file; ``other_store`` is another table in the same file."""

    outage_bound: ClassVar[float] = BUSY_TIMEOUT + 5.0

    @pytest.fixture
    def db_file(self, tmp_path: Path) -> Path:
        return tmp_path / "sessions.db"

    @pytest_asyncio.fixture
    async def store(self, db_file: Path) -> AsyncIterator[SQLiteStore]:
        store = SQLiteStore(db_file, timeout=BUSY_TIMEOUT)
        yield store
        await store.close()

    @pytest_asyncio.fixture
    async def other_store(self, db_file: Path) -> AsyncIterator[SQLiteStore]:
        store = SQLiteStore(db_file, table="other_sessions", timeout=BUSY_TIMEOUT)
        yield store
        await store.close()

    @pytest.fixture
    def backend_outage(self, db_file: Path) -> Callable[[], AbstractAsyncContextManager[None]]:
        """Another connection holds the file's write lock until the outage ends."""

        @asynccontextmanager
        async def outage() -> AsyncIterator[None]:
            holder = sqlite3.connect(db_file, timeout=30.0, isolation_level=None, check_same_thread=False)
            try:
                await asyncio.to_thread(holder.execute, "BEGIN EXCLUSIVE")
                yield
                holder.execute("ROLLBACK")
            finally:
                holder.close()

        return outage

    @pytest.fixture
    def corrupt_record(self, db_file: Path) -> Callable[[str], Awaitable[None]]:
        async def corrupt(sid: str) -> None:
            await asyncio.to_thread(_corrupt_row, db_file, sid)

        return corrupt


class TestSQLiteMemoryConformance(StoreConformance):
    """A store on a private in-memory database: it lives as long as the store's connection,
    so close() ends it (the next call starts an empty one).
    """

    close_keeps_data: ClassVar[bool] = False

    @pytest_asyncio.fixture
    async def store(self) -> AsyncIterator[SQLiteStore]:
        store = SQLiteStore(":memory:")
        yield store
        await store.close()
