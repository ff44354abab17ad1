"""SurrealDBStore works on whichever event loop calls it: embedded (mem://, surrealkv://) and ws://.

A WebSocket belongs to the loop that opened it, so each loop gets its own connection; the
embedded engine is one object shared by every loop (a second one would be an empty
database). The sweep task belongs to a loop too, and starts again on the next one.
"""

from __future__ import annotations

import asyncio
import threading
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from surrealdb import AsyncSurreal

from connectstore import StoreError
from connectstore_conformance import make_session
from connectstore_surrealdb import RootAuth, SurrealDBStore
from tests.adapters.surrealdb.helpers import eventually, raw_ids, write_expired
from tests.adapters.surrealdb.server import ROOT_PASSWORD, ROOT_USER, ThreadedSurreal
from tests.counter_app import counter_app

with warnings.catch_warnings():
    # Starlette >= 1.x prefers httpx2 for its test client and warns when it falls back to
    # httpx (what uv.lock installs); the client works the same with either.
    warnings.filterwarnings("ignore", "Using `httpx` with `starlette.testclient`", UserWarning)
    from starlette.testclient import TestClient

BOUND = 60.0  # seconds: generous, a hang fails the test, slowness does not
AUTH = RootAuth(ROOT_USER, ROOT_PASSWORD)

StoreFactory = Callable[..., SurrealDBStore]


@pytest.fixture(params=["mem", "surrealkv", "ws"])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreFactory]:
    """Builds stores on the embedded engine in memory, on disk, or on a server in another thread."""
    if request.param == "mem":
        yield lambda **options: SurrealDBStore("mem://", **options)
    elif request.param == "surrealkv":
        yield lambda **options: SurrealDBStore(f"surrealkv://{tmp_path / 'kv'}", **options)
    else:
        with ThreadedSurreal() as served:
            yield lambda **options: SurrealDBStore(served.url, auth=AUTH, **options)


def test_starlette_test_client_without_with_runs_each_request_on_a_new_loop(make_store: StoreFactory) -> None:
    store = make_store()
    client = TestClient(counter_app(store))  # no `with`: every request runs on a new event loop
    try:
        assert [client.get("/").json()["views"] for _ in range(4)] == [1, 2, 3, 4]
        assert asyncio.run(store.length()) == 1
    finally:
        asyncio.run(store.close())


def test_asyncio_run_twice_on_one_store_and_the_sweep_follows(make_store: StoreFactory) -> None:
    store = make_store(auto_sweep_expired=True, sweep_interval=0.05)

    async def first_run() -> None:
        await store.set("a", make_session(3600, n=1))
        assert store.sweeping

    asyncio.run(first_run())
    assert not store.sweeping  # the loop that ran it has ended

    async def second_run() -> None:
        assert (await asyncio.wait_for(store.get("a"), BOUND) or {}).get("n") == 1
        assert store.sweeping  # started again, on this loop
        await write_expired(store, "gone")

        async def swept() -> bool:
            return await raw_ids(store) == {"a"}

        await eventually(swept, BOUND)
        await store.close()

    asyncio.run(second_run())


def test_a_loop_closed_without_running_its_tasks_then_another(tmp_path: Path) -> None:
    """What a plain ``loop.close()`` leaves: the store's tasks pending on a dead loop."""
    for url in ("mem://", f"surrealkv://{tmp_path / 'kv'}"):
        store = SurrealDBStore(url, auto_sweep_expired=True, sweep_interval=3600)
        first = asyncio.new_event_loop()
        try:
            first.run_until_complete(store.set("a", make_session(3600, n=1)))
        finally:
            first.close()

        async def use_and_close(store: SurrealDBStore = store) -> None:
            assert (await store.get("a") or {}).get("n") == 1
            assert store.sweeping
            await store.close()

        asyncio.run(use_and_close())


async def test_loops_in_two_threads_at_once() -> None:
    with ThreadedSurreal() as served:
        store = SurrealDBStore(served.url, auth=AUTH)
        other = asyncio.new_event_loop()
        thread = threading.Thread(target=other.run_forever, daemon=True)
        thread.start()
        try:
            there = asyncio.run_coroutine_threadsafe(store.set("there", make_session(3600, n=1)), other)
            await asyncio.wait_for(asyncio.wrap_future(there), BOUND)
            await store.set("here", make_session(3600, n=2))
            assert sorted(await store.all()) == ["here", "there"]
            back = asyncio.run_coroutine_threadsafe(store.get("here"), other)
            assert ((await asyncio.wait_for(asyncio.wrap_future(back), BOUND)) or {}).get("n") == 2
            await store.close()  # closes this loop's connection, and asks the other loop to close its own
            # ... and the next call on either loop opens a connection again.
            assert (await asyncio.wait_for(store.get("here"), BOUND) or {}).get("n") == 2
            again = asyncio.run_coroutine_threadsafe(store.get("there"), other)
            assert ((await asyncio.wait_for(asyncio.wrap_future(again), BOUND)) or {}).get("n") == 1
            await store.close()
        finally:
            other.call_soon_threadsafe(other.stop)
            thread.join(BOUND)
            other.close()


def test_a_given_websocket_client_fails_at_once_on_another_loop() -> None:
    with ThreadedSurreal() as served:
        client = AsyncSurreal(served.url)
        store = SurrealDBStore(served.url, client=client)

        async def first_run() -> None:
            await client.connect(served.url)
            await client.signin({"username": ROOT_USER, "password": ROOT_PASSWORD})
            await client.use("main", "main")
            await store.set("a", make_session(3600, n=1))
            await client.close()

        asyncio.run(first_run())
        with pytest.raises(StoreError, match="belongs to another event loop") as info:
            asyncio.run(store.get("a"))
        assert "client=" in str(info.value)
