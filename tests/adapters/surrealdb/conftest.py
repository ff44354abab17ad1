"""Fixtures for the SurrealDB store tests: the real engine, embedded or served on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio

from tests.adapters.surrealdb.server import LoopbackSurreal, ThreadedSurreal


@pytest_asyncio.fixture
async def surreal_server() -> AsyncIterator[LoopbackSurreal]:
    """A fresh engine served at ``ws://127.0.0.1:PORT/rpc``, with a root user defined."""
    server = LoopbackSurreal()
    await server.open()
    yield server
    await server.close()


@pytest.fixture
def threaded_surreal_server() -> Iterator[ThreadedSurreal]:
    """A fresh engine served at ``ws://127.0.0.1:PORT/rpc`` by a loop of its own, in a thread."""
    with ThreadedSurreal() as served:
        yield served
