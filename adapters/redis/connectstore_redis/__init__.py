"""connectstore-redis: an express-session store on Redis and Redis Cluster.

Byte-compatible with connect-redis 9 (same keys, same JSON, same TTLs), so Python and Node
apps share sessions through one Redis.

``import connectstore_redis`` does not import redis-py yet: each name is imported from its
module on first use (PEP 562), so a program that never makes a ``RedisStore`` never pays
for the driver.
"""

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing
if TYPE_CHECKING:
    from connectstore_redis.failures import UNAVAILABLE_ERRORS
    from connectstore_redis.keys import escape_glob
    from connectstore_redis.store import (
        DEFAULT_BATCH_SIZE,
        DEFAULT_FAILURE_THRESHOLD,
        DEFAULT_MAX_CONCURRENCY,
        DEFAULT_RETRY_INTERVAL,
        DEFAULT_TIMEOUT,
        RedisStore,
        TTLFunction,
    )
    from connectstore_redis.url import open_from_url

__version__ = "0.1.0"

#: Where each public name lives: module (under ``connectstore_redis.``) -> names.
_MODULES: dict[str, tuple[str, ...]] = {
    "failures": ("UNAVAILABLE_ERRORS",),
    "keys": ("escape_glob",),
    "store": (
        "DEFAULT_BATCH_SIZE",
        "DEFAULT_FAILURE_THRESHOLD",
        "DEFAULT_MAX_CONCURRENCY",
        "DEFAULT_RETRY_INTERVAL",
        "DEFAULT_TIMEOUT",
        "RedisStore",
        "TTLFunction",
    ),
    "url": ("open_from_url",),
}
_WHERE = {name: module for module, names in _MODULES.items() for name in names}


if not TYPE_CHECKING:  # type checkers see the imports above instead

    def __getattr__(name: str) -> object:
        """Import a public name from its module on first use, and keep it here for the next."""
        module = _WHERE.get(name)
        if module is None:
            raise AttributeError(f"module 'connectstore_redis' has no attribute {name!r}")
        from importlib import import_module

        value = getattr(import_module(f"connectstore_redis.{module}"), name)
        globals()[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(globals()) | set(__all__))


__all__ = [
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_FAILURE_THRESHOLD",
    "DEFAULT_MAX_CONCURRENCY",
    "DEFAULT_RETRY_INTERVAL",
    "DEFAULT_TIMEOUT",
    "UNAVAILABLE_ERRORS",
    "RedisStore",
    "TTLFunction",
    "escape_glob",
    "open_from_url",
]
