"""RedisStore: connect-redis's layout byte for byte, without connect-redis's mistakes.

A session lives under the key ``prefix + sid`` as the express-session JSON, written with
``SET key value EX ttl`` where ``ttl`` is the whole number of seconds left until
``cookie.expires`` (rounded up) or the default TTL. A Node app using express-session and
connect-redis 9 on the same Redis reads and writes the same sessions. Unlike connect-redis,
a session whose ``cookie.expires`` has passed is never returned or listed, listings and
``clear`` escape the prefix and work in bounded batches and memory over every Cluster
primary, every call fails fast with :class:`~connectstore.StoreUnavailableError` when Redis
is down (a circuit breaker keeps failing calls instant), and one store works on any event
loop. The conditional writes (``get_versioned``, ``set_if``, ``create``) are one Lua call
each: :mod:`connectstore_redis.conditional`.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any, ClassVar

from redis.asyncio import Redis, RedisCluster

from connectstore import (
    DEFAULT_TTL,
    CircuitBreaker,
    Credentials,
    JSONSerializer,
    Serializer,
    SessionData,
    StoreError,
    Versioned,
    check_sid,
    decode_listed,
    decode_session,
    now_ms,
)
from connectstore_redis.clients import describe_client, secrets_of_client
from connectstore_redis.conditional import ConditionalWrites
from connectstore_redis.dedupe import DEFAULT_WINDOW, RecentKeys
from connectstore_redis.expiry import CookieChecked, live_session
from connectstore_redis.failures import Bounded
from connectstore_redis.keys import KeySpace
from connectstore_redis.loops import Binding, LoopClients
from connectstore_redis.topology import Client, Topology, topology_for

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_FAILURE_THRESHOLD",
    "DEFAULT_MAX_CONCURRENCY",
    "DEFAULT_RETRY_INTERVAL",
    "DEFAULT_TIMEOUT",
    "RedisStore",
    "TTLFunction",
]

TTLFunction = Callable[[SessionData], int | float]
"""``ttl(session) -> seconds``: decides every key's lifetime, ignoring ``cookie.expires``."""

DEFAULT_TIMEOUT = 2.0
"""Seconds one Redis round trip may take before the call fails with StoreUnavailableError."""

DEFAULT_MAX_CONCURRENCY = 64
"""Redis calls one store keeps in flight at most (per event loop); further calls wait their turn."""

DEFAULT_FAILURE_THRESHOLD = 2
"""Consecutive calls that found Redis unavailable before calls start failing at once."""

DEFAULT_RETRY_INTERVAL = 0.25
"""Seconds between the probes that check whether Redis is back, while calls fail at once."""

DEFAULT_BATCH_SIZE = 100
"""Keys per SCAN (its COUNT) and at most per command of a listing or ``clear``."""


