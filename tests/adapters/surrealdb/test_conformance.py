"""SurrealDBStore passes the conformance suite on every path: mem://, surrealkv:// and ws:// with signin.

Every path can corrupt a record behind the store's back (``corrupt_record`` writes a
``sess`` that is not JSON). Over ws://, ``backend_outage`` kills the test server (every
connection dropped, nothing listening) and serves the same engine again on the same port.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any, ClassVar

import pytest
import pytest_asyncio
from surrealdb import RecordID

from connectstore_conformance import StoreConformance
from connectstore_surrealdb import RootAuth, SurrealDBStore
from tests.adapters.surrealdb.server import ROOT_PASSWORD, ROOT_USER, LoopbackSurreal


async def _beside(store: SurrealDBStore) -> SurrealDBStore:
    """A second store on ``store``'s very engine (its SDK connection) in another table."""
    await store.open()
    return SurrealDBStore(store.url, table="other_sessions", client=store.client)


#: A ``sess`` field that is a string, as the store writes it, but not JSON. (No NUL byte: the
#: SDK cannot even return a string holding one, and get() fails with a plain StoreError.)
CORRUPT = "UPDATE $rid SET sess = $garbage RETURN NONE"


def _corrupt_vars(store: SurrealDBStore, sid: str) -> dict[str, Any]:
    return {"rid": RecordID(store.table, sid), "garbage": "{not json \ufffd"}


class _Corruptible(StoreConformance):
    """``corrupt_record`` through the store's own SDK connection (the embedded engines)."""

    @pytest.fixture
    def corrupt_record(self, store: SurrealDBStore) -> Callable[[str], Awaitable[None]]:
        async def corrupt(sid: str) -> None:
            await store.open()
            assert store.client is not None
            await store.client.query(CORRUPT, _corrupt_vars(store, sid))

        return corrupt


class _WithAnotherTable(_Corruptible):
    """The namespace checks run against a second table beside the store's."""

    @pytest_asyncio.fixture
    async def other_store(self, store: SurrealDBStore) -> AsyncIterator[SurrealDBStore]:
        other = await _beside(store)
        yield other
        await other.close()


class TestMemConformance(_WithAnotherTable):
    #: A ``mem://`` database lives in the engine the store owns: close() drops it.
    close_keeps_data: ClassVar[bool] = False

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

    @pytest.fixture
    def corrupt_record(
        self, store: SurrealDBStore, surreal_server: LoopbackSurreal
    ) -> Callable[[str], Awaitable[None]]:
        """Write through the server's engine directly (its one session is in app/web)."""

        async def corrupt(sid: str) -> None:
            await surreal_server.rpc("query", [CORRUPT, _corrupt_vars(store, sid)])

        return corrupt

    @pytest.fixture
    def backend_outage(
        self, surreal_server: LoopbackSurreal
    ) -> Callable[[], AbstractAsyncContextManager[None]]:
        """Kill the server (connections dropped, port closed); serve again on the same port."""

        @asynccontextmanager
        async def outage() -> AsyncIterator[None]:
            await surreal_server.stop()
            try:
                yield
            finally:
                await surreal_server.start()

        return outage
