"""One RedisStore, many event loops: a store that owns its client works on whichever loop
calls it (a client per loop, closed when its loop ends); a client passed in serves its
first loop, and any other loop gets a StoreError at once that says what to do.

Starlette's ``TestClient(app)`` without ``with`` runs each request on a new loop, and so
does ``asyncio.run()`` called twice: both are exercised here on a real Redis (and a real
Cluster). ``filterwarnings = error`` makes any connection left unclosed fail the test.
"""

from __future__ import annotations

import asyncio
import gc
import warnings

import pytest
from redis.asyncio import Redis

from connectstore import StoreError, StoreUnavailableError
from connectstore_conformance import make_session
from connectstore_redis import RedisStore
from tests.adapters.redis.conftest import unique_prefix
from tests.adapters.redis.servers import command
from tests.counter_app import counter_app

with warnings.catch_warnings():
    # Starlette >= 1.x prefers httpx2 for its test client and warns when it falls back to
    # httpx (what uv.lock installs); the client works the same with either.
    warnings.filterwarnings("ignore", "Using `httpx` with `starlette.testclient`", UserWarning)
    from starlette.testclient import TestClient


def connections_named(port: int, name: str) -> int:
    """How many connections the Redis on ``port`` has from clients called ``name``."""
    return command(port, "CLIENT", "LIST").count(f" name={name} ")


def test_starlette_test_client_without_with(shared_redis: str) -> None:
    name = unique_prefix("loops", glob=False).strip(":")
    store = RedisStore.from_url(shared_redis, prefix=name + ":", client_options={"client_name": name})
    client = TestClient(counter_app(store))  # no `with`: every request runs on a new event loop
    assert [client.get("/").json()["views"] for _ in range(3)] == [1, 2, 3]
    gc.collect()  # any connection of an ended loop left open would warn (an error here)
    assert connections_named(6379, name) == 0, "each loop's client was closed when its loop ended"

    async def finish() -> None:
        assert await store.length() == 1
        await store.clear()
        await store.close()

    asyncio.run(finish())


@pytest.mark.parametrize("deployment", ["standalone", "cluster"])
def test_asyncio_run_twice_on_one_store(deployment: str, request: pytest.FixtureRequest) -> None:
    url = request.getfixturevalue("shared_redis" if deployment == "standalone" else "cluster_url")
    store = RedisStore.from_url(url, prefix=unique_prefix("runs"))
    asyncio.run(store.set("a", make_session(n=1)))

    async def second() -> None:
        assert (await store.get("a") or {}).get("n") == 1
        await store.set("b", make_session(n=2))
        assert await store.length() == 2

    asyncio.run(second())

    async def third() -> None:
        assert sorted(await store.all()) == ["a", "b"]
        await store.clear()
        await store.close()

    asyncio.run(third())
    gc.collect()


def test_a_loop_closed_without_shutting_down_leaves_the_next_loop_working(shared_redis: str) -> None:
    """What a bare ``loop.close()`` does: the first loop's client cannot be closed on it (a
    closed loop runs nothing), so its connections close when garbage-collected, with
    Python's ResourceWarning (documented); the store goes on working on the next loop.
    """
    store = RedisStore.from_url(shared_redis, prefix=unique_prefix("closed"))
    first = asyncio.new_event_loop()
    try:
        first.run_until_complete(store.set("a", make_session(n=1)))
    finally:
        first.close()

    async def second() -> None:
        assert (await store.get("a") or {}).get("n") == 1
        await store.clear()
        await store.close()

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        asyncio.run(second())
        gc.collect()


def test_a_client_passed_in_fails_at_once_on_another_loop(shared_redis: str) -> None:
    """redis-py clients belong to their loop; the store cannot rebuild the application's."""

    async def first(store: RedisStore) -> None:
        await store.set("a", make_session(n=1))

    async def second(store: RedisStore) -> None:
        with pytest.raises(StoreError) as error:
            await store.get("a")
        assert not isinstance(error.value, StoreUnavailableError)
        message = str(error.value)
        assert "another event loop" in message
        assert "from_url" in message
        assert not store.breaker.is_open, "a programming error is not an outage"

    async def run(client: Redis) -> None:
        store = RedisStore(client, prefix=unique_prefix("user"))
        await first(store)
        await asyncio.to_thread(asyncio.run, second(store))  # a second loop, in a thread
        await store.clear()

    async def main() -> None:
        client = Redis.from_url(shared_redis)
        try:
            await run(client)
        finally:
            await client.aclose()

    asyncio.run(main())