class RedisStore(ConditionalWrites):
    """A session store on Redis (``redis.asyncio.Redis``) or Redis Cluster (``RedisCluster``).

    ``client``
        a ``redis.asyncio.Redis`` or ``RedisCluster``, used as given: it serves the first
        event loop the store runs on, and :meth:`close` never closes it (its owner does).
        :meth:`from_url` builds clients the store owns instead: one per event loop it runs
        on, closed by :meth:`close` and opened again by the next call.
    ``prefix``
        prepended to every sid to make its key; matched literally by listings and ``clear``.
    ``ttl``
        seconds (a positive int) for sessions whose ``cookie.expires`` is null, or a
        function ``ttl(session) -> seconds`` that decides every key's lifetime.
    ``disable_ttl``
        write keys without expiry (sessions still expire with their cookie).
    ``disable_touch``
        make :meth:`touch` a no-op.
    ``trust_key_ttl``
        treat a key whose TTL another writer extended with ``EXPIRE`` (connect-redis's
        ``touch``) as alive until that TTL ends, although its stored ``cookie.expires``
        has passed (off: the cookie decides, the rule of every connectstore store).
    ``batch_size``
        SCAN's COUNT and the most keys any one command of a listing or ``clear`` carries
        (default :data:`DEFAULT_BATCH_SIZE`, 100).
    ``scan_count``
        ``batch_size``'s alias (connect-redis's ``scanCount``); give one of the two.
    ``serializer``
        a :class:`~connectstore.Serializer`; keep the default to share sessions with Node.
    ``timeout``
        seconds one Redis round trip may take before the call fails with
        :class:`~connectstore.StoreUnavailableError`.
    ``max_concurrency``
        Redis calls in flight per event loop; more wait their turn.
    ``allow_empty_prefix_clear``
        let :meth:`clear` run with ``prefix=""``.
    ``failure_threshold``
        consecutive calls that found Redis unavailable before calls fail at once (circuit
        breaker open).
    ``retry_interval``
        seconds between the probes (one call at a time) that check whether Redis is back
        while the breaker is open.
    ``auto_pipeline``
        send the commands of ``get``/``set``/``destroy``/``touch`` (and the conditional
        writes) that concurrent callers issue in one event-loop turn in one write, on one
        connection borrowed from the client's pool (:mod:`connectstore_redis.pipeline`); on
        a Cluster, one per primary, by key slot, redirections through redis-py's routing
        (:mod:`connectstore_redis.cluster_pipeline`). Timeouts, errors and the breaker apply
        per call. On by default.
    """

    capabilities: ClassVar[frozenset[str]] = frozenset(
        {"touch", "all", "clear", "length", "ids", "items", "get_versioned", "set_if", "create"}
    )

    def __init__(
        self,
        client: Client,
        *,
        prefix: str = "sess:",
        ttl: int | TTLFunction = DEFAULT_TTL,
        disable_ttl: bool = False,
        disable_touch: bool = False,
        trust_key_ttl: bool = False,
        batch_size: int | None = None,
        scan_count: int | None = None,
        serializer: Serializer | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
        allow_empty_prefix_clear: bool = False,
        failure_threshold: int = DEFAULT_FAILURE_THRESHOLD,
        retry_interval: float = DEFAULT_RETRY_INTERVAL,
        auto_pipeline: bool = True,
    ) -> None:
        if not isinstance(client, (Redis, RedisCluster)):
            raise TypeError(
                "client must be a redis.asyncio.Redis or redis.asyncio.RedisCluster, "
                f"not {type(client).__name__}"
            )
        if not isinstance(prefix, str):
            raise TypeError(f"prefix must be a str, not {type(prefix).__name__}")
        if callable(ttl):
            self._ttl_function: TTLFunction | None = ttl
            self._default_ttl = DEFAULT_TTL
        elif isinstance(ttl, int) and not isinstance(ttl, bool) and ttl > 0:
            self._ttl_function = None
            self._default_ttl = ttl
        else:
            raise ValueError(
                f"ttl must be a positive whole number of seconds (int) or a function, not {ttl!r}"
            )
        for name, flag in (
            ("disable_ttl", disable_ttl),
            ("disable_touch", disable_touch),
            ("trust_key_ttl", trust_key_ttl),
            ("allow_empty_prefix_clear", allow_empty_prefix_clear),
            ("auto_pipeline", auto_pipeline),
        ):
            if not isinstance(flag, bool):
                raise TypeError(f"{name} must be True or False, not {flag!r}")
        if scan_count is not None:
            if batch_size is not None:
                raise ValueError("give batch_size or its alias scan_count, not both")
            batch_size = scan_count
        if batch_size is None:
            batch_size = DEFAULT_BATCH_SIZE
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, not {batch_size!r}")
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not math.isfinite(timeout):
            raise ValueError(f"timeout must be a positive number of seconds, not {timeout!r}")
        if not isinstance(max_concurrency, int) or isinstance(max_concurrency, bool):
            raise ValueError(f"max_concurrency must be a positive integer, not {max_concurrency!r}")
        if serializer is not None and not isinstance(serializer, Serializer):
            raise TypeError("serializer must have dumps(session) -> str and loads(data) -> dict")
        self.prefix = prefix
        self.disable_ttl = disable_ttl
        self.disable_touch = disable_touch
        self.trust_key_ttl = trust_key_ttl
        self.batch_size = batch_size
        self.serializer: Serializer = serializer or JSONSerializer()
        self.allow_empty_prefix_clear = allow_empty_prefix_clear
        self.auto_pipeline = auto_pipeline
        Bounded(timeout, max_concurrency)  # checks both now, not on first use
        self._timeout = float(timeout)
        self._max_concurrency = max_concurrency
        where = describe_client(client)
        self._where = f"<{where}>"
        self._secrets = secrets_of_client(client)
        self.breaker = CircuitBreaker(
            where, failure_threshold=failure_threshold, retry_interval=retry_interval
        )
        """Fails calls at once while Redis is seen down (see :class:`~connectstore.CircuitBreaker`)."""
        self._keys = KeySpace(prefix)
        self._loops = LoopClients(client, factory=None, topology=self._topology_for, what=repr(self))

    def _own_clients(self, display: str, secrets: Credentials, factory: Callable[[], Client]) -> None:
        """Make the client of a store built from a URL its own: rebuilt per loop and after
        :meth:`close`, closed by it. ``display`` names the URL without its password.
        """
        self._where = repr(display)
        self._secrets = self._secrets + secrets
        self.breaker.what = f"Redis at {display}"
        first = self._loops.client
        self._loops = LoopClients(first, factory=factory, topology=self._topology_for, what=repr(self))

    def __repr__(self) -> str:
        return f"RedisStore({self._where}, prefix={self.prefix!r})"

    def _topology_for(self, client: Client) -> Topology:
        prepare = client.initialize if isinstance(client, RedisCluster) else None
        secrets = self._secrets + secrets_of_client(client)
        bounded = Bounded(
            self._timeout, self._max_concurrency, prepare, breaker=self.breaker, secrets=secrets
        )
        return topology_for(client, bounded, auto_pipeline=self.auto_pipeline)

    @property
    def client(self) -> Client:
        """The redis-py client of the running event loop (or the one used last)."""
        return self._loops.client

    @property
    def ttl(self) -> int | TTLFunction:
        """The ``ttl`` option: default lifetime in seconds, or the function deciding lifetimes."""
        return self._ttl_function or self._default_ttl

    @property
    def timeout(self) -> float:
        """Seconds one Redis round trip may take."""
        return self._timeout

    @classmethod
    def from_url(
        cls, url: str, *, client_options: Mapping[str, Any] | None = None, **options: Any
    ) -> RedisStore:
        """A store on clients it builds (and closes) from ``url``; no I/O happens here.

        ``redis://[user:password@]host[:port][/db]`` (``rediss://`` for TLS) names a server,
        ``redis+cluster://host:port`` (``rediss+cluster://``) a Cluster through any of its
        nodes. Store options may be given as query arguments (``?prefix=app:&ttl=3600``)
        or keywords (keywords win); redis-py's own query arguments and ``client_options`` go
        to redis-py. Every part of the URL and every option is checked here: a bad one
        raises :class:`~connectstore.StoreURLError`, never showing a password. The store
        builds a new client for each event loop it runs on, and again after :meth:`close`.
        ``scan_count`` is accepted for ``batch_size``, as a keyword or in the URL.
        """
        from connectstore_redis.url import store_from_url  # url.py builds on this module

        return store_from_url(cls, url, client_options=client_options, options=options)

    async def get(self, sid: str) -> SessionData | None:
        """The live session under ``sid``, or None; its ``cookie.expires`` is when it will vanish.

        One round trip reads the value and the key's remaining life together (a Lua
        call). Corrupt data (not a session, or a ``cookie.expires`` that cannot be read)
        raises :class:`~connectstore.SessionDecodeError` naming ``sid``.
        """
        key = self._keys.key(check_sid(sid))
        loop = await self._loops.current()
        value, pttl = await loop.topology.fetch_one(key)
        if value is None:
            return None
        return self._live(sid, value, pttl, now_ms())

    async def set(self, sid: str, session: SessionData) -> None:
        """``SET prefix+sid <json> EX <ttl>``; a TTL of zero or less deletes the key instead."""
        check_sid(sid)
        data = self._encode(session)
        ttl = self._ttl_for(session)
        key = self._keys.key(sid)
        loop = await self._loops.current()
        execute = loop.topology.execute
        if ttl <= 0:
            await loop.bounded(lambda: execute("DEL", key))
        elif self.disable_ttl:
            await loop.bounded(lambda: execute("SET", key, data))
        else:
            await loop.bounded(lambda: execute("SET", key, data, "EX", ttl))

    async def destroy(self, sid: str) -> None:
        """``DEL prefix+sid``; a missing key (or a corrupt record) is fine."""
        key = self._keys.key(check_sid(sid))
        loop = await self._loops.current()
        execute = loop.topology.execute
        await loop.bounded(lambda: execute("DEL", key))

    async def touch(self, sid: str, session: SessionData) -> None:
        """Give a live session the cookie (and so the lifetime) of ``session``; nothing else.

        The stored value keeps its application data; only its ``cookie`` is replaced, and
        the key gets the TTL of the new cookie (none with ``disable_ttl``). The write is a
        compare-and-set (a Lua call): if a concurrent ``set`` or ``destroy`` changed the key
        since it was read, that write wins and ``touch`` does nothing. A missing or expired
        session stays missing. No-op with ``disable_touch``. Two round trips (connect-redis's
        ``EXPIRE`` is one, but leaves the stored cookie stale).
        """
        check_sid(sid)
        if self.disable_touch:
            return
        ttl = self._ttl_for(session)
        key = self._keys.key(sid)
        loop = await self._loops.current()
        value, pttl = await loop.topology.fetch_one(key)
        if value is None or self._live(sid, value, pttl, now_ms()) is None:
            return
        stored = decode_session(self.serializer, sid, value)  # unchanged by _live's report
        if "cookie" in session:
            stored["cookie"] = session["cookie"]
        await loop.topology.replace(key, value, self._encode(stored), None if self.disable_ttl else ttl)

    async def get_versioned(self, sid: str) -> Versioned | None:
        """:meth:`get` and the version of the record read, in the same single round trip
        (see :mod:`~connectstore_redis.conditional`).
        """
        return await self._get_versioned(sid)

    async def set_if(self, sid: str, session: SessionData, version: str) -> str | None:
        """:meth:`set` only if the live record still has ``version``: one Lua call."""
        return await self._set_if(sid, session, version)

    async def create(self, sid: str, session: SessionData) -> str | None:
        """:meth:`set` only if no live session is stored under ``sid``: one Lua call."""
        return await self._create(sid, session)

    async def items(self) -> AsyncIterator[tuple[str, SessionData]]:
        """Stream ``(sid, session)`` for live sessions, ``batch_size`` keys per round trip.

        ``all``, ``ids`` and ``length`` come from here, so they agree. Values are read,
        not just keys: a key outlives its cookie by up to a second (``EX`` rounds up), or by
        any time with a ``ttl`` function or ``disable_ttl``. A record that cannot be decoded
        is skipped with a warning naming its sid (:func:`~connectstore.decode_listed`):
        one corrupt session never hides the others; ``get`` of it raises
        :class:`~connectstore.SessionDecodeError`.
        """
        checked = CookieChecked(self.serializer)
        loop = await self._loops.current()
        async for keys in self._key_batches(loop, dedupe=True):
            fetched = await loop.topology.fetch(keys)
            now = now_ms()
            for key, (value, pttl) in zip(keys, fetched, strict=True):
                sid = self._keys.sid(key)
                if value is None or sid is None:
                    continue
                session = decode_listed(checked, sid, value, store=self)
                if session is not None:
                    session = live_session(session, pttl, now, trust_key_ttl=self.trust_key_ttl)
                if session is not None:
                    yield sid, session

    async def clear(self) -> None:
        """Delete every key under the prefix (corrupt records too), ``batch_size`` keys per
        ``DEL``; nothing else.

        With an empty prefix that would be every string key of the database, so it raises
        :class:`~connectstore.StoreError` unless ``allow_empty_prefix_clear=True``.
        """
        if not self.prefix and not self.allow_empty_prefix_clear:
            raise StoreError(
                "refusing to clear() a RedisStore with an empty prefix: that would delete every string "
                "key in the database; pass allow_empty_prefix_clear=True if that is what you want"
            )
        loop = await self._loops.current()
        async for keys in self._key_batches(loop, dedupe=False):
            await loop.topology.delete(keys)

    async def close(self) -> None:
        """Close the clients this store built (:meth:`from_url`); safe to call twice.

        A client passed in is never closed, and the store goes on using it. A store built
        from a URL stays usable too: its next call builds a new client (Redis keeps the
        data), which a later ``close()`` closes again.
        """
        await self._loops.close()

    async def _key_batches(self, loop: Binding, *, dedupe: bool) -> AsyncIterator[list[bytes | str]]:
        """This store's keys in batches of at most ``batch_size``, SCAN's repeats dropped."""
        size = self.batch_size
        recent = RecentKeys(max(DEFAULT_WINDOW, 10 * size)) if dedupe else None
        async for reply in loop.topology.scan(self._keys.pattern, size):
            keys = reply if recent is None else [key for key in reply if recent.first_time(key)]
            for start in range(0, len(keys), size):
                yield keys[start : start + size]
