"""The example third-party store in examples/filestore passes the conformance suite.

A record is corrupted by overwriting its file with bytes that are not JSON. There is no
outage to stage: the test runs as root, whom file permissions do not stop (the outage
clauses report "not supported").
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
import pytest_asyncio

from connectstore import SessionDecodeError, open_store
from connectstore_conformance import StoreConformance, make_session
from connectstore_filestore import FileStore


class TestFileStoreConformance(StoreConformance):
    @pytest_asyncio.fixture
    async def store(self, tmp_path: Path) -> AsyncIterator[FileStore]:
        async with FileStore(tmp_path / "sessions") as store:
            yield store

    @pytest_asyncio.fixture
    async def other_store(self, tmp_path: Path) -> AsyncIterator[FileStore]:
        async with FileStore(tmp_path / "other") as store:
            yield store

    @pytest.fixture
    def corrupt_record(self, store: FileStore) -> Callable[[str], Awaitable[None]]:
        async def corrupt(sid: str) -> None:
            await asyncio.to_thread(store._path(sid).write_bytes, b"\xff{not json")

        return corrupt


async def test_url_and_corrupt_file(tmp_path: Path) -> None:
    store = open_store(f"file://{tmp_path}")
    assert isinstance(store, FileStore)
    await store.set("a", make_session(n=1))
    [session_file] = await asyncio.to_thread(lambda: list(tmp_path.glob("*.json")))
    await asyncio.to_thread(session_file.write_text, "{not json")
    with pytest.raises(SessionDecodeError) as info:
        await store.get("a")
    assert info.value.sid == "a"
