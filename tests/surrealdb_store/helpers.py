"""Small helpers shared by the SurrealDB store tests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from surrealdb import RecordID

from connectstore_surrealdb import SurrealDBStore


async def raw_query(store: SurrealDBStore, sql: str, params: dict[str, Any] | None = None) -> Any:
    """Run a statement on the store's own SDK connection, bypassing the store."""
    await store.open()
    client = store.client
    assert client is not None
    return await client.query(sql, params or {})


async def raw_ids(store: SurrealDBStore) -> set[str]:
    """Every record id in the store's table, live, expired or foreign."""
    ids = await raw_query(store, "SELECT VALUE record::id(id) FROM type::table($t)", {"t": store.table})
    return {str(sid) for sid in ids}


def rid(store: SurrealDBStore, sid: str) -> RecordID:
    """The record id of ``sid`` in the store's table."""
    return RecordID(store.table, sid)


async def eventually(check: Callable[[], Awaitable[bool]], within: float = 10.0) -> None:
    """Wait until ``check()`` is true; fail after ``within`` seconds."""
    deadline = time.monotonic() + within
    while not await check():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)
