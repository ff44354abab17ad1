"""RedisStore passes the conformance suite on a standalone Redis and on a real Redis Cluster.

The prefixes carry glob characters (``[*?]``) and the two namespaces differ only where an
unescaped ``?`` would match: a store that forgot to escape its prefix fails the isolation
checks of ``clear``.

Every class can corrupt a record behind the store's back (``corrupt_record``). The outage
clauses run on a durable redis-server of the test's own (``backend_outage`` SIGKILLs it and
restarts it on the same port with its append-only file), never on the shared Redis.
"""

from __future__ import annotations

import asyncio
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import ClassVar

import pytest
import pytest_asyncio

from connectstore_conformance import StoreConformance
from connectstore_redis import DEFAULT_TIMEOUT, RedisStore
from tests.adapters.redis.servers import RedisServer

#: Seconds one Redis round trip may take in the outage checks (the store's ``timeout``).
OUTAGE_TIMEOUT = 1.0
CALM_TIMEOUT = 30.0


def _prefixes() -> tuple[str, str]:
    tag = uuid.uuid4().hex[:12]
    return f"cs-conf-{tag}-?:", f"cs-conf-{tag}-a:"


class RedisConformance(StoreConformance):
    """What both deployments share: whole-second TTLs may keep a key up to 1 s after expiry."""

    expiry_slack: ClassVar[float] = 1.0

    @pytest_asyncio.fixture
    async def prefixes(self) -> tuple[str, str]:
        return _prefixes()

    @pytest.fixture
    def store_timeout(self) -> float:
        """The store's ``timeout``: the adapter's default."""
        return DEFAULT_TIMEOUT

    @pytest_asyncio.fixture
    async def store(
        self, url: str, prefixes: tuple[str, str], store_timeout: float
    ) -> AsyncIterator[RedisStore]:
        async with RedisStore.from_url(url, prefix=prefixes[0], timeout=store_timeout) as store:
            yield store
            await store.clear()

    @pytest_asyncio.fixture
    async def other_store(self, url: str, prefixes: tuple[str, str]) -> AsyncIterator[RedisStore]:
        async with RedisStore.from_url(url, prefix=prefixes[1]) as other:
            yield other
            await other.clear()

    @pytest.fixture
    def corrupt_record(
        self, store: RedisStore, prefixes: tuple[str, str]
    ) -> Callable[[str], Awaitable[None]]:
        """Overwrite the value of ``sid``'s key (keeping its TTL) with bytes that are not JSON."""

        async def corrupt(sid: str) -> None:
            key = prefixes[0].encode() + sid.encode("utf-8", "surrogatepass")
            assert await store.client.set(key, b"\xff{not json", keepttl=True, xx=True)

        return corrupt


class TestStandaloneConformance(RedisConformance):
    """The shared Redis on 127.0.0.1:6379."""

    @pytest_asyncio.fixture
    async def url(self, shared_redis: str) -> str:
        return shared_redis


class TestClusterConformance(RedisConformance):
    """A 3-primary Redis Cluster the tests start on free loopback ports."""

    @pytest_asyncio.fixture
    async def url(self, cluster_url: str) -> str:
        return cluster_url


@pytest.fixture
def durable_redis() -> Iterator[RedisServer]:
    """A redis-server of the test's own that loses nothing acknowledged when SIGKILLed."""
    with tempfile.TemporaryDirectory(prefix="connectstore-redis-outage-") as folder:
        server = RedisServer(Path(folder), durable=True)
        server.start()
        try:
            yield server
        finally:
            server.stop()


class TestOwnServerConformance(RedisConformance):
    """A durable redis-server of the test's own, so that the outage checks can kill it."""

    outage_bound: ClassVar[float] = 4 * OUTAGE_TIMEOUT + 4.0
    memory_sessions: ClassVar[int] = 5_000  # every write is fsynced; the shared Redis runs 20,000

    @pytest_asyncio.fixture
    async def url(self, durable_redis: RedisServer) -> str:
        return durable_redis.url

    @pytest.fixture
    def store_timeout(self, request: pytest.FixtureRequest) -> float:
        """The short timeout is what the outage clauses measure; the other clauses write
        fsynced batches that a loaded 2-core machine may take longer than it to serve.
        """
        return OUTAGE_TIMEOUT if "outage" in request.node.name else CALM_TIMEOUT

    @pytest_asyncio.fixture
    async def store(
        self, url: str, prefixes: tuple[str, str], store_timeout: float
    ) -> AsyncIterator[RedisStore]:
        async with RedisStore.from_url(url, prefix=prefixes[0], timeout=store_timeout) as store:
            yield store

    @pytest.fixture
    def backend_outage(self, durable_redis: RedisServer) -> Callable[[], AbstractAsyncContextManager[None]]:
        """SIGKILL the server; restart it on the same port (its append-only file reloaded)."""

        @asynccontextmanager
        async def outage() -> AsyncIterator[None]:
            await asyncio.to_thread(durable_redis.kill)
            try:
                yield
            finally:
                await asyncio.to_thread(durable_redis.start, 60.0)

        return outage
