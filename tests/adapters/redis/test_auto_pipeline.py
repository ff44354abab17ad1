"""Automatic pipelining (``auto_pipeline=True``, the default on a standalone server).

Commands that concurrent callers issue in one loop turn leave in one write on one
connection and are read back in order: each caller still gets its own answer, its own
error, its own deadline, and the breaker sees every call. All on real redis-servers.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import pytest_asyncio
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from connectstore import SessionDecodeError, StoreUnavailableError
from connectstore_conformance import make_session
from connectstore_redis import RedisStore
from connectstore_redis.pipeline import AutoPipeline
from tests.adapters.redis.conftest import unique_prefix
from tests.adapters.redis.servers import RedisServer, command

CALLERS = 200
BOUND = 60.0  # seconds for a condition to come true: a hang fails, slowness does not


@pytest_asyncio.fixture
async def raw(shared_redis: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(shared_redis)
    yield client
    await client.aclose()


async def pipeline_of(store: RedisStore) -> AutoPipeline:
    """The auto-pipeline the store uses on the running loop."""
    binding = await store._loops.current()
    pipeline = binding.topology.pipeline
    assert isinstance(pipeline, AutoPipeline)  # a standalone server's (a Cluster has one per node)
    return pipeline


async def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + BOUND
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


async def test_concurrent_callers_each_get_their_own_session(store: RedisStore) -> None:
    assert store.auto_pipeline
    await asyncio.gather(*(store.set(f"s{i}", make_session(i=i)) for i in range(CALLERS)))
    got = await asyncio.gather(*(store.get(f"s{i}") for i in range(CALLERS)))
    assert [session["i"] if session else None for session in got] == list(range(CALLERS))
    # mixed: writes, reads, deletes and misses in the same loop turns
    calls: list[Any] = []
    for i in range(CALLERS):
        calls += [store.get(f"s{i}"), store.set(f"t{i}", make_session(t=i)), store.get(f"missing{i}")]
        if i % 10 == 0:
            calls.append(store.destroy(f"s{i}"))
    await asyncio.gather(*calls)
    got = await asyncio.gather(*(store.get(f"s{i}") for i in range(CALLERS)))
    assert [session["i"] if session else None for session in got] == [
        None if i % 10 == 0 else i for i in range(CALLERS)
    ]
    got = await asyncio.gather(*(store.get(f"t{i}") for i in range(CALLERS)))
    assert [session["t"] if session else None for session in got] == list(range(CALLERS))


async def test_one_callers_error_fails_that_caller_only(store: RedisStore, raw: Redis) -> None:
    """A corrupt record, a key of another type and a WRONGTYPE reply among many good calls."""
    await asyncio.gather(*(store.set(f"s{i}", make_session(i=i)) for i in range(50)))
    await raw.set(store.prefix + "corrupt", b"{not json")
    await raw.rpush(store.prefix + "alist", b"x")
    sids = [f"s{i}" for i in range(50)]
    sids[17], sids[33] = "corrupt", "alist"
    got = await asyncio.gather(*(store.get(sid) for sid in sids), return_exceptions=True)
    assert isinstance(got[17], SessionDecodeError)
    assert got[33] is None, "a key that does not hold a string reads as missing"
    for i, session in enumerate(got):
        if i not in (17, 33):
            assert isinstance(session, dict)
            assert session["i"] == i
    # a raw error reply inside one batch: only its own caller sees WRONGTYPE
    pipeline = await pipeline_of(store)
    keys = [store.prefix + f"s{i}" for i in range(50)]
    keys[5] = store.prefix + "alist"
    replies = await asyncio.gather(*(pipeline.execute("GET", key) for key in keys), return_exceptions=True)
    assert isinstance(replies[5], ResponseError)
    assert "WRONGTYPE" in str(replies[5])
    for i, reply in enumerate(replies):
        if i != 5:
            assert isinstance(reply, bytes)
            assert b'"i":%d' % i in reply
    assert await store.get("s0") is not None, "the connection is still in use after the error"


async def test_a_flushed_script_cache_is_reloaded_for_every_caller(store: RedisStore, raw: Redis) -> None:
    """Every caller of a batch gets NOSCRIPT, falls back to EVAL, and reads its own session."""
    await asyncio.gather(*(store.set(f"s{i}", make_session(i=i)) for i in range(40)))
    await raw.script_flush()
    got = await asyncio.gather(*(store.get(f"s{i}") for i in range(40)))
    assert [session["i"] if session else None for session in got] == list(range(40))


async def test_concurrent_calls_share_one_connection_and_few_writes(own_redis: RedisServer) -> None:
    before = int(_info(own_redis, "total_connections_received"))
    async with RedisStore.from_url(own_redis.url, prefix="p:") as store:
        await store.set("s", make_session(v=1))
        await store.get("s")  # connected
        pipeline = await pipeline_of(store)
        commands, writes = pipeline.commands, pipeline.writes
        for _ in range(5):
            got = await asyncio.gather(*(store.get("s") for _ in range(CALLERS)))
            assert all(session is not None and session["v"] == 1 for session in got)
        sent, written = pipeline.commands - commands, pipeline.writes - writes
        assert sent == 5 * CALLERS
        assert written <= sent / 10, f"{sent} commands took {written} writes"
        assert int(_info(own_redis, "total_connections_received")) - before <= 3, (
            "the callers shared the pipeline's connection"
        )
    async with RedisStore.from_url(own_redis.url, prefix="p:", auto_pipeline=False) as plain:
        assert plain.auto_pipeline is False
        before = int(_info(own_redis, "total_connections_received"))
        await asyncio.gather(*(plain.get("s") for _ in range(CALLERS)))
        assert int(_info(own_redis, "total_connections_received")) - before > 3, "one connection per call"


async def test_a_stalled_server_fails_each_caller_in_its_own_time_then_recovers(
    own_redis: RedisServer,
) -> None:
    """SIGSTOP: every call in flight fails within its timeout, the breaker opens, and once
    the server runs again the store reconnects and every caller gets its answer.
    """
    async with RedisStore.from_url(own_redis.url, prefix="p:", timeout=0.5) as store:
        await store.set("s", make_session(v=1))
        assert await store.get("s") is not None
        assert own_redis.process is not None
        pid = own_redis.process.pid
        os.kill(pid, signal.SIGSTOP)
        try:
            started = time.monotonic()
            errors = await asyncio.gather(*(store.get("s") for _ in range(50)), return_exceptions=True)
            assert time.monotonic() - started < BOUND
            assert all(isinstance(error, StoreUnavailableError) for error in errors), errors
            assert any("within 0.5 s" in str(error) for error in errors)
            assert store.breaker.is_open
        finally:
            os.kill(pid, signal.SIGCONT)
        deadline = time.monotonic() + BOUND
        while True:
            try:
                got = await asyncio.gather(*(store.get("s") for _ in range(50)))
                break
            except StoreUnavailableError:
                assert time.monotonic() < deadline, "service did not resume"
                await asyncio.sleep(0.05)
        assert all(session is not None and session["v"] == 1 for session in got)
        assert not store.breaker.is_open


async def test_a_cancelled_caller_leaves_the_others_their_answers(store: RedisStore) -> None:
    await asyncio.gather(*(store.set(f"s{i}", make_session(i=i)) for i in range(30)))
    pipeline = await pipeline_of(store)
    await wait_until(lambda: pipeline._conn is not None, "the pipeline's connection")
    tasks = [asyncio.create_task(store.get(f"s{i}")) for i in range(30)]
    await asyncio.sleep(0)  # the commands are issued
    tasks[7].cancel()
    done = await asyncio.gather(*tasks, return_exceptions=True)
    assert isinstance(done[7], asyncio.CancelledError)
    for i, session in enumerate(done):
        if i != 7:
            assert isinstance(session, dict)
            assert session["i"] == i
    assert (await store.get("s7") or {}).get("i") == 7


async def test_a_killed_server_fails_the_batch_then_recovers(own_redis: RedisServer) -> None:
    async with RedisStore.from_url(own_redis.url, prefix="p:", timeout=0.5) as store:
        await store.set("s", make_session(v=1))
        await store.get("s")
        own_redis.kill()
        errors = await asyncio.gather(*(store.get("s") for _ in range(40)), return_exceptions=True)
        assert all(isinstance(error, StoreUnavailableError) for error in errors), errors
        own_redis.start()
        deadline = time.monotonic() + BOUND
        while True:
            try:
                await store.set("s", make_session(v=2))
                break
            except StoreUnavailableError:
                assert time.monotonic() < deadline, "service did not resume"
                await asyncio.sleep(0.05)
        got = await asyncio.gather(*(store.get("s") for _ in range(40)))
        assert all(session is not None and session["v"] == 2 for session in got)


async def test_a_users_client_gets_its_connection_back_on_close(shared_redis: str) -> None:
    client = Redis.from_url(shared_redis)
    store = RedisStore(client, prefix=unique_prefix())
    try:
        await asyncio.gather(*(store.set(f"s{i}", make_session(i=i)) for i in range(20)))
        pipeline = await pipeline_of(store)
        await wait_until(lambda: pipeline._conn is not None, "the pipeline's connection")
        await store.get("s1")
        await store.close()
        assert pipeline._conn is None
        assert not client.connection_pool._in_use_connections, "every connection is back in the pool"
        assert (await store.get("s1") or {}).get("i") == 1, "the store goes on after close()"
        await store.clear()
        await store.close()
    finally:
        await client.aclose()


@pytest.mark.parametrize("owned", [False, True], ids=["users-client", "own-client"])
def test_a_loop_that_ends_without_close_is_left_no_pending_task(shared_redis: str, owned: bool) -> None:
    """A loop closed the manual way (run_until_complete, shutdown_asyncgens, close) without
    ``store.close()``: the pipeline's reader task ends with the loop, on a user's client too.
    """
    loop = asyncio.new_event_loop()
    client = None if owned else Redis.from_url(shared_redis)
    prefix = unique_prefix()

    async def use() -> AutoPipeline:
        store = (
            RedisStore.from_url(shared_redis, prefix=prefix)
            if client is None
            else RedisStore(client, prefix=prefix)
        )
        await asyncio.gather(*(store.set(f"s{i}", make_session(i=i)) for i in range(5)))
        assert (await store.get("s1") or {}).get("i") == 1
        await store.clear()
        pipeline = await pipeline_of(store)
        assert pipeline._reader is not None, "the pipeline reads on a task of the loop"
        return pipeline

    try:
        pipeline = loop.run_until_complete(use())
        loop.run_until_complete(loop.shutdown_asyncgens())
        assert pipeline._reader is None
        assert pipeline._conn is None
        assert not asyncio.all_tasks(loop), "no task of the store's is left pending"
        if client is not None:
            assert not client.connection_pool._in_use_connections, "the user's client got its connection back"
            loop.run_until_complete(client.aclose())
    finally:
        loop.close()


@pytest.mark.parametrize("value", ["false", "0"])
def test_the_url_can_turn_it_off(value: str) -> None:
    assert RedisStore.from_url(f"redis://127.0.0.1:1/0?auto_pipeline={value}").auto_pipeline is False
    assert RedisStore.from_url("redis://127.0.0.1:1/0").auto_pipeline is True


def _info(server: RedisServer, field: str) -> str:
    for line in command(server.port, "INFO", "stats").splitlines():
        if line.startswith(field + ":"):
            return line.split(":", 1)[1].strip()
    raise AssertionError(f"INFO has no {field}")
