"""Reading, scanning and deleting keys on one Redis server or on every primary of a Cluster.

The store speaks to a :class:`Topology`; its two kinds differ only where Redis Cluster
forces them to:

* :class:`Standalone` fetches a batch of sessions (value and remaining TTL of each key,
  read atomically) with one Lua call (the scripts are in :mod:`~connectstore_redis.queries`)
  and deletes a batch with one multi-key ``DEL``.
* :class:`Cluster` scans each primary with its own cursor, and sends batches through a
  non-transactional cluster pipeline (one round trip per node), one command per key:
  multi-key commands and scripts cannot span hash slots.

Every round trip goes through :class:`~connectstore_redis.failures.Bounded`; a batch is at
most ``batch_size`` keys, never one giant ``MGET``/``DEL``. With ``auto_pipeline``,
:attr:`Topology.execute` (the single-key commands and scripts) goes through an
:class:`~connectstore_redis.pipeline.AutoPipeline`: the server's, or on a Cluster that of
the key's node (:class:`~connectstore_redis.cluster_pipeline.ClusterPipelines`).
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

from redis.asyncio import Redis, RedisCluster
from redis.exceptions import NoScriptError

from connectstore import StoreError
from connectstore_redis.cluster_pipeline import ClusterPipelines
from connectstore_redis.failures import Bounded
from connectstore_redis.pipeline import AutoPipeline
from connectstore_redis.queries import (
    CREATE_SCRIPT,
    CREATE_SHA,
    FETCH_SCRIPT,
    FETCH_SHA,
    GET_SCRIPT,
    GET_SHA,
    SET_IF_SCRIPT,
    SET_IF_SHA,
    TOUCH_SCRIPT,
    TOUCH_SHA,
    Fetched,
    split_fetched,
)

__all__ = ["Client", "Cluster", "Standalone", "Topology", "topology_for"]

Client = Redis | RedisCluster
"""A redis-py asyncio client: a standalone server or a Cluster."""


class Topology(abc.ABC):
    """The key operations a store needs, for one kind of deployment."""

    pipeline: AutoPipeline | ClusterPipelines | None = None

    def __init__(self, client: Client, bounded: Bounded) -> None:
        self.client = client
        self.bounded = bounded
        self.execute: Callable[..., Awaitable[Any]] = client.execute_command
        """Sends one command and returns its reply: auto-pipelined, or redis-py's own path."""

    async def close(self) -> None:
        """Give back what this topology holds beyond the client (the pipeline's connection)."""
        if self.pipeline is not None:
            await self.pipeline.close()

    async def fetch_one(self, key: bytes) -> Fetched:
        """Value and PTTL of one key, atomically (one round trip)."""
        return split_fetched(await self.script(GET_SHA, GET_SCRIPT, (key,)))

    async def replace(self, key: bytes, expected: bytes | str, value: bytes, ttl: int | None) -> bool:
        """Write ``value`` (TTL ``ttl`` s; None: none; ``<= 0``: delete) if ``key`` still holds
        ``expected``; False when it changed in between. One atomic round trip.
        """
        ttl_arg = "" if ttl is None else str(ttl)
        written = await self.script(TOUCH_SHA, TOUCH_SCRIPT, (key,), (expected, value, ttl_arg))
        return bool(written)

    async def set_if(self, key: bytes, digest: str, floor: int, value: bytes, ttl: int | None) -> bool:
        """Write ``value`` (TTL as for :meth:`replace`) if ``key``'s value still has SHA-1
        ``digest`` and a PTTL above ``floor``; False otherwise. One atomic round trip.
        """
        ttl_arg = "" if ttl is None else str(ttl)
        args = (digest, str(floor), value, ttl_arg)
        return bool(await self.script(SET_IF_SHA, SET_IF_SCRIPT, (key,), args))

    async def create(
        self, key: bytes, now: str, trust_key_ttl: bool, value: bytes, ttl: int | None
    ) -> bool | Fetched:
        """Write ``value`` (TTL as for :meth:`replace`) unless ``key`` holds a live session at
        ``now`` (JavaScript's ``toJSON`` form). One atomic round trip.

        True when written, False when a live session is there, or the stored
        :data:`~connectstore_redis.queries.Fetched` record when the caller must judge it
        (see :data:`~connectstore_redis.queries.CREATE_SCRIPT`).
        """
        ttl_arg = "" if ttl is None else str(ttl)
        args = (now, "1" if trust_key_ttl else "0", value, ttl_arg)
        reply = await self.script(CREATE_SHA, CREATE_SCRIPT, (key,), args)
        return bool(reply) if isinstance(reply, int) else split_fetched(reply)

    async def script(
        self, sha: str, script: str, keys: Sequence[bytes | str], args: Sequence[bytes | str] = ()
    ) -> Any:
        """``EVALSHA``, falling back to ``EVAL`` (which caches the script) when Redis lacks it."""
        execute = self.execute
        try:
            return await self.bounded(lambda: execute("EVALSHA", sha, len(keys), *keys, *args))
        except StoreError as exc:
            if not isinstance(exc.__cause__, NoScriptError):
                raise
        # first use on this server, or after SCRIPT FLUSH or a restart
        return await self.bounded(lambda: execute("EVAL", script, len(keys), *keys, *args))

    @abc.abstractmethod
    def scan(self, pattern: bytes, count: int) -> AsyncIterator[list[bytes | str]]:
        """The replies of a full ``SCAN MATCH pattern COUNT count TYPE string``, one list each."""

    @abc.abstractmethod
    async def fetch(self, keys: Sequence[bytes | str]) -> list[Fetched]:
        """Value and PTTL of each key, in order."""

    @abc.abstractmethod
    async def delete(self, keys: Sequence[bytes | str]) -> None:
        """Delete the keys (missing ones are fine)."""


