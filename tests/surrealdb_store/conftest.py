"""Fixtures for the SurrealDB store tests: the real engine, embedded or served on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from tests.surrealdb_store.server import LoopbackSurreal


@pytest_asyncio.fixture
async def surreal_server() -> AsyncIterator[LoopbackSurreal]:
    """A fresh engine served at ``ws://127.0.0.1:PORT/rpc``, with a root user defined."""
    server = LoopbackSurreal()
    await server.open()
    yield server
    await server.close()
