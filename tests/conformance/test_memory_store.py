"""MemoryStore passes the conformance suite.

It has no backend to take away (the outage clauses report "not supported"); a record is
corrupted by overwriting its stored JSON text behind the store's back.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
import pytest_asyncio

from connectstore import MemoryStore
from connectstore_conformance import StoreConformance


class TestMemoryStoreConformance(StoreConformance):
    @pytest_asyncio.fixture
    async def store(self) -> AsyncIterator[MemoryStore]:
        async with MemoryStore() as store:
            yield store

    @pytest.fixture
    def corrupt_record(self, store: MemoryStore) -> Callable[[str], Awaitable[None]]:
        async def corrupt(sid: str) -> None:
            _, deadline = store._sessions[sid]
            store._sessions[sid] = ("\x00{not json", deadline)

        return corrupt