class Standalone(Topology):
    """One Redis server (or a proxy that behaves like one); ``auto_pipeline`` sends the
    single-key commands of concurrent callers through an :class:`AutoPipeline`.
    """

    client: Redis

    def __init__(self, client: Redis, bounded: Bounded, *, auto_pipeline: bool = False) -> None:
        super().__init__(client, bounded)
        if auto_pipeline:
            self.pipeline = AutoPipeline(client, bounded.timeout)
            self.execute = self.pipeline.execute

    async def scan(self, pattern: bytes, count: int) -> AsyncIterator[list[bytes | str]]:
        """SCAN the whole keyspace from cursor 0 until Redis returns cursor 0 again."""
        cursor = 0

        async def step() -> Any:
            return await self.client.scan(cursor, match=pattern, count=count, _type="string")

        while True:
            reply = await self.bounded(step)
            cursor = int(reply[0])
            yield list(reply[1])
            if cursor == 0:
                return

    async def fetch(self, keys: Sequence[bytes | str]) -> list[Fetched]:
        """One Lua call for the whole batch."""
        if not keys:
            return []
        replies = await self.script(FETCH_SHA, FETCH_SCRIPT, keys)
        return [split_fetched(reply) for reply in replies]

    async def delete(self, keys: Sequence[bytes | str]) -> None:
        """One multi-key ``DEL`` for the whole batch."""
        if keys:
            await self.bounded(lambda: self.client.delete(*keys))


class Cluster(Topology):
    """A Redis Cluster: every primary is scanned; batches go through a cluster pipeline;
    ``auto_pipeline`` sends the single-key commands of concurrent callers through one
    :class:`AutoPipeline` per primary.
    """

    client: RedisCluster

    def __init__(self, client: RedisCluster, bounded: Bounded, *, auto_pipeline: bool = False) -> None:
        super().__init__(client, bounded)
        if auto_pipeline:
            self.pipeline = ClusterPipelines(client, bounded.timeout)
            self.execute = self.pipeline.execute

    async def scan(self, pattern: bytes, count: int) -> AsyncIterator[list[bytes | str]]:
        """SCAN each primary in turn, each with its own cursor."""
        await self.bounded(self.client.initialize)  # the primaries are known once initialized
        for node in self.client.get_primaries():
            async for keys in self._scan_node(node, pattern, count):
                yield keys

    async def _scan_node(self, node: Any, pattern: bytes, count: int) -> AsyncIterator[list[bytes | str]]:
        cursor = 0

        async def step() -> Any:
            return await self.client.scan(
                cursor, match=pattern, count=count, _type="string", target_nodes=node
            )

        while True:
            cursors, keys = await self.bounded(step)
            # with target_nodes, redis-py reports the cursor as {node name: cursor}
            cursor = int(next(iter(cursors.values())) if isinstance(cursors, dict) else cursors)
            yield list(keys)
            if cursor == 0:
                return

    async def fetch(self, keys: Sequence[bytes | str]) -> list[Fetched]:
        """``GET`` and ``PTTL`` per key, pipelined per node (scripts cannot span slots)."""
        if not keys:
            return []
        pipe = self.client.pipeline(transaction=False)
        for key in keys:
            pipe.get(key)
            pipe.pttl(key)
        reply = await self.bounded(pipe.execute)
        # GET and PTTL of one key are two commands here: a key that vanished in between
        # reads as missing, never as a value without a life.
        return [
            (value, int(pttl)) if isinstance(value, (bytes, str)) and pttl != -2 else (None, -2)
            for value, pttl in zip(reply[::2], reply[1::2], strict=True)
        ]

    async def delete(self, keys: Sequence[bytes | str]) -> None:
        """One ``DEL`` per key, pipelined per node."""
        if not keys:
            return
        pipe = self.client.pipeline(transaction=False)
        for key in keys:
            pipe.delete(key)
        await self.bounded(pipe.execute)


def topology_for(client: Client, bounded: Bounded, *, auto_pipeline: bool = False) -> Topology:
    """The topology matching ``client``'s kind."""
    if isinstance(client, RedisCluster):
        return Cluster(client, bounded, auto_pipeline=auto_pipeline)
    if isinstance(client, Redis):
        return Standalone(client, bounded, auto_pipeline=auto_pipeline)
    raise TypeError(
        f"client must be a redis.asyncio.Redis or redis.asyncio.RedisCluster, not {type(client).__name__}"
    )
