"""Redis down, hung or restarted: calls fail fast with StoreUnavailableError, then recover.

Each test runs its own redis-server (or a silent TCP listener) on a free loopback port and
kills it by pid; the same store object must work again once Redis is back. The time
bounds asserted here are the fail-fast guarantee (a generous multiple of the store's
timeout), not a speed measurement.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import pytest_asyncio
from redis.asyncio import Redis

from connectstore import StoreUnavailableError
from connectstore_conformance import make_session
from connectstore_redis import RedisStore
from tests.adapters.redis.servers import RedisServer, command, redis_cluster
from tests.tools import free_port

TIMEOUT = 0.5
BOUND = 4 * TIMEOUT + 1.0
"""A call must fail within this many seconds: well above TIMEOUT, far below "hangs"."""


def every_call(store: RedisStore) -> dict[str, Callable[[], Awaitable[Any]]]:
    """One call of every store method, by name."""

    async def ids() -> list[str]:
        return [sid async for sid in store.ids()]

    async def items() -> list[tuple[str, Any]]:
        return [pair async for pair in store.items()]

    return {
        "get": lambda: store.get("s1"),
        "set": lambda: store.set("s1", make_session(v=2)),
        "destroy": lambda: store.destroy("s1"),
        "touch": lambda: store.touch("s1", make_session()),
        "all": store.all,
        "length": store.length,
        "clear": store.clear,
        "ids": ids,
        "items": items,
    }


async def until_served(call: Callable[[], Awaitable[Any]], bound: float = 15.0) -> None:
    """Retry ``call`` until it succeeds: the circuit breaker lets a probe through every
    ``retry_interval`` once Redis is back. Fails the test after ``bound`` seconds.
    """
    deadline = time.monotonic() + bound
    while True:
        try:
            await call()
            return
        except StoreUnavailableError:
            assert time.monotonic() < deadline, "service did not resume after Redis came back"
            await asyncio.sleep(0.05)


async def fails_fast(call: Callable[[], Awaitable[Any]]) -> StoreUnavailableError:
    started = time.monotonic()
    with pytest.raises(StoreUnavailableError) as error:
        await call()
    elapsed = time.monotonic() - started
    assert elapsed < BOUND, f"the call took {elapsed:.2f} s to fail"
    return error.value


@pytest_asyncio.fixture
async def store(own_redis: RedisServer) -> AsyncIterator[RedisStore]:
    async with RedisStore.from_url(own_redis.url, prefix="fault:", timeout=TIMEOUT, batch_size=10) as store:
        yield store


async def test_killed_redis_fails_fast_then_the_same_store_recovers(
    store: RedisStore, own_redis: RedisServer
) -> None:
    await store.set("s1", make_session(v=1))
    assert await store.get("s1") is not None
    own_redis.kill()
    for name, call in every_call(store).items():
        error = await fails_fast(call)
        assert "Redis" in str(error), name
    own_redis.start()  # same port, empty (no persistence)
    await until_served(lambda: store.get("s1"))
    assert await store.get("s1") is None
    for call in every_call(store).values():
        await call()
    await store.set("s2", make_session(v=3))
    assert (await store.get("s2") or {}).get("v") == 3
    assert await store.length() == 1


async def test_redis_killed_in_the_middle_of_a_listing(store: RedisStore, own_redis: RedisServer) -> None:
    for i in range(200):
        await store.set(f"s{i}", make_session(i=i))
    listing = store.items()
    assert isinstance(listing, AsyncGenerator)
    first = await anext(listing)
    assert first[0].startswith("s")
    own_redis.kill()

    async def rest() -> None:
        async for _ in listing:
            pass

    await fails_fast(rest)
    await listing.aclose()
    own_redis.start()
    await until_served(store.all)
    assert await store.all() == {}


async def test_hung_redis_times_out_even_with_a_users_client() -> None:
    """A server that accepts connections and never answers: the store's timeout bounds the
    call, also on a client built by the application with redis-py's own (longer) defaults.
    """

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(-1)  # read until the client gives up, never answer
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = Redis(host="127.0.0.1", port=port)
    store = RedisStore(client, prefix="hung:", timeout=TIMEOUT)
    try:
        for call in every_call(store).values():
            error = await fails_fast(call)
            assert f"within {TIMEOUT:g} s" in str(error)
    finally:
        await client.aclose()
        server.close()
        await server.wait_closed()


async def test_nothing_listening_fails_fast() -> None:
    async with RedisStore.from_url(f"redis://127.0.0.1:{free_port()}/0", timeout=TIMEOUT) as store:
        for call in every_call(store).values():
            await fails_fast(call)


async def test_cluster_primary_killed_fails_fast_then_recovers() -> None:
    """Kill one primary of a real cluster: calls fail fast; restart it (same port, same
    nodes.conf): the same store works again once the cluster is healthy.
    """
    with redis_cluster(primaries=3) as nodes:
        url = f"redis+cluster://127.0.0.1:{nodes[0].port}"
        async with RedisStore.from_url(url, prefix="cfault:", timeout=TIMEOUT) as store:
            for i in range(30):
                await store.set(f"s{i}", make_session(i=i))
            assert await store.length() == 30
            victim = nodes[1]
            victim.kill()
            await fails_fast(store.length)
            await fails_fast(store.all)
            failures = 0
            for i in range(30):  # the keys whose slots the dead primary served
                try:
                    await store.get(f"s{i}")
                except StoreUnavailableError:
                    failures += 1
            assert failures > 0
            victim.start()
            deadline = time.monotonic() + 30
            while not all("cluster_state:ok" in command(node.port, "CLUSTER", "INFO") for node in nodes):
                assert time.monotonic() < deadline, "the cluster did not heal"
                await asyncio.sleep(0.1)
            await until_served(lambda: store.set("after", make_session(v=1)))
            assert (await store.get("after") or {}).get("v") == 1
            assert await store.length() >= 1
