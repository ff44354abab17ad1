"""Building the redis-py client a store owns from a URL, with every wait bounded.

``redis://`` and ``rediss://`` give a standalone client, ``redis+cluster://`` and
``rediss+cluster://`` a :class:`~redis.asyncio.RedisCluster`. The client connects lazily
(on the first command), so building it does no I/O. Store options may ride in the URL's
query (``?prefix=app%3A&ttl=3600``); :func:`split_store_url` takes them out.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from redis.asyncio import Redis, RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisClusterException

from connectstore import StoreURLError
from connectstore_redis.topology import Client

__all__ = ["SCHEMES", "make_client", "redacted", "split_store_url"]

SCHEMES = {"redis": False, "rediss": False, "redis+cluster": True, "rediss+cluster": True}
"""URL scheme -> whether it names a Redis Cluster."""


def make_client(
    url: str,
    *,
    timeout: float,
    max_connections: int,
    client_options: Mapping[str, Any] | None = None,
) -> Client:
    """A redis-py asyncio client for ``url`` that fails fast when Redis is down.

    Connecting and each socket read are bounded by ``timeout``; a command is retried once,
    at once, so a connection that died with a restarted server is replaced transparently.
    The client keeps at most ``max_connections`` connections (per node on a Cluster); the
    store never has more calls in flight than that, so the pool never runs dry.
    ``client_options`` go to redis-py (URL query arguments win over them, as in redis-py).
    """
    scheme, sep, rest = url.partition("://")
    cluster = SCHEMES.get(scheme.lower())
    if not sep or cluster is None:
        raise StoreURLError(f"not a Redis URL: {scheme or url!r}:// (schemes: {', '.join(sorted(SCHEMES))})")
    plain_url = f"{scheme.lower().removesuffix('+cluster')}://{rest}"
    options: dict[str, Any] = {
        "socket_timeout": timeout,
        "socket_connect_timeout": timeout,
        "retry": Retry(NoBackoff(), 1),
        **(client_options or {}),
    }
    try:
        if cluster:
            return RedisCluster.from_url(plain_url, max_connections=max_connections, **options)
        return Redis.from_url(plain_url, max_connections=max_connections, **options)
    except (ValueError, TypeError, RedisClusterException) as exc:
        raise StoreURLError(f"cannot open a Redis client for this URL: {exc}") from exc


def split_store_url(url: str) -> tuple[str, dict[str, Any]]:
    """``url`` without the store options of its query, and those options, parsed.

    ``redis://h/0?prefix=app%3A&client_name=web`` -> ``("redis://h/0?client_name=web",
    {"prefix": "app:"})``. A malformed option value raises :class:`StoreURLError`.
    """
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    options = {name: _URL_OPTIONS[name](name, value) for name, value in query if name in _URL_OPTIONS}
    passed_on = [(name, value) for name, value in query if name not in _URL_OPTIONS]
    return urlunsplit(parts._replace(query=urlencode(passed_on))), options


def redacted(url: str) -> str:
    """``url`` without its password, for error messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return repr(url)
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return repr(urlunsplit(parts._replace(netloc=netloc)))


def _url_int(name: str, value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise StoreURLError(f"URL option {name}={value!r} is not an integer") from None


def _url_float(name: str, value: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise StoreURLError(f"URL option {name}={value!r} is not a number") from None


def _url_bool(name: str, value: str) -> bool:
    lowered = value.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise StoreURLError(f"URL option {name}={value!r} is not a boolean")


def _url_str(name: str, value: str) -> str:
    return value


_URL_OPTIONS: dict[str, Callable[[str, str], Any]] = {
    "prefix": _url_str,
    "ttl": _url_int,
    "disable_ttl": _url_bool,
    "disable_touch": _url_bool,
    "scan_count": _url_int,
    "timeout": _url_float,
    "max_concurrency": _url_int,
    "allow_empty_prefix_clear": _url_bool,
}
"""Store options a URL may carry as query arguments, with their parsers."""
