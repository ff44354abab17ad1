"""Automatic pipelining on Redis Cluster: one :class:`~connectstore_redis.pipeline.AutoPipeline`
per primary, each command on the pipeline of the node that owns its key's slot.

redis-py's ``RedisCluster`` sends each command on a connection of its own to the node it
routes to, so concurrent callers cost a round trip each. Here each primary gets what a
standalone server gets: one connection, borrowed from that node's own connections (so
the client's TLS, credentials and RESP version apply), the commands of one loop turn in
one write. The slot table is redis-py's (``nodes_manager``, kept current by redis-py).

Whatever the cluster answers that redis-py knows how to follow (``MOVED``, ``ASK``,
``TRYAGAIN``, ``CLUSTERDOWN``, a node's connection lost in a failover) sends the command
again through redis-py's own routing (``RedisCluster.execute_command``), which follows the
redirection, refreshes its slot table and retries as it always does; the next command
then goes to the node the refreshed table names. A slot no node covers, or a table not
loaded yet, also takes redis-py's path. Timeouts, errors and the breaker apply per call,
around this (:class:`~connectstore_redis.failures.Bounded`), as on a server. A client that
reads from replicas (``read_from_replicas``, ``load_balancing_strategy``) keeps redis-py's
routing altogether.
"""

from __future__ import annotations

from typing import Any

from redis.asyncio import RedisCluster
from redis.asyncio.cluster import ClusterNode
from redis.asyncio.connection import Connection
from redis.exceptions import AskError, ClusterDownError, MovedError, TryAgainError
from redis.exceptions import ConnectionError as RedisConnectionError

from connectstore_redis.pipeline import AutoPipeline

__all__ = ["ClusterPipelines", "NodeConnections"]

REROUTED: tuple[type[BaseException], ...] = (
    MovedError,
    AskError,
    TryAgainError,
    ClusterDownError,
    RedisConnectionError,
)
"""Failures of a node's pipeline that redis-py's own routing follows or retries."""

_KEY_AT = {"EVALSHA": 3, "EVAL": 3}  # EVAL[SHA] script numkeys key ...; other commands: name key ...


class NodeConnections:
    """A Cluster node's own connections, lent the way a connection pool lends them."""

    __slots__ = ("node",)

    def __init__(self, node: ClusterNode) -> None:
        self.node = node

    def get_available_connection(self) -> Connection:
        """A free connection of the node (a new one while under its maximum)."""
        return self.node.acquire_connection()

    async def release(self, conn: Connection) -> None:
        """Give ``conn`` back to the node."""
        self.node.release(conn)


class ClusterPipelines:
    """The auto-pipelines of one Cluster client on one event loop, one per primary.

    ``timeout`` is the store's per-call timeout (see :class:`AutoPipeline`).
    """

    __slots__ = ("_client", "_opened", "_pipelines", "_timeout", "enabled")

    def __init__(self, client: RedisCluster, timeout: float) -> None:
        self._client = client
        self._timeout = timeout
        self._pipelines: dict[str, tuple[ClusterNode, AutoPipeline]] = {}
        self._opened = False
        self.enabled = not client.read_from_replicas and client.load_balancing_strategy is None
        """False for a client that reads from replicas: every command takes redis-py's path."""

    @property
    def commands(self) -> int:
        """Commands sent through the nodes' pipelines (for tests and benchmarks)."""
        return sum(pipeline.commands for _, pipeline in self._pipelines.values())

    @property
    def writes(self) -> int:
        """Socket writes of the nodes' pipelines (for tests and benchmarks)."""
        return sum(pipeline.writes for _, pipeline in self._pipelines.values())

    async def execute(self, *args: Any) -> Any:
        """Send one single-key command on the pipeline of its key's node and return its reply
        (redis-py's routing when the cluster redirects it or the node fails).
        """
        client = self._client
        node = self._node_of(args) if self.enabled else None
        if node is not None and not self._opened:  # the first command: open every primary's
            self._opened = True
            for primary in client.get_primaries():
                (await self._pipeline_for(primary)).open()
        if node is None:
            return await client.execute_command(*args)
        pipeline = await self._pipeline_for(node)
        try:
            return await pipeline.execute(*args)
        except REROUTED:
            return await client.execute_command(*args)

    def _node_of(self, args: tuple[Any, ...]) -> ClusterNode | None:
        """The primary that owns the slot of the command's key, None when redis-py must say."""
        name = args[0]
        name = name.decode() if isinstance(name, bytes) else str(name)
        key = args[_KEY_AT.get(name.upper(), 1)]
        client = self._client
        try:
            return client.nodes_manager.get_node_from_slot(client.keyslot(key))
        except Exception:  # no slot table yet, or the slot is not covered
            return None

    async def _pipeline_for(self, node: ClusterNode) -> AutoPipeline:
        known = self._pipelines.get(node.name)
        if known is not None:
            if known[0] is node:
                return known[1]
            await known[1].close()  # redis-py replaced the node (a new slot table): start over
        pipeline = AutoPipeline(self._client, self._timeout, pool=NodeConnections(node))
        self._pipelines[node.name] = (node, pipeline)
        return pipeline

    async def close(self) -> None:
        """Close every node's pipeline (their connections go back to their nodes)."""
        pipelines, self._pipelines = list(self._pipelines.values()), {}
        self._opened = False
        for _, pipeline in pipelines:
            await pipeline.close()
