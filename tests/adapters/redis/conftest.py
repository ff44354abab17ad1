"""Fixtures for the Redis store tests: the shared Redis on 6379, and servers of our own."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio

from connectstore_redis import RedisStore
from tests.adapters.redis.servers import SHARED_URL, RedisServer, ping, redis_cluster, redis_server


def unique_prefix(label: str = "t", *, glob: bool = True) -> str:
    """A prefix no other test (or engineer) uses; it carries glob characters unless told not to."""
    return f"cs-redis-{label}-{uuid.uuid4().hex[:12]}{'-[*?]' if glob else ''}:"


@pytest.fixture(scope="session")
def shared_redis() -> str:
    """URL of the shared Redis on 127.0.0.1:6379; under CI=true its absence fails the test."""
    return require_shared_redis()


def require_shared_redis() -> str:
    """:func:`shared_redis` outside a fixture: the URL, or a skip (a failure under CI=true)."""
    if not ping(6379):
        message = "no Redis answers on 127.0.0.1:6379 (./dev services starts one)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return SHARED_URL


@pytest_asyncio.fixture
async def store(shared_redis: str) -> AsyncIterator[RedisStore]:
    """A RedisStore on the shared Redis under a fresh prefix, cleared afterwards."""
    async with RedisStore.from_url(shared_redis, prefix=unique_prefix()) as store:
        yield store
        await store.clear()


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    """A redis-server of the test's own on a free port (the test may kill and restart it)."""
    with redis_server() as server:
        yield server


@pytest.fixture(scope="session")
def cluster_nodes() -> Iterator[list[RedisServer]]:
    """A real 3-primary Redis Cluster on free loopback ports, shared by the cluster tests."""
    with redis_cluster(primaries=3) as nodes:
        yield nodes


@pytest.fixture(scope="session")
def cluster_url(cluster_nodes: list[RedisServer]) -> str:
    """``redis+cluster://`` URL of the test cluster (through its first node)."""
    return f"redis+cluster://127.0.0.1:{cluster_nodes[0].port}"
