"""Calls to the embedded engine run in the caller's task, bounded by the loop's deadline sweep.

The engine's own statements always answer; to see what happens when one does not, the store
is given an embedded SDK connection whose ``query`` stalls (or is cancelled by the SDK itself)
for one chosen statement, while every other call goes to the real engine.
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Any

import pytest
from surrealdb import AsyncEmbeddedSurrealConnection

from connectstore import StoreUnavailableError
from connectstore_conformance import make_session
from connectstore_surrealdb import SurrealDBStore, queries

pytestmark = pytest.mark.skipif(sys.version_info < (3, 11), reason="the inline path is Python 3.11+")


class _Stalling(AsyncEmbeddedSurrealConnection):
    """The real embedded engine, except that ``queries.GET`` stalls (``mode="stall"``) or is
    cancelled by the SDK (``mode="lost"``) while ``armed``.
    """

    armed = False
    mode = "stall"

    async def query(self, query: str, vars: dict[str, Any] | None = None, **kwargs: Any) -> Any:  # type: ignore[override]
        if self.armed and query == queries.GET:
            if self.mode == "lost":
                raise asyncio.CancelledError
            await asyncio.get_running_loop().create_future()  # never answers
        return await super().query(query, vars, **kwargs)


async def _open(timeout: float) -> tuple[_Stalling, SurrealDBStore]:
    client = _Stalling("mem://")
    await client.connect()
    await client.use("test", "test")
    store = SurrealDBStore("mem://", client=client, timeout=timeout)
    await store.set("s1", make_session(views=1))
    return client, store


async def test_a_stalled_embedded_call_fails_within_its_bound_and_the_task_goes_on() -> None:
    client, store = await _open(timeout=0.5)
    client.armed = True
    started = time.monotonic()
    async with asyncio.timeout(30):  # type: ignore[attr-defined,unused-ignore]
        with pytest.raises(StoreUnavailableError, match="did not answer"):
            await store.get("s1")
    assert time.monotonic() - started >= 0.5  # not before its bound
    await asyncio.sleep(0)  # the sweep's cancellation was undone: this task is not cancelled
    task = asyncio.current_task()
    assert task is not None
    assert task.cancelling() == 0  # type: ignore[attr-defined,unused-ignore]
    client.armed = False
    session = await store.get("s1")  # the next call works
    assert session is not None
    assert session["views"] == 1


async def test_the_callers_own_cancellation_goes_through() -> None:
    client, store = await _open(timeout=60)
    client.armed = True
    caller = asyncio.create_task(store.get("s1"))
    await asyncio.sleep(0.05)
    caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller
    client.armed = False
    assert await store.get("s1") is not None


async def test_a_call_the_sdk_cancels_is_reported_as_lost() -> None:
    client, store = await _open(timeout=60)
    client.armed = True
    client.mode = "lost"
    with pytest.raises(StoreUnavailableError, match="was lost"):
        await store.get("s1")
    client.armed = False
    assert await store.get("s1") is not None


async def test_many_stalled_calls_all_fail_and_calls_in_time_succeed() -> None:
    client, store = await _open(timeout=0.5)
    client.armed = True
    stalled = [asyncio.create_task(store.get("s1")) for _ in range(10)]
    writes = [asyncio.create_task(store.set(f"w{i}", make_session(views=i))) for i in range(10)]
    results = await asyncio.wait_for(asyncio.gather(*stalled, *writes, return_exceptions=True), 60)
    assert all(isinstance(result, StoreUnavailableError) for result in results[:10])
    assert results[10:] == [None] * 10
    client.armed = False
    assert [(await store.get(f"w{i}") or {}).get("views") for i in range(10)] == list(range(10))
