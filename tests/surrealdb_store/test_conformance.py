"""SurrealDBStore passes the conformance suite on every path: mem://, surrealkv:// and ws:// with signin."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio

from connectstore_conformance import StoreConformance
from connectstore_surrealdb import RootAuth, SurrealDBStore
from tests.surrealdb_store.server import ROOT_PASSWORD, ROOT_USER, LoopbackSurreal


async def _beside(store: SurrealDBStore) -> SurrealDBStore:
    """A second store on ``store``'s very engine (its SDK connection) in another table."""
    await store.open()
    return SurrealDBStore(store.url, table="other_sessions", client=store.client)


class _WithAnotherTable(StoreConformance):
    """The namespace checks run against a second table beside the store's."""

    @pytest_asyncio.fixture
    async def other_store(self, store: SurrealDBStore) -> AsyncIterator[SurrealDBStore]:
        other = await _beside(store)
        yield other
        await other.close()


class TestMemConformance(_WithAnotherTable):
    @pytest_asyncio.fixture
    async def store(self) -> AsyncIterator[SurrealDBStore]:
        async with SurrealDBStore("mem://") as store:
            yield store


class TestSurrealKVConformance(_WithAnotherTable):
    @pytest_asyncio.fixture
    async def store(self, tmp_path: Path) -> AsyncIterator[SurrealDBStore]:
        async with SurrealDBStore(
            f"surrealkv://{tmp_path / 'sessions'}", namespace="app", database="web"
        ) as store:
            yield store


class TestWebSocketConformance(StoreConformance):
    @pytest_asyncio.fixture
    async def store(self, surreal_server: LoopbackSurreal) -> AsyncIterator[SurrealDBStore]:
        auth = RootAuth(ROOT_USER, ROOT_PASSWORD)
        async with SurrealDBStore(surreal_server.url, auth=auth, namespace="app", database="web") as store:
            yield store

    @pytest_asyncio.fixture
    async def other_store(self, surreal_server: LoopbackSurreal) -> AsyncIterator[SurrealDBStore]:
        auth = RootAuth(ROOT_USER, ROOT_PASSWORD)
        other = SurrealDBStore(surreal_server.url, auth=auth, namespace="app", database="web", table="other")
        yield other
        await other.close()
