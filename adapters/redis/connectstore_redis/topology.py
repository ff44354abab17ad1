"""Reading, scanning and deleting keys on one Redis server or on every primary of a Cluster.

The store speaks to a :class:`Topology`; its two kinds differ only where Redis Cluster
forces them to:

* :class:`Standalone` fetches a batch of sessions (value and remaining TTL of each key,
  read atomically) with one Lua call and deletes a batch with one multi-key ``DEL``.
* :class:`Cluster` scans each primary with its own cursor, and sends batches through a
  non-transactional cluster pipeline (one round trip per node), one command per key:
  multi-key commands and scripts cannot span hash slots.

Every round trip goes through :class:`~connectstore_redis.bounded.Bounded`; a batch is at
most ``scan_count`` keys, never one giant ``MGET``/``DEL``.
"""

from __future__ import annotations

import abc
import hashlib
from collections.abc import AsyncIterator, Sequence
from typing import Any

from redis.asyncio import Redis, RedisCluster
from redis.exceptions import NoScriptError

from connectstore import StoreError
from connectstore_redis.bounded import Bounded

__all__ = [
    "FETCH_SCRIPT",
    "GET_SCRIPT",
    "TOUCH_SCRIPT",
    "Client",
    "Cluster",
    "Fetched",
    "Standalone",
    "Topology",
    "topology_for",
]

Client = Redis | RedisCluster
"""A redis-py asyncio client: a standalone server or a Cluster."""

Fetched = tuple[bytes | str | None, int]
"""One key as read: its value (None when missing or not a string) and its PTTL in ms."""

GET_SCRIPT = """
local value = redis.pcall('GET', KEYS[1])
if type(value) ~= 'string' then return false end
return redis.call('PTTL', KEYS[1]) .. ' ' .. value
"""
"""One key's remaining life (PTTL, ms) and value, read atomically as ``"<pttl> <value>"``.

A missing key, or one that does not hold a string, reads as nil. One bulk reply costs
redis-py less to parse than a two-element array.
"""

FETCH_SCRIPT = """
local out = {}
for i = 1, #KEYS do
  local value = redis.pcall('GET', KEYS[i])
  if type(value) == 'string' then
    out[i] = redis.call('PTTL', KEYS[i]) .. ' ' .. value
  else
    out[i] = false
  end
end
return out
"""
""":data:`GET_SCRIPT` for a batch of keys: one ``"<pttl> <value>"`` or nil per key."""

TOUCH_SCRIPT = """
if redis.pcall('GET', KEYS[1]) ~= ARGV[1] then return 0 end
local ttl = tonumber(ARGV[3])
if ttl == nil then
  redis.call('SET', KEYS[1], ARGV[2])
elseif ttl <= 0 then
  redis.call('DEL', KEYS[1])
else
  redis.call('SET', KEYS[1], ARGV[2], 'EX', ttl)
end
return 1
"""
"""Compare-and-set for ``touch``: replace the value only if it is still ``ARGV[1]``.

``ARGV[2]`` is the new value, ``ARGV[3]`` its TTL in seconds (empty: no expiry; ``<= 0``:
delete). Returns 1 when written, 0 when the key changed or vanished in between (a
concurrent ``set`` or ``destroy`` wins; nothing is overwritten).
"""

_GET_SHA = hashlib.sha1(GET_SCRIPT.encode()).hexdigest()
_FETCH_SHA = hashlib.sha1(FETCH_SCRIPT.encode()).hexdigest()
_TOUCH_SHA = hashlib.sha1(TOUCH_SCRIPT.encode()).hexdigest()


def _split(reply: Any) -> Fetched:
    """``"<pttl> <value>"`` -> ``(value, pttl)``; nil (or RESP3's false) -> ``(None, -2)``."""
    if isinstance(reply, bytes):
        head, _, value = reply.partition(b" ")
        return value, int(head)
    if isinstance(reply, str):  # a client that decodes responses
        text_head, _, text = reply.partition(" ")
        return text, int(text_head)
    return None, -2


class Topology(abc.ABC):
    """The key operations a store needs, for one kind of deployment."""

    def __init__(self, client: Client, bounded: Bounded) -> None:
        self.client = client
        self.bounded = bounded

    async def fetch_one(self, key: bytes) -> Fetched:
        """Value and PTTL of one key, atomically (one round trip)."""
        return _split(await self.script(_GET_SHA, GET_SCRIPT, (key,)))

    async def replace(self, key: bytes, expected: bytes | str, value: bytes, ttl: int | None) -> bool:
        """Write ``value`` (TTL ``ttl`` s; None: none; ``<= 0``: delete) if ``key`` still holds
        ``expected``; False when it changed in between. One atomic round trip.
        """
        ttl_arg = "" if ttl is None else str(ttl)
        written = await self.script(_TOUCH_SHA, TOUCH_SCRIPT, (key,), (expected, value, ttl_arg))
        return bool(written)

    async def script(
        self, sha: str, script: str, keys: Sequence[bytes | str], args: Sequence[bytes | str] = ()
    ) -> Any:
        """``EVALSHA``, falling back to ``EVAL`` (which caches the script) when Redis lacks it."""
        client = self.client
        try:
            return await self.bounded(lambda: client.execute_command("EVALSHA", sha, len(keys), *keys, *args))
        except StoreError as exc:
            if not isinstance(exc.__cause__, NoScriptError):
                raise
        # first use on this server, or after SCRIPT FLUSH or a restart
        return await self.bounded(lambda: client.execute_command("EVAL", script, len(keys), *keys, *args))

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
    """One Redis server (or a proxy that behaves like one)."""

    client: Redis

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
        replies = await self.script(_FETCH_SHA, FETCH_SCRIPT, keys)
        return [_split(reply) for reply in replies]

    async def delete(self, keys: Sequence[bytes | str]) -> None:
        """One multi-key ``DEL`` for the whole batch."""
        if keys:
            await self.bounded(lambda: self.client.delete(*keys))


class Cluster(Topology):
    """A Redis Cluster: every primary is scanned; batches go through a cluster pipeline."""

    client: RedisCluster

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


def topology_for(client: Client, bounded: Bounded) -> Topology:
    """The topology matching ``client``'s kind."""
    if isinstance(client, RedisCluster):
        return Cluster(client, bounded)
    if isinstance(client, Redis):
        return Standalone(client, bounded)
    raise TypeError(
        f"client must be a redis.asyncio.Redis or redis.asyncio.RedisCluster, not {type(client).__name__}"
    )
