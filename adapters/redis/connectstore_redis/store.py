"""RedisStore: connect-redis's layout byte for byte, without connect-redis's mistakes.

A session lives under the key ``prefix + sid`` as the express-session JSON, written with
``SET key value EX ttl`` where ``ttl`` is the whole number of seconds left until
``cookie.expires`` (rounded up) or the default TTL. A Node app using express-session and
connect-redis 9 on the same Redis reads and writes the same sessions. Unlike connect-redis,
a session whose ``cookie.expires`` has passed is never returned or listed, listings and
``clear`` escape the prefix and work in bounded batches and memory over every Cluster
primary, every call fails fast with :class:`~connectstore.StoreUnavailableError` when Redis
is down (a circuit breaker keeps failing calls instant), and one store works on any event
loop.
"""

from __future__ import annotations

import logging
import math
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any, ClassVar

from redis.asyncio import Redis, RedisCluster

from connectstore import (
    DEFAULT_TTL,
    CircuitBreaker,
    Credentials,
    JSONSerializer,
    SerializationError,
    Serializer,
    SessionData,
    SessionDecodeError,
    Store,
    StoreError,
    StoreURLError,
    decode_session,
    now_ms,
)
from connectstore_redis.bounded import Bounded
from connectstore_redis.clients import (
    StoreURL,
    describe_client,
    make_client,
    parse_store_url,
    secrets_of_client,
)
from connectstore_redis.dedupe import DEFAULT_WINDOW, RecentKeys
from connectstore_redis.expiry import live_session, ttl_for
from connectstore_redis.keys import KeySpace
from connectstore_redis.loops import Binding, LoopClients
from connectstore_redis.topology import Client, Topology, topology_for

__all__ = [
    "DEFAULT_FAILURE_THRESHOLD",
    "DEFAULT_MAX_CONCURRENCY",
    "DEFAULT_RETRY_INTERVAL",
    "DEFAULT_TIMEOUT",
    "RedisStore",
    "TTLFunction",
]

logger = logging.getLogger("connectstore_redis")

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


