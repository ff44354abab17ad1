"""Store URLs, checked in full, and the store (with its redis-py clients) built from one.

``redis://`` and ``rediss://`` give a standalone client, ``redis+cluster://`` and
``rediss+cluster://`` a :class:`~redis.asyncio.RedisCluster`. Every part of the URL is
checked before anything is built (redis-py reads ``/9x`` or ``/nine`` as database 0, and
an unknown query argument only fails at the first command): scheme, port, database, each
query argument's name and value. The store's own options are read by
:class:`~connectstore.URLOptions` as every store reads them; redis-py's own options
(``client_name``, ``ssl_*``...) are checked the same way and passed on to redis-py, in the
form redis-py reads as they were meant (``socket_keepalive=off`` is false for both). A bad
URL raises :class:`~connectstore.StoreURLError` whose message never carries a password.
The client connects lazily (on the first command), so building a store does no I/O.

:func:`open_from_url` is the ``connectstore.stores`` entry point.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlencode, urlsplit

from redis.asyncio import Redis, RedisCluster
from redis.asyncio.connection import URL_QUERY_ARGUMENT_PARSERS
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from connectstore import (
    REDACTED,
    Credentials,
    StoreURLError,
    URLOptions,
    open_with_options,
    url_credentials,
)
from connectstore.url_options import (
    Converter,
    flag,
    positive_number,
    positive_whole_number,
    text,
    whole_number,
)
from connectstore_redis.failures import Bounded
from connectstore_redis.store import DEFAULT_MAX_CONCURRENCY, DEFAULT_TIMEOUT, RedisStore
from connectstore_redis.topology import Client

__all__ = [
    "MAX_DB",
    "REDIS_URL_OPTIONS",
    "SCHEMES",
    "STORE_URL_OPTIONS",
    "URL_OPTIONS",
    "StoreURL",
    "make_client",
    "open_from_url",
    "parse_store_url",
    "store_from_url",
]

_S = TypeVar("_S", bound=RedisStore)

SCHEMES = {"redis": False, "rediss": False, "redis+cluster": True, "rediss+cluster": True}
"""URL scheme -> whether it names a Redis Cluster."""

MAX_DB = 2**31 - 1
"""The largest database number Redis can be configured with (``databases`` is an int)."""


def open_from_url(url: str, *, client_options: Mapping[str, Any] | None = None, **options: Any) -> RedisStore:
    """``connectstore.open_store("redis://...")``: a :class:`RedisStore` on clients it owns.

    Registered for ``redis://``, ``rediss://``, ``redis+cluster://`` and
    ``rediss+cluster://``; the same as :meth:`RedisStore.from_url` (see there). No I/O here.
    """
    return store_from_url(RedisStore, url, client_options=client_options, options=options)


def store_from_url(
    cls: type[_S], url: str, *, client_options: Mapping[str, Any] | None, options: Mapping[str, Any]
) -> _S:
    """A ``cls`` (a :class:`RedisStore` class) on clients built from ``url``, which it owns.

    Keyword ``options`` win over the URL's (``scan_count`` as the alias of ``batch_size``
    too); a refused option raises :class:`~connectstore.StoreURLError`, credentials masked.
    """
    parsed = parse_store_url(url)
    keywords = dict(options)
    if "scan_count" in keywords and "batch_size" not in keywords:
        keywords["batch_size"] = keywords.pop("scan_count")  # the keyword alias wins over the URL too
    secrets = parsed.secrets + Credentials(
        (client_options or {}).get(k) for k in ("password", "ssl_password")
    )

    def build(**merged: Any) -> _S:
        timeout = merged.get("timeout", DEFAULT_TIMEOUT)
        max_concurrency = merged.get("max_concurrency", DEFAULT_MAX_CONCURRENCY)
        Bounded(timeout, max_concurrency)  # checked before a client is built with them

        def factory() -> Client:
            return make_client(
                parsed, timeout=timeout, max_connections=max_concurrency + 1, client_options=client_options
            )

        store = cls(factory(), **merged)
        store._own_clients(parsed.display, parsed.secrets, factory)
        return store

    try:
        return open_with_options(build, url=url, from_url=parsed.options, options=keywords)
    except StoreURLError as exc:
        raise StoreURLError(secrets.scrub(str(exc))) from None


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
    try:  # shown without its query: an unknown option's value may be a misplaced credential
        given = URL_OPTIONS.parse(parts.query, shown=f"{scheme}://{display_userinfo}{hostport}{parts.path}")
    except StoreURLError as exc:
        raise StoreURLError(secrets.scrub(str(exc))) from None
    if "db" in given:
        if parts.path not in ("", "/") and given["db"] != db:
            raise fail(f"the database is given twice ({db} in the path, db={given['db']} in the query)")
        db = given.pop("db")
    if cluster and db != 0:
        raise fail(f"a Redis Cluster has only database 0, not {db}")
    passed_on = [(name, value) for name, value in given.items() if name in REDIS_URL_OPTIONS]
    plain = scheme.removesuffix("+cluster")
    path = "" if cluster else f"/{db}"
    query = f"?{urlencode(passed_on)}" if passed_on else ""
    return StoreURL(
        cluster=cluster,
        client_url=f"{plain}://{parts.netloc}{path}{query}",
        options={name: value for name, value in given.items() if name in STORE_URL_OPTIONS},
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
    The client keeps at most ``max_connections`` connections (per node on a Cluster): the
    store's ``max_concurrency`` plus the one its auto-pipeline borrows, so it never runs dry.
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


_DATABASE = re.compile(r"/?([0-9]+)/?")


def _database_number(value: str) -> int:
    """A database number, ``0`` to :data:`MAX_DB` (``/7``, ``7/`` and ``7`` are 7)."""
    match = _DATABASE.fullmatch(value)
    if match is None or int(match.group(1)) > MAX_DB:
        raise ValueError(f"expected a whole number from 0 to {MAX_DB}")
    return int(match.group(1))


def _database(path: str, fail: Callable[[str], StoreURLError]) -> int:
    """The database a URL path names: ``""`` or ``"/"`` is 0, ``"/N"`` is N."""
    if path in ("", "/"):
        return 0
    try:
        return _database_number(path)
    except ValueError:
        raise fail(
            f"the database must be a whole number from 0 to {MAX_DB}, not {path.lstrip('/')!r}"
        ) from None


# redis-py's options are checked, then passed on as text redis-py reads the way it was meant.


def _switch(value: str) -> str:
    """A yes/no option, as :func:`~connectstore.url_options.flag` reads it, for redis-py."""
    return "true" if flag(value) else "false"


def _count(value: str) -> str:
    """A whole number, 0 or more."""
    number = whole_number(value)
    if number < 0:
        raise ValueError("expected a whole number, 0 or more")
    return str(number)


def _seconds(value: str) -> str:
    """A number of seconds above zero."""
    return str(positive_number(value))


def _secret(value: str) -> str:
    """A credential, never empty."""
    if not value:
        raise ValueError("expected a value, not nothing")
    return value


def _choice(*choices: str) -> Converter:
    def check(value: str) -> str:
        if value.lower() not in choices:
            raise ValueError(f"expected one of {', '.join(choices)}")
        return value

    return check


def _protocol(value: str) -> str:
    if value not in ("2", "3"):
        raise ValueError("expected 2 or 3")
    return value


def _redis_parsed(name: str) -> Converter:
    def check(value: str) -> str:
        try:
            URL_QUERY_ARGUMENT_PARSERS[name](value)
        except (TypeError, ValueError):
            raise ValueError("redis-py cannot read it") from None
        return value

    return check


STORE_URL_OPTIONS: dict[str, Converter] = {
    "prefix": text,
    "ttl": positive_whole_number,
    "disable_ttl": flag,
    "disable_touch": flag,
    "trust_key_ttl": flag,
    "batch_size": positive_whole_number,
    "timeout": positive_number,
    "max_concurrency": positive_whole_number,
    "allow_empty_prefix_clear": flag,
    "failure_threshold": positive_whole_number,
    "retry_interval": positive_number,
    "auto_pipeline": flag,
}
"""The store's options a URL may carry (the constructor's names), with their converters."""

STORE_URL_ALIASES = {"scan_count": "batch_size"}
"""Other names of store options: ``scan_count`` is connect-redis's ``scanCount``."""


