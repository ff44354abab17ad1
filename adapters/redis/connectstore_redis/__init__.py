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
if not TYPE_CHECKING:  # type checkers see the imports above instead
    from connectstore.lazy import lazy_exports

    __getattr__, __dir__ = lazy_exports(__name__, _MODULES, globals())


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
