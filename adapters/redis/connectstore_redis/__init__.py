"""connectstore-redis: an express-session store on Redis and Redis Cluster.

Byte-compatible with connect-redis 9 (same keys, same JSON, same TTLs), so Python and Node
apps share sessions through one Redis.
"""

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
