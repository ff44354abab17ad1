"""Real stores for the framework integration tests, one kind at a time.

``open_test_store(kind, tmp_path)`` opens a fresh, empty store of ``kind`` and closes it
afterwards; parametrize a fixture over :data:`STORE_KINDS` to run a flow on each::

    @pytest_asyncio.fixture(params=STORE_KINDS)
    async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
        async with open_test_store(request.param, tmp_path) as store:
            yield store

Redis is the shared server on 127.0.0.1:6379 under a unique prefix (cleared afterwards);
without it, or without ``connectstore_redis`` installed, the test is skipped (failed under
``CI=true``).
"""

from __future__ import annotations

import importlib.util
import os
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from connectstore import MemoryStore, Store

__all__ = ["STORE_KINDS", "open_test_store"]

STORE_KINDS = ("memory", "sqlite", "surrealdb", "redis")
REDIS_URL = "redis://127.0.0.1:6379/0"


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


def _redis_answers() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1.0):
            return True
    except OSError:
        return False


@asynccontextmanager
async def open_test_store(kind: str, tmp_path: Path) -> AsyncIterator[Store]:
    """A fresh store of ``kind`` (memory, sqlite, surrealdb or redis), closed on exit."""
    if kind == "memory":
        async with MemoryStore() as memory:
            yield memory
    elif kind == "sqlite":
        from connectstore_sqlite import SQLiteStore

        async with SQLiteStore(tmp_path / f"sessions-{uuid.uuid4().hex[:8]}.db") as sqlite:
            yield sqlite
    elif kind == "surrealdb":
        from connectstore_surrealdb import SurrealDBStore

        async with SurrealDBStore("mem://") as surreal:
            yield surreal
    elif kind == "redis":
        if importlib.util.find_spec("connectstore_redis") is None:
            _unavailable("connectstore_redis is not installed")
        if not _redis_answers():
            _unavailable("no Redis answers on 127.0.0.1:6379")
        from connectstore_redis import RedisStore

        async with RedisStore.from_url(REDIS_URL, prefix=f"cs-int-{uuid.uuid4().hex[:12]}:") as redis:
            try:
                yield redis
            finally:
                await redis.clear()
    else:
        raise ValueError(f"unknown store kind {kind!r}; one of {', '.join(STORE_KINDS)}")
