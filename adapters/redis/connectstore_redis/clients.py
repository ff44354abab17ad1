"""Store URLs, checked in full, and the redis-py client a store builds from one.

``redis://`` and ``rediss://`` give a standalone client, ``redis+cluster://`` and
``rediss+cluster://`` a :class:`~redis.asyncio.RedisCluster`. Every part of the URL is
checked before anything is built (redis-py reads ``/9x`` or ``/nine`` as database 0, and
an unknown query argument only fails at the first command): scheme, port, database,
each query argument's name and value. A bad URL raises :class:`~connectstore.StoreURLError`
whose message never carries a password. The client connects lazily (on the first
command), so building it does no I/O.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from redis.asyncio import Redis, RedisCluster
from redis.asyncio.connection import URL_QUERY_ARGUMENT_PARSERS
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from connectstore import REDACTED, Credentials, StoreURLError, url_credentials
from connectstore_redis.topology import Client

__all__ = [
    "MAX_DB",
    "REDIS_URL_OPTIONS",
    "SCHEMES",
    "STORE_URL_OPTIONS",
    "StoreURL",
    "describe_client",
    "make_client",
    "parse_store_url",
    "secrets_of_client",
]

SCHEMES = {"redis": False, "rediss": False, "redis+cluster": True, "rediss+cluster": True}
"""URL scheme -> whether it names a Redis Cluster."""

MAX_DB = 2**31 - 1
"""The largest database number Redis can be configured with (``databases`` is an int)."""


@dataclass(frozen=True)
class StoreURL:
    """A checked store URL: what redis-py gets, the store options, and how to show it."""

    cluster: bool
    client_url: str
    """The URL for redis-py: plain scheme, canonical database, redis-py query arguments only."""
    options: dict[str, Any]
    """Store options given as query arguments, parsed."""
    display: str
    """The URL without its password or query, for reprs and messages."""
    secrets: Credentials = field(repr=False)


def parse_store_url(url: str) -> StoreURL:
    """Check every part of ``url`` and split it into client URL and store options.

    Raises :class:`~connectstore.StoreURLError` naming the part that is wrong (never a
    password): an unknown scheme, a port outside 1-65535, a database that is not a whole
    number from 0 to :data:`MAX_DB` (or not 0 on a Cluster), an unknown or repeated query
    argument, a value of the wrong kind.
    """
    if not isinstance(url, str):
        raise StoreURLError(f"a Redis URL must be a str, not {type(url).__name__}")
    scheme_text, sep, _ = url.partition("://")
    scheme = scheme_text.lower()
    if not sep or scheme not in SCHEMES:
        shown = scheme_text if sep else "(none)"
        raise StoreURLError(f"not a Redis URL scheme: {shown!r} (schemes: {', '.join(sorted(SCHEMES))})")
    cluster = SCHEMES[scheme]
    try:
        parts = urlsplit(url)
    except ValueError:  # "Invalid IPv6 URL": the message would not help, the URL may hold a password
        raise StoreURLError(
            f"{scheme}:// URL cannot be parsed: the host is not a name, an IPv4 or a bracketed IPv6 address"
        ) from None
    secrets = url_credentials(url) + Credentials([parts.password])
    userinfo, at, hostport = parts.netloc.rpartition("@")
    user, colon, password = userinfo.partition(":")
    display_userinfo = f"{user}{':' + REDACTED if colon and password else ''}@" if at else ""

    def fail(message: str) -> StoreURLError:
        return StoreURLError(secrets.scrub(f"{message} in {scheme}://{display_userinfo}{hostport}"))

    if parts.fragment or url.endswith("#"):
        raise fail("a Redis URL cannot have a '#' fragment (percent-encode '#' in a password as %23)")
    try:
        port = parts.port
    except ValueError:
        raise fail("the port is not a whole number from 1 to 65535") from None
    if port == 0:
        raise fail("the port is not a whole number from 1 to 65535")
    db = _database(parts.path, fail)
    options: dict[str, Any] = {}
    passed_on: list[tuple[str, str]] = []
    seen: set[str] = set()
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        if name in seen:
            raise fail(f"URL option {name!r} is given twice")
        seen.add(name)
        if name in STORE_URL_OPTIONS:
            options[name] = STORE_URL_OPTIONS[name](name, value, fail)
        elif name == "db":
            query_db = _database("/" + value, fail)
            if parts.path not in ("", "/") and query_db != db:
                raise fail(f"the database is given twice ({db} in the path, db={value!r})")
            db = query_db
        elif name in REDIS_URL_OPTIONS:
            REDIS_URL_OPTIONS[name](name, value, fail)
            passed_on.append((name, value))
        else:
            known = sorted({*STORE_URL_OPTIONS, *REDIS_URL_OPTIONS, "db"})
            raise fail(f"unknown URL option {name!r} (known: {', '.join(known)})")
    if cluster and db != 0:
        raise fail(f"a Redis Cluster has only database 0, not {db}")
    plain = scheme.removesuffix("+cluster")
    path = "" if cluster else f"/{db}"
    query = f"?{urlencode(passed_on)}" if passed_on else ""
    return StoreURL(
        cluster=cluster,
        client_url=f"{plain}://{parts.netloc}{path}{query}",
        options=options,
        display=f"{scheme}://{display_userinfo}{hostport}{path}",
        secrets=secrets,
    )


def make_client(
    url: StoreURL,
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
    options: dict[str, Any] = {
        "socket_timeout": timeout,
        "socket_connect_timeout": timeout,
        "retry": Retry(NoBackoff(), 1),
        **(client_options or {}),
    }
    secrets = url.secrets + Credentials([options.get("password"), options.get("ssl_password")])
    try:
        if url.cluster:
            return RedisCluster.from_url(url.client_url, max_connections=max_connections, **options)
        return Redis.from_url(url.client_url, max_connections=max_connections, **options)
    except Exception as exc:  # redis-py raises ValueError, TypeError, RedisClusterException...
        message = secrets.scrub(f"cannot build a Redis client for {url.display}: {type(exc).__name__}: {exc}")
        raise StoreURLError(message) from None


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


_DATABASE = re.compile(r"/([0-9]+)/?")


def _database(path: str, fail: Callable[[str], StoreURLError]) -> int:
    """The database a URL path names: ``""`` or ``"/"`` is 0, ``"/N"`` is N."""
    if path in ("", "/"):
        return 0
    match = _DATABASE.fullmatch(path)
    if match is None or int(match.group(1)) > MAX_DB:
        raise fail(f"the database must be a whole number from 0 to {MAX_DB}, not {path.lstrip('/')!r}")
    return int(match.group(1))


Fail = Callable[[str], StoreURLError]
Parser = Callable[[str, str, Fail], Any]


def _url_int(name: str, value: str, fail: Fail) -> int:
    if not re.fullmatch(r"[+-]?[0-9]+", value.strip()):
        raise fail(f"URL option {name}={value!r} is not a whole number")
    return int(value)


def _url_count(name: str, value: str, fail: Fail) -> int:
    number = _url_int(name, value, fail)
    if number < 0:
        raise fail(f"URL option {name}={value!r} is negative")
    return number


def _url_float(name: str, value: str, fail: Fail) -> float:
    try:
        number = float(value)
    except ValueError:
        raise fail(f"URL option {name}={value!r} is not a number") from None
    if not math.isfinite(number) or number <= 0:
        raise fail(f"URL option {name}={value!r} is not a positive number of seconds")
    return number


def _url_bool(name: str, value: str, fail: Fail) -> bool:
    lowered = value.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise fail(f"URL option {name}={value!r} is not a boolean (true/false, yes/no, on/off, 1/0)")


def _url_str(name: str, value: str, fail: Fail) -> str:
    return value


def _url_secret(name: str, value: str, fail: Fail) -> str:
    if not value:
        raise fail(f"URL option {name} is empty")
    return value


def _url_choice(*choices: str) -> Parser:
    def parse(name: str, value: str, fail: Fail) -> str:
        if value.lower() not in choices:
            raise fail(f"URL option {name}={value!r} is not one of {', '.join(choices)}")
        return value

    return parse


def _url_protocol(name: str, value: str, fail: Fail) -> int:
    if value not in ("2", "3"):
        raise fail(f"URL option {name}={value!r} is not 2 or 3")
    return int(value)


def _url_redis_parsed(name: str, value: str, fail: Fail) -> object:
    try:
        return URL_QUERY_ARGUMENT_PARSERS[name](value)
    except (TypeError, ValueError):
        raise fail(f"URL option {name}={value!r} is not valid") from None


STORE_URL_OPTIONS: dict[str, Parser] = {
    "prefix": _url_str,
    "ttl": _url_int,
    "disable_ttl": _url_bool,
    "disable_touch": _url_bool,
    "trust_key_ttl": _url_bool,
    "scan_count": _url_int,
    "timeout": _url_float,
    "max_concurrency": _url_int,
    "allow_empty_prefix_clear": _url_bool,
    "failure_threshold": _url_int,
    "retry_interval": _url_float,
}
"""Store options a URL may carry as query arguments, with their parsers."""

_KIND_PARSERS: dict[object, Parser] = {int: _url_count, float: _url_float}
_REDIS_PARSED = {
    name: _KIND_PARSERS.get(parser, _url_bool if getattr(parser, "__name__", "") == "to_bool" else None)
    or _url_redis_parsed
    for name, parser in URL_QUERY_ARGUMENT_PARSERS.items()
    if name not in STORE_URL_OPTIONS and name != "db"
}

REDIS_URL_OPTIONS: dict[str, Parser] = {
    **_REDIS_PARSED,
    "protocol": _url_protocol,
    "client_name": _url_str,
    "lib_name": _url_str,
    "lib_version": _url_str,
    "username": _url_str,
    "password": _url_secret,
    "ssl_keyfile": _url_str,
    "ssl_certfile": _url_str,
    "ssl_cert_reqs": _url_choice("none", "optional", "required"),
    "ssl_ca_certs": _url_str,
    "ssl_ca_data": _url_str,
    "ssl_ca_path": _url_str,
    "ssl_ciphers": _url_str,
    "ssl_password": _url_secret,
}
"""redis-py's own options a URL may carry (passed on to the client), with their checks."""
