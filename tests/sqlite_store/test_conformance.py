"""The connectstore conformance suite, run on a SQLite file and on ``:memory:``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio

from connectstore_conformance import StoreConformance
from connectstore_sqlite import SQLiteStore


class TestSQLiteFileConformance(StoreConformance):
    """A store on a real file; ``other_store`` is another table in the same file."""

    @pytest_asyncio.fixture
    async def store(self, tmp_path: Path) -> AsyncIterator[SQLiteStore]:
        store = SQLiteStore(tmp_path / "sessions.db")
        yield store
        await store.close()

    @pytest_asyncio.fixture
    async def other_store(self, tmp_path: Path) -> AsyncIterator[SQLiteStore]:
        store = SQLiteStore(tmp_path / "sessions.db", table="other_sessions")
        yield store
        await store.close()


class TestSQLiteMemoryConformance(StoreConformance):
    """A store on a private in-memory database."""

    @pytest_asyncio.fixture
    async def store(self) -> AsyncIterator[SQLiteStore]:
        store = SQLiteStore(":memory:")
        yield store
        await store.close()
