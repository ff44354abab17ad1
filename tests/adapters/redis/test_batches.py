"""Bulk operations in bounded batches, on every Cluster primary, with SCAN's repeats dropped.

The commands are watched with Redis's own MONITOR on a server of the test's own: no
command carries more than ``batch_size`` keys (connect-redis sends one MGET/DEL with every
key), and SCAN always carries the escaped pattern, the COUNT and ``TYPE string``.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from redis.asyncio import Redis

from connectstore_conformance import make_session
from connectstore_redis import RedisStore
from connectstore_redis.dedupe import RecentKeys
from tests.adapters.redis.conftest import unique_prefix
from tests.adapters.redis.servers import RedisServer, command
from tests.tools import require_tool

ARGUMENT = re.compile(r'"((?:[^"\\]|\\.)*)"')


@contextmanager
def monitor(server: RedisServer) -> Iterator[list[list[str]]]:
    """Every command the server receives inside the block, as lists of arguments."""
    with subprocess.Popen(
        [require_tool("redis-cli"), "-p", str(server.port), "monitor"],
        stdout=subprocess.PIPE,
        text=True,
    ) as process:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "OK"
        commands: list[list[str]] = []
        try:
            yield commands
        finally:
            command(server.port, "ECHO", "monitor-end")
            for line in process.stdout:
                args = ARGUMENT.findall(line)
                if args == ["ECHO", "monitor-end"]:
                    break
                if args:
                    commands.append(args)
            process.terminate()


async def test_bulk_operations_never_send_more_than_batch_size_keys(own_redis: RedisServer) -> None:
    raw = Redis.from_url(own_redis.url)
    async with RedisStore.from_url(own_redis.url, prefix="a?:", batch_size=50) as store:
        pipe = raw.pipeline(transaction=False)
        for i in range(1000):
            pipe.set(f"a?:s{i}", store.serializer.dumps(make_session(i=i)), ex=600)
        await pipe.execute()
        with monitor(own_redis) as commands:
            assert len(await store.all()) == 1000
            assert await store.length() == 1000
            await store.clear()
        assert await store.length() == 0
    await raw.aclose()

    names = [args[0].upper() for args in commands]
    assert "MGET" not in names
    assert "KEYS" not in names
    scans = [args for args in commands if args[0].upper() == "SCAN"]
    assert scans
    assert all(args[2:] == ["MATCH", "a\\\\?:*", "COUNT", "50", "TYPE", "string"] for args in scans)
    fetches = [args for args in commands if args[0].upper() == "EVALSHA"]
    assert len(fetches) >= 1000 // 50
    assert max(int(args[2]) for args in fetches) <= 50
    deletes = [args for args in commands if args[0].upper() == "DEL"]
    assert len(deletes) >= 1000 // 50
    assert max(len(args) - 1 for args in deletes) <= 50


async def test_cluster_listings_and_clear_cover_every_primary(
    cluster_nodes: list[RedisServer], cluster_url: str
) -> None:
    prefix = unique_prefix("cluster")
    foreign = [f"foreign-{prefix}{i}" for i in range(30)]
    async with RedisStore.from_url(cluster_url, prefix=prefix, batch_size=20) as store:
        for key in foreign:
            await store.client.set(key, "keep", ex=600)
        sessions = {f"s{i}": make_session(i=i) for i in range(300)}
        for sid, session in sessions.items():
            await store.set(sid, session)
        per_node = [
            len(command(node.port, "--scan", "--pattern", prefix.replace("[", "\\[") + "*").split())
            for node in cluster_nodes
        ]
        assert all(count > 0 for count in per_node), per_node
        assert sum(per_node) == 300
        assert await store.length() == 300
        assert await store.all() == sessions
        ids = [sid async for sid in store.ids()]
        assert sorted(ids) == sorted(sessions)
        await store.clear()
        assert await store.length() == 0
        for key in foreign:
            assert await store.client.get(key) == b"keep"
            await store.client.delete(key)


def test_recent_keys_forgets_only_beyond_its_window() -> None:
    recent = RecentKeys(window=3)
    assert [recent.first_time(k) for k in "abca"] == [True, True, True, False]
    assert recent.first_time("d") is True  # a, b, c, d: "a" falls out of the window
    assert recent.first_time("a") is True
    assert recent.first_time("c") is False


@pytest.mark.parametrize("batch_size", [7])
async def test_ids_stay_exact_while_the_keyspace_shrinks_under_the_scan(
    own_redis: RedisServer, batch_size: int
) -> None:
    """50,000 foreign keys vanish in the middle of a scan, so Redis shrinks its table while
    SCAN walks it (the case where SCAN repeats keys): every session is still listed once.
    """
    raw = Redis.from_url(own_redis.url)
    pipe = raw.pipeline(transaction=False)
    for i in range(50_000):
        pipe.set(f"foreign:{i}", "x")
    await pipe.execute()
    async with RedisStore.from_url(own_redis.url, prefix="s:", batch_size=batch_size) as store:
        for i in range(300):
            await store.set(str(i), make_session())
        seen: list[str] = []
        async for sid in store.ids():
            seen.append(sid)
            if len(seen) == 40:
                pipe = raw.pipeline(transaction=False)
                for i in range(50_000):
                    pipe.unlink(f"foreign:{i}")
                await pipe.execute()
                await asyncio.sleep(0.3)  # let serverCron resize the table
        assert sorted(seen, key=int) == [str(i) for i in range(300)]
    await raw.aclose()
