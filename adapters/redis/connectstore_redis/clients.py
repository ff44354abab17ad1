"""What a store may say about a redis-py client: where it connects, and which secrets to mask.

Used for the client a store is given (and for those it builds from a URL): messages and
reprs name the server, never a credential the client was configured with.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from redis.asyncio import RedisCluster

from connectstore import Credentials
from connectstore_redis.topology import Client

__all__ = ["describe_client", "secrets_of_client"]


def describe_client(client: Client) -> str:
    """Where ``client`` connects, for messages: ``Redis at 127.0.0.1:6379/0`` (no credential)."""
    if isinstance(client, RedisCluster):
        nodes = sorted(getattr(client.nodes_manager, "startup_nodes", {}) or {})
        return f"Redis Cluster via {', '.join(nodes[:3]) or 'its startup nodes'}"
    kwargs = client.connection_pool.connection_kwargs
    if "path" in kwargs:
        return f"Redis at unix:{kwargs['path']}"
    return f"Redis at {kwargs.get('host', 'localhost')}:{kwargs.get('port', 6379)}/{kwargs.get('db', 0)}"


def secrets_of_client(client: Client) -> Credentials:
    """The credentials ``client`` was configured with (to keep them out of messages)."""
    if isinstance(client, RedisCluster):
        kwargs: Mapping[str, Any] = getattr(client, "connection_kwargs", {}) or {}
    else:
        kwargs = client.connection_pool.connection_kwargs
    return Credentials([kwargs.get("password"), kwargs.get("ssl_password")])
