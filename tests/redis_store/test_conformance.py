"""RedisStore passes the conformance suite on a standalone Redis and on a real Redis Cluster.

The prefixes carry glob characters (``[*?]``) and the two namespaces differ only where an
unescaped ``?`` would match: a store that forgot to escape its prefix fails the isolation
checks of ``clear``.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import ClassVar

import pytest_asyncio

from connectstore_conformance import StoreConformance
from connectstore_redis import RedisStore


def _prefixes() -> tuple[str, str]:
    tag = uuid.uuid4().hex[:12]
    return f"cs-conf-{tag}-?:", f"cs-conf-{tag}-a:"


class RedisConformance(StoreConformance):
    """What both deployments share: whole-second TTLs may keep a key up to 1 s after expiry."""

    expiry_slack: ClassVar[float] = 1.0

    @pytest_asyncio.fixture
    async def prefixes(self) -> tuple[str, str]:
        return _prefixes()

    @pytest_asyncio.fixture
    async def store(self, url: str, prefixes: tuple[str, str]) -> AsyncIterator[RedisStore]:
        async with RedisStore.from_url(url, prefix=prefixes[0]) as store:
            yield store
            await store.clear()

    @pytest_asyncio.fixture
    async def other_store(self, url: str, prefixes: tuple[str, str]) -> AsyncIterator[RedisStore]:
        async with RedisStore.from_url(url, prefix=prefixes[1]) as other:
            yield other
            await other.clear()


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