class RedisStore(Store):
    """A session store on Redis (``redis.asyncio.Redis``) or Redis Cluster (``RedisCluster``).

    ``client`` is used as given and left open by :meth:`close` (its owner closes it); it
    serves the first event loop the store runs on. :meth:`from_url` builds clients that the
    store owns, one per event loop it runs on, and closes. Options (also in the adapter's
    README):

    ``prefix``
        prepended to every sid to make its key; matched literally by listings.
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
    ``scan_count``
        SCAN's COUNT and the most keys any one command carries.
    ``serializer``
        a :class:`~connectstore.Serializer`; keep the default to share sessions with Node.
    ``timeout``
        seconds one Redis round trip may take before the call fails.
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
    """

    capabilities: ClassVar[frozenset[str]] = frozenset({"touch", "all", "clear", "length", "ids", "items"})

    def __init__(
        self,
        client: Client,
        *,
        prefix: str = "sess:",
        ttl: int | TTLFunction = DEFAULT_TTL,
        disable_ttl: bool = False,
        disable_touch: bool = False,
        trust_key_ttl: bool = False,
        scan_count: int = 100,
        serializer: Serializer | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
        allow_empty_prefix_clear: bool = False,
        failure_threshold: int = DEFAULT_FAILURE_THRESHOLD,
        retry_interval: float = DEFAULT_RETRY_INTERVAL,
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
        ):
            if not isinstance(flag, bool):
                raise TypeError(f"{name} must be True or False, not {flag!r}")
        if not isinstance(scan_count, int) or isinstance(scan_count, bool) or scan_count < 1:
            raise ValueError(f"scan_count must be a positive integer, not {scan_count!r}")
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
        self.scan_count = scan_count
        self.serializer: Serializer = serializer or JSONSerializer()
        self.allow_empty_prefix_clear = allow_empty_prefix_clear
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

    def _own_clients(self, url: StoreURL, factory: Callable[[], Client]) -> None:
        """Make the client a store built from ``url`` its own: rebuilt per loop, closed by it."""
        self._where = repr(url.display)
        self._secrets = self._secrets + url.secrets
        self.breaker.what = f"Redis at {url.display}"
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
        return topology_for(client, bounded)

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
        builds a new client for each event loop it runs on.
        """
        parsed = parse_store_url(url)
        options = {**parsed.options, **options}
        timeout = options.get("timeout", DEFAULT_TIMEOUT)
        max_concurrency = options.get("max_concurrency", DEFAULT_MAX_CONCURRENCY)
        secrets = parsed.secrets + Credentials(
            (client_options or {}).get(k) for k in ("password", "ssl_password")
        )

        def factory() -> Client:
            return make_client(
                parsed, timeout=timeout, max_connections=max_concurrency, client_options=client_options
            )

        try:
            Bounded(timeout, max_concurrency)  # checked before a client is built with them
            store = cls(factory(), **options)
        except StoreURLError:
            raise
        except (TypeError, ValueError) as exc:
            raise StoreURLError(secrets.scrub(f"cannot open {parsed.display}: {exc}")) from None
        store._own_clients(parsed, factory)
        return store

    async def get(self, sid: str) -> SessionData | None:
        """The live session under ``sid``, or None; its ``cookie.expires`` is when it will vanish.

        One round trip reads the value and the key's remaining life together (a Lua
        call). Corrupt data raises :class:`~connectstore.SessionDecodeError` naming ``sid``.
        """
        loop = await self._loops.current()
        value, pttl = await loop.topology.fetch_one(self._keys.key(sid))
        if value is None:
            return None
        return self._live(sid, value, pttl, now_ms())

    async def set(self, sid: str, session: SessionData) -> None:
        """``SET prefix+sid <json> EX <ttl>``; a TTL of zero or less deletes the key instead."""
        data = self._encode(session)
        ttl = self._ttl_for(session)
        key = self._keys.key(sid)
        loop = await self._loops.current()
        client = loop.client
        if ttl <= 0:
            await loop.bounded(lambda: client.delete(key))
        elif self.disable_ttl:
            await loop.bounded(lambda: client.set(key, data))
        else:
            await loop.bounded(lambda: client.set(key, data, ex=ttl))

    async def destroy(self, sid: str) -> None:
        """``DEL prefix+sid``; a missing key is fine."""
        key = self._keys.key(sid)
        loop = await self._loops.current()
        client = loop.client
        await loop.bounded(lambda: client.delete(key))

    async def touch(self, sid: str, session: SessionData) -> None:
        """Give a live session the cookie (and so the lifetime) of ``session``; nothing else.

        The stored value keeps its application data; only its ``cookie`` is replaced, and
        the key gets the TTL of the new cookie (none with ``disable_ttl``). The write is a
        compare-and-set (a Lua call): if a concurrent ``set`` or ``destroy`` changed the key
        since it was read, that write wins and ``touch`` does nothing. A missing or expired
        session stays missing. No-op with ``disable_touch``. Two round trips (connect-redis's
        ``EXPIRE`` is one, but leaves the stored cookie stale).
        """
        if self.disable_touch:
            return
        ttl = self._ttl_for(session)
        key = self._keys.key(sid)
        loop = await self._loops.current()
        value, pttl = await loop.topology.fetch_one(key)
        if value is None or self._live(sid, value, pttl, now_ms()) is None:
            return
        stored = decode_session(self.serializer, sid, value)
        if "cookie" in session:
            stored["cookie"] = session["cookie"]
        await loop.topology.replace(key, value, self._encode(stored), None if self.disable_ttl else ttl)

    async def all(self) -> dict[str, SessionData]:
        """Every live session keyed by sid (built from :meth:`items`)."""
        return {sid: session async for sid, session in self.items()}

    async def items(self) -> AsyncIterator[tuple[str, SessionData]]:
        """Stream ``(sid, session)`` for live sessions, ``scan_count`` keys per round trip.

        A record that cannot be decoded is skipped and logged (logger
        ``connectstore_redis``, WARNING, naming the sid): one corrupt session never hides
        the others. ``get`` of that sid raises :class:`~connectstore.SessionDecodeError`.
        """
        async for sid, session in self._scan_live():
            if isinstance(session, SessionDecodeError):
                logger.warning("skipping a corrupt session in %s: %s", self.prefix or "(no prefix)", session)
            else:
                yield sid, session

    async def ids(self) -> AsyncIterator[str]:
        """Stream the ids of live sessions (and of corrupt records, which ``get`` reports)."""
        async for sid, _ in self._scan_live():
            yield sid

    async def length(self) -> int:
        """The number of sessions, counted as :meth:`ids` lists them."""
        return sum([1 async for _ in self._scan_live()])

    async def _scan_live(self) -> AsyncIterator[tuple[str, SessionData | SessionDecodeError]]:
        """Every live session under the prefix (values read in batches), or its decode error.

        Listings read values, not just keys: a key outlives its cookie by up to a second
        (``EX`` rounds up), or by any time with a ``ttl`` function or ``disable_ttl``.
        """
        loop = await self._loops.current()
        async for keys in self._key_batches(loop, dedupe=True):
            fetched = await loop.topology.fetch(keys)
            now = now_ms()
            for key, (value, pttl) in zip(keys, fetched, strict=True):
                sid = self._keys.sid(key)
                if value is None or sid is None:
                    continue
                try:
                    session = self._live(sid, value, pttl, now)
                except SessionDecodeError as exc:
                    yield sid, exc
                    continue
                if session is not None:
                    yield sid, session

    async def clear(self) -> None:
        """Delete every key under the prefix, ``scan_count`` keys per ``DEL``; nothing else.

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

        A client passed in is left open. The store may be used again afterwards: it then
        opens new connections.
        """
        await self._loops.close()

    async def _key_batches(self, loop: Binding, *, dedupe: bool) -> AsyncIterator[list[bytes | str]]:
        """This store's keys in batches of at most ``scan_count``, SCAN's repeats dropped."""
        recent = RecentKeys(max(DEFAULT_WINDOW, 10 * self.scan_count)) if dedupe else None
        async for reply in loop.topology.scan(self._keys.pattern, self.scan_count):
            keys = reply if recent is None else [key for key in reply if recent.first_time(key)]
            for start in range(0, len(keys), self.scan_count):
                yield keys[start : start + self.scan_count]

    def _live(self, sid: str, value: bytes | str, pttl: int, now: int) -> SessionData | None:
        session = decode_session(self.serializer, sid, value)
        try:
            return live_session(session, pttl, now, trust_key_ttl=self.trust_key_ttl)
        except SerializationError as exc:
            raise SessionDecodeError(f"stored cookie is invalid: {exc}", sid=sid) from exc

    def _encode(self, session: SessionData) -> bytes:
        text = self.serializer.dumps(session)
        if isinstance(text, bytes):
            return text
        try:
            return text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise SerializationError(f"the serialized session is not valid UTF-8: {exc}") from exc

    def _ttl_for(self, session: SessionData) -> int:
        if self._ttl_function is None:
            return ttl_for(session, self._default_ttl)
        seconds = self._ttl_function(session)
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not math.isfinite(seconds):
            raise ValueError(f"the ttl function returned {seconds!r}, not a number of seconds")
        return math.ceil(seconds)
