"""MemoryStore passes the conformance suite."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from connectstore import MemoryStore
from connectstore_conformance import StoreConformance


class TestMemoryStoreConformance(StoreConformance):
    @pytest_asyncio.fixture
    async def store(self) -> AsyncIterator[MemoryStore]:
        async with MemoryStore() as store:
            yield store