def _redis_converter(name: str, parser: object) -> Converter:
    if parser is int:
        return _count
    if parser is float:
        return _seconds
    if getattr(parser, "__name__", "") == "to_bool":
        return _switch
    return _redis_parsed(name)


REDIS_URL_OPTIONS: dict[str, Converter] = {
    **{
        name: _redis_converter(name, parser)
        for name, parser in URL_QUERY_ARGUMENT_PARSERS.items()
        if name not in STORE_URL_OPTIONS and name != "db"
    },
    "protocol": _protocol,
    "client_name": text,
    "lib_name": text,
    "lib_version": text,
    "username": text,
    "password": _secret,
    "ssl_keyfile": text,
    "ssl_certfile": text,
    "ssl_cert_reqs": _choice("none", "optional", "required"),
    "ssl_ca_certs": text,
    "ssl_ca_data": text,
    "ssl_ca_path": text,
    "ssl_ciphers": text,
    "ssl_password": _secret,
}
"""redis-py's own options a URL may carry, checked, then passed on to the client."""

URL_OPTIONS = URLOptions(
    {**STORE_URL_OPTIONS, **REDIS_URL_OPTIONS, "db": _database_number}, aliases=STORE_URL_ALIASES
)
"""Every query option of a Redis store URL: the store's, redis-py's, and ``db``."""
