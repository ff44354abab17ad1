"""RedisStore's conditional writes under real concurrency, outages, and counted round trips.

Races run many callers on one store (through the automatic pipeline, or without it) and on
a second store object of their own, and on a real Cluster; the counter test also runs a
second event loop in a thread. Round trips are counted by the server itself
(``INFO commandstats`` deltas on a redis-server of the test's own).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import pytest_asyncio
from redis.asyncio import Redis

from connectstore import now_ms
from connectstore.cookie import format_expires
from connectstore_conformance import make_session
from connectstore_redis import RedisStore
from connectstore_redis.queries import CREATE_SCRIPT, GET_SCRIPT, SET_IF_SCRIPT
from tests.adapters.redis.conftest import unique_prefix
from tests.adapters.redis.servers import RedisServer, command
from tests.adapters.redis.test_faults import fails_fast, until_served

CALM = 30.0
"""Seconds a call may take outside the outage tests: a loaded machine is slow, not down."""
CALLERS = 40
TASKS = 16
INCREMENTS = 12


@pytest_asyncio.fixture(params=("pipelined", "plain", "cluster"))
async def stores(request: pytest.FixtureRequest) -> AsyncIterator[tuple[RedisStore, RedisStore]]:
    """Two store objects (two clients) on one prefix: the shared Redis or the test Cluster."""
    kind: str = request.param
    url = str(request.getfixturevalue("cluster_url" if kind == "cluster" else "shared_redis"))
    prefix = unique_prefix(kind)
    pipelined = kind != "plain"
    async with (
        RedisStore.from_url(url, prefix=prefix, auto_pipeline=pipelined, timeout=CALM) as one,
        RedisStore.from_url(url, prefix=prefix, auto_pipeline=pipelined, timeout=CALM) as two,
    ):
        yield one, two
        await one.clear()


async def test_of_many_set_if_on_one_version_exactly_one_wins(stores: tuple[RedisStore, RedisStore]) -> None:
    one, two = stores
    await one.set("s", make_session(v=0))
    read = await one.get_versioned("s")
    assert read is not None
    results = await asyncio.gather(
        *((one if i % 2 else two).set_if("s", make_session(v=i + 1), read.version) for i in range(CALLERS))
    )
    winners = [i for i, version in enumerate(results) if version is not None]
    assert len(winners) == 1, results
    (winner,) = winners
    final = await two.get_versioned("s")
    assert final is not None
    assert final.session["v"] == winner + 1
    assert final.version == results[winner]


async def test_of_many_creates_of_one_sid_exactly_one_wins(stores: tuple[RedisStore, RedisStore]) -> None:
    one, two = stores
    raw = one.client
    await raw.set(
        one.prefix + "expired", json.dumps({"cookie": {"expires": format_expires(now_ms() - 9000)}})
    )
    await raw.set(one.prefix + "odd", json.dumps({"cookie": {"expires": "Thu, 01 Jan 2015 00:00:00 GMT"}}))
    for sid in ("fresh", "expired", "odd"):  # absent; expired (judged in Lua); judged in Python
        results = await asyncio.gather(
            *((one if i % 2 else two).create(sid, make_session(v=i)) for i in range(CALLERS))
        )
        winners = [i for i, version in enumerate(results) if version is not None]
        assert len(winners) == 1, (sid, results)
        final = await one.get_versioned(sid)
        assert final is not None
        assert final.session["v"] == winners[0]
        assert final.version == results[winners[0]]


async def increment(store: RedisStore, sid: str, times: int) -> int:
    """Add 1 to the session's ``n`` ``times`` times, each with a read and a conditional
    write retried on conflict; returns how many conflicts it met.
    """
    conflicts = 0
    for _ in range(times):
        while True:
            read = await store.get_versioned(sid)
            assert read is not None
            session = dict(read.session, n=read.session["n"] + 1)
            if await store.set_if(sid, session, read.version) is not None:
                break
            conflicts += 1
    return conflicts


async def test_a_counter_incremented_by_racing_tasks_loses_nothing(
    stores: tuple[RedisStore, RedisStore],
) -> None:
    """Tasks on two stores, plus tasks on another event loop in a thread (the same store
    object serving both loops): every increment lands exactly once.
    """
    one, two = stores
    await one.set("counter", make_session(n=0))

    async def on_another_loop() -> list[int]:
        return list(await asyncio.gather(*(increment(one, "counter", INCREMENTS) for _ in range(4))))

    here = asyncio.gather(
        *(increment(one if i % 2 else two, "counter", INCREMENTS) for i in range(TASKS)),
    )
    there = asyncio.to_thread(asyncio.run, on_another_loop())
    conflicts_here, conflicts_there = await asyncio.gather(here, there)
    final = await one.get("counter")
    assert final is not None
    assert final["n"] == (TASKS + 4) * INCREMENTS
    assert sum(conflicts_here) + sum(conflicts_there) > 0, "the tasks did race"


# -- outages ------------------------------------------------------------------------------

TIMEOUT = 0.5


def conditional_calls(store: RedisStore, version: str) -> dict[str, Callable[[], Awaitable[Any]]]:
    return {
        "get_versioned": lambda: store.get_versioned("s"),
        "set_if": lambda: store.set_if("s", make_session(v=2), version),
        "create": lambda: store.create("new", make_session(v=3)),
    }


async def test_a_killed_redis_fails_fast_then_the_same_store_recovers(own_redis: RedisServer) -> None:
    async with RedisStore.from_url(own_redis.url, prefix="cond:", timeout=TIMEOUT) as store:
        await store.set("s", make_session(v=1))
        read = await store.get_versioned("s")
        assert read is not None
        own_redis.kill()
        for name, call in conditional_calls(store, read.version).items():
            error = await fails_fast(call)
            assert "Redis" in str(error), name
        own_redis.start()  # empty, and without the scripts: NOSCRIPT, then EVAL
        await until_served(lambda: store.get_versioned("s"))
        assert await store.set_if("s", make_session(v=2), read.version) is None, "the record is gone"
        assert await store.create("s", make_session(v=3))
        again = await store.get_versioned("s")
        assert again is not None
        assert await store.set_if("s", make_session(v=4), again.version)


async def test_a_hung_redis_times_out_each_call() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(-1)
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = Redis(host="127.0.0.1", port=port)
    store = RedisStore(client, prefix="hung:", timeout=TIMEOUT, failure_threshold=100)
    try:
        for call in conditional_calls(store, "0" * 40).values():
            error = await fails_fast(call)
            assert f"within {TIMEOUT:g} s" in str(error)
    finally:
        await store.close()
        await client.aclose()
        server.close()
        await server.wait_closed()


# -- round trips --------------------------------------------------------------------------


def commands_served(ports: list[int]) -> dict[str, int]:
    """Calls per command the servers served so far (``INFO`` itself left out)."""
    totals: dict[str, int] = {}
    for port in ports:
        for line in command(port, "INFO", "commandstats").splitlines():
            if line.startswith("cmdstat_") and not line.startswith("cmdstat_info:"):
                name, _, stats = line.removeprefix("cmdstat_").partition(":")
                calls = int(stats.split(",")[0].removeprefix("calls="))
                totals[name] = totals.get(name, 0) + calls
    return totals


async def count_commands(ports: list[int], call: Callable[[], Awaitable[Any]]) -> dict[str, int]:
    before = commands_served(ports)
    await call()
    after = commands_served(ports)
    return {
        name: calls - before.get(name, 0) for name, calls in after.items() if calls != before.get(name, 0)
    }


async def assert_one_round_trip_each(store: RedisStore, ports: list[int]) -> None:
    """Each call sends one command (``EVALSHA``; ``SET`` for ``set``). commandstats also counts
    the commands a script runs, so the profiles below show the scripts' work too:
    ``get_versioned`` does exactly what ``get`` does.
    """
    await store.set("s", make_session(v=1))
    read = await store.get_versioned("s")  # the scripts are loaded now
    assert read is not None
    assert await store.create("warm", make_session())
    warm = await store.get_versioned("warm")
    assert warm is not None
    assert await store.set_if("warm", make_session(), warm.version)
    await store.length()  # a connection to every primary of a Cluster is open now
    for port in ports:  # each Cluster node learns each script on its first use (NOSCRIPT, EVAL)
        for script in (GET_SCRIPT, SET_IF_SCRIPT, CREATE_SCRIPT):
            command(port, "SCRIPT", "LOAD", script)
    read_profile = {"evalsha": 1, "get": 1, "pttl": 1}
    assert await count_commands(ports, lambda: store.get("s")) == read_profile
    assert await count_commands(ports, lambda: store.get_versioned("s")) == read_profile
    assert await count_commands(ports, lambda: store.set("t", make_session())) == {"set": 1}
    read = await store.get_versioned("s")
    assert read is not None
    assert await count_commands(ports, lambda: store.set_if("s", make_session(v=2), read.version)) == {
        "evalsha": 1,
        "get": 1,
        "set": 1,
    }
    assert await count_commands(ports, lambda: store.set_if("s", make_session(v=3), read.version)) == {
        "evalsha": 1,
        "get": 1,
    }, "a conflict writes nothing"
    created = {"evalsha": 1, "get": 1, "set": 1}
    assert await count_commands(ports, lambda: store.create("new", make_session())) == created
    assert await count_commands(ports, lambda: store.create("new", make_session())) == {
        "evalsha": 1,
        "get": 1,
    }


@pytest.mark.parametrize("auto_pipeline", [True, False], ids=["pipelined", "plain"])
async def test_each_conditional_call_is_one_round_trip(own_redis: RedisServer, auto_pipeline: bool) -> None:
    async with RedisStore.from_url(
        own_redis.url, prefix="rt:", auto_pipeline=auto_pipeline, timeout=CALM
    ) as store:
        await assert_one_round_trip_each(store, [own_redis.port])
        if auto_pipeline:
            binding = await store._loops.current()
            pipeline = binding.topology.pipeline
            assert pipeline is not None
            sent = pipeline.commands
            read = await store.get_versioned("s")
            assert read is not None
            await store.set_if("s", make_session(v=3), read.version)
            await store.create("other", make_session())
            assert pipeline.commands - sent == 3, "they take the pipeline's path"


async def test_each_conditional_call_is_one_round_trip_on_a_cluster(
    cluster_url: str, cluster_nodes: list[RedisServer]
) -> None:
    async with RedisStore.from_url(cluster_url, prefix=unique_prefix("rt"), timeout=CALM) as store:
        await assert_one_round_trip_each(store, [node.port for node in cluster_nodes])
        await store.clear()


async def test_a_flushed_script_cache_is_reloaded(own_redis: RedisServer) -> None:
    async with RedisStore.from_url(own_redis.url, prefix="flush:", timeout=CALM) as store:
        assert await store.create("s", make_session(v=1))
        read = await store.get_versioned("s")
        assert read is not None
        command(own_redis.port, "SCRIPT", "FLUSH")
        results = await asyncio.gather(
            *(store.set_if("s", make_session(v=i), read.version) for i in range(20))
        )
        assert sum(result is not None for result in results) == 1
        command(own_redis.port, "SCRIPT", "FLUSH")
        assert await store.create("t", make_session())
