"""The store-URL factory registered under the ``connectstore.stores`` entry point."""

from __future__ import annotations

from typing import Any

from connectstore_redis.store import RedisStore

__all__ = ["open_redis_store"]


def open_redis_store(url: str, **options: Any) -> RedisStore:
    """``connectstore.open_store("redis://...")``: :meth:`RedisStore.from_url` (no I/O here).

    Registered for ``redis://``, ``rediss://``, ``redis+cluster://`` and ``rediss+cluster://``.
    """
    return RedisStore.from_url(url, **options)
