"""Automatic pipelining on a real Redis Cluster: one pipeline per primary, the node chosen by
the key's slot, redirections (a slot moved to another node) followed through redis-py's
own routing, nothing lost; each caller keeps its own answer.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest

from connectstore_conformance import make_session
from connectstore_redis import RedisStore
from connectstore_redis.cluster_pipeline import ClusterPipelines
from connectstore_redis.queries import GET_SCRIPT, SET_IF_SCRIPT
from tests.adapters.redis.conftest import unique_prefix
from tests.adapters.redis.servers import RedisServer, command, redis_cluster

CALLERS = 120
BOUND = 60.0  # seconds for a condition to come true: a hang fails, slowness does not


async def pipelines_of(store: RedisStore) -> ClusterPipelines:
    """The cluster pipelines the store uses on the running loop."""
    binding = await store._loops.current()
    pipelines = binding.topology.pipeline
    assert isinstance(pipelines, ClusterPipelines)
    return pipelines


async def connected(store: RedisStore) -> ClusterPipelines:
    """The store's cluster pipelines once every primary's connection is open."""
    await store.set("warm", make_session())
    pipelines = await pipelines_of(store)
    deadline = time.monotonic() + BOUND
    while not all(pipeline._conn is not None for _, pipeline in pipelines._pipelines.values()):
        assert time.monotonic() < deadline, "the primaries' pipelines did not connect"
        await asyncio.sleep(0.02)
    return pipelines


async def test_concurrent_callers_share_one_write_per_node_and_get_their_own_sessions(
    cluster_url: str, cluster_nodes: list[RedisServer]
) -> None:
    async with RedisStore.from_url(cluster_url, prefix=unique_prefix("cp")) as store:
        pipelines = await connected(store)
        assert len(pipelines._pipelines) == len(cluster_nodes), "one pipeline per primary"
        for node in cluster_nodes:  # no NOSCRIPT (and EVAL again) below: one command per call
            for script in (GET_SCRIPT, SET_IF_SCRIPT):
                command(node.port, "SCRIPT", "LOAD", script)
        sent, written = pipelines.commands, pipelines.writes
        await asyncio.gather(*(store.set(f"s{i}", make_session(i=i)) for i in range(CALLERS)))
        got = await asyncio.gather(*(store.get(f"s{i}") for i in range(CALLERS)))
        assert [session["i"] if session else None for session in got] == list(range(CALLERS))
        versions = await asyncio.gather(*(store.get_versioned(f"s{i}") for i in range(CALLERS)))
        written_ifs = await asyncio.gather(
            *(
                store.set_if(f"s{i}", make_session(i=-i), versioned.version)
                for i, versioned in enumerate(versions)
                if versioned is not None
            )
        )
        assert all(version is not None for version in written_ifs)
        assert pipelines.commands - sent == 4 * CALLERS, "every call took a node's pipeline"
        assert pipelines.writes - written < 2 * CALLERS, "the calls of one loop turn share writes"
        assert [(await store.get(f"s{i}") or {}).get("i") for i in (1, 2, 3)] == [-1, -2, -3]
        await store.clear()
    assert not pipelines._pipelines, "close() closed every node's pipeline"


@pytest.fixture
def own_cluster() -> Iterator[list[RedisServer]]:
    """A cluster of the test's own (a slot of it is moved)."""
    with redis_cluster(primaries=3) as nodes:
        yield nodes


def move_slot_of(key: str, nodes: list[RedisServer]) -> None:
    """Move ``key``'s slot (and the key) to the other node, as ``redis-cli --cluster reshard`` does."""
    slot = command(nodes[0].port, "CLUSTER", "KEYSLOT", key).strip()
    ids = {node.port: command(node.port, "CLUSTER", "MYID").strip() for node in nodes}
    owner = next(
        node for node in nodes if command(node.port, "CLUSTER", "COUNTKEYSINSLOT", slot).strip() != "0"
    )
    target = next(node for node in nodes if node is not owner)
    command(target.port, "CLUSTER", "SETSLOT", slot, "IMPORTING", ids[owner.port])
    command(owner.port, "CLUSTER", "SETSLOT", slot, "MIGRATING", ids[target.port])
    command(owner.port, "MIGRATE", "127.0.0.1", str(target.port), key, "0", "5000")
    for node in (target, owner):
        command(node.port, "CLUSTER", "SETSLOT", slot, "NODE", ids[target.port])


async def test_a_moved_slot_is_followed_and_nothing_is_lost(own_cluster: list[RedisServer]) -> None:
    prefix = "mv:"
    async with RedisStore.from_url(
        f"redis+cluster://127.0.0.1:{own_cluster[0].port}", prefix=prefix
    ) as store:
        await connected(store)
        await store.set("s", make_session(v=1))
        move_slot_of(prefix + "s", own_cluster)
        got = await asyncio.gather(*(store.get("s") for _ in range(20)))  # MOVED: redis-py reroutes
        assert all(session is not None and session["v"] == 1 for session in got)
        versioned = await store.get_versioned("s")
        assert versioned is not None
        assert await store.set_if("s", make_session(v=2), versioned.version) is not None
        assert (await store.get("s") or {}).get("v") == 2
        pipelines = await pipelines_of(store)
        sent = pipelines.commands
        assert (await store.get("s") or {}).get("v") == 2
        assert pipelines.commands - sent == 1, "the refreshed slot table sends it to the new node's pipeline"
