"""RedisStore: connect-redis's layout byte for byte, without connect-redis's mistakes.

A session lives under the key ``prefix + sid`` as the express-session JSON, written with
``SET key value EX ttl`` where ``ttl`` is the whole number of seconds left until
``cookie.expires`` (rounded up) or the default TTL; ``touch`` is ``EXPIRE``. A Node app
using express-session and connect-redis 9 on the same Redis reads and writes the same
sessions. Unlike connect-redis, listings and ``clear`` escape the prefix, work in bounded
batches and memory, cover every Cluster primary, and every call fails fast with
:class:`~connectstore.StoreUnavailableError` when Redis is down.
"""

from __future__ import annotations

import logging
import math
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any, ClassVar

from redis.asyncio import RedisCluster

from connectstore import (
    DEFAULT_TTL,
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
from connectstore_redis.clients import make_client, redacted, split_store_url
from connectstore_redis.dedupe import DEFAULT_WINDOW, RecentKeys
from connectstore_redis.expiry import live_session, ttl_for
from connectstore_redis.keys import KeySpace
from connectstore_redis.topology import Client, topology_for

__all__ = ["DEFAULT_MAX_CONCURRENCY", "DEFAULT_TIMEOUT", "RedisStore", "TTLFunction"]

logger = logging.getLogger("connectstore_redis")

TTLFunction = Callable[[SessionData], int | float]
"""``ttl(session) -> seconds``: decides every key's lifetime, ignoring ``cookie.expires``."""

DEFAULT_TIMEOUT = 2.0
"""Seconds one Redis round trip may take before the call fails with StoreUnavailableError."""

DEFAULT_MAX_CONCURRENCY = 64
"""Redis calls one store keeps in flight at most; further calls wait their turn."""


class RedisStore(Store):
    """A session store on Redis (``redis.asyncio.Redis``) or Redis Cluster (``RedisCluster``).

    ``client`` is used as given and left open by :meth:`close` (its owner closes it);
    :meth:`from_url` builds a client that the store owns and closes. Every option is
    described in the adapter's README; in short: ``prefix`` of every key; ``ttl`` in
    seconds for sessions without ``cookie.expires`` (or a function ``ttl(session)``
    deciding every lifetime); ``disable_ttl`` keeps keys forever; ``disable_touch`` makes
    ``touch`` a no-op; ``scan_count`` is SCAN's COUNT and the batch size of every bulk
    operation; ``timeout`` bounds each round trip; ``max_concurrency`` caps calls in
    flight; ``allow_empty_prefix_clear`` lets ``clear()`` run with ``prefix=""``.
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
        scan_count: int = 100,
        serializer: Serializer | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
        allow_empty_prefix_clear: bool = False,
    ) -> None:
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
        if not isinstance(scan_count, int) or isinstance(scan_count, bool) or scan_count < 1:
            raise ValueError(f"scan_count must be a positive integer, not {scan_count!r}")
        if serializer is not None and not isinstance(serializer, Serializer):
            raise TypeError("serializer must have dumps(session) -> str and loads(data) -> dict")
        self.client = client
        self.prefix = prefix
        self.disable_ttl = disable_ttl
        self.disable_touch = disable_touch
        self.scan_count = scan_count
        self.serializer: Serializer = serializer or JSONSerializer()
        self.allow_empty_prefix_clear = allow_empty_prefix_clear
        prepare = client.initialize if isinstance(client, RedisCluster) else None
        self._bounded = Bounded(timeout, max_concurrency, prepare)
        self._keys = KeySpace(prefix)
        self._topology = topology_for(client, self._bounded)
        self._owns_client = False
        self._closed = False

    @property
    def ttl(self) -> int | TTLFunction:
        """The ``ttl`` option: default lifetime in seconds, or the function deciding lifetimes."""
        return self._ttl_function or self._default_ttl

    @property
    def timeout(self) -> float:
        """Seconds one Redis round trip may take."""
        return self._bounded.timeout

    @classmethod
    def from_url(
        cls, url: str, *, client_options: Mapping[str, Any] | None = None, **options: Any
    ) -> RedisStore:
        """A store on a client it builds (and closes) from ``url``; no I/O happens here.

        ``redis://[user:password@]host[:port][/db]`` (``rediss://`` for TLS) names a server,
        ``redis+cluster://host:port`` (``rediss+cluster://``) a Cluster through any of its
        nodes. Store options may be given as query arguments (``?prefix=app:&ttl=3600``)
        or keywords (keywords win); other query arguments and ``client_options`` go to
        redis-py.
        """
        client_url, url_options = split_store_url(url)
        options = {**url_options, **options}
        client = make_client(
            client_url,
            timeout=options.get("timeout", DEFAULT_TIMEOUT),
            max_connections=options.get("max_concurrency", DEFAULT_MAX_CONCURRENCY),
            client_options=client_options,
        )
        try:
            store = cls(client, **options)
        except (TypeError, ValueError) as exc:
            raise StoreURLError(f"cannot open {redacted(url)}: {exc}") from exc
        store._owns_client = True
        return store

    async def get(self, sid: str) -> SessionData | None:
        """The live session under ``sid``, or None; its ``cookie.expires`` is when it will vanish.

        One round trip reads the value and the key's remaining life together (a Lua
        call). Corrupt data raises :class:`~connectstore.SessionDecodeError` naming ``sid``.
        """
        value, pttl = await self._topology.fetch_one(self._keys.key(sid))
        if value is None:
            return None
        return self._live(sid, value, pttl, now_ms())

    async def set(self, sid: str, session: SessionData) -> None:
        """``SET prefix+sid <json> EX <ttl>``; a TTL of zero or less deletes the key instead."""
        data = self._encode(session)
        ttl = self._ttl_for(session)
        key = self._keys.key(sid)
        if ttl <= 0:
            await self._bounded(lambda: self.client.delete(key))
        elif self.disable_ttl:
            await self._bounded(lambda: self.client.set(key, data))
        else:
            await self._bounded(lambda: self.client.set(key, data, ex=ttl))

    async def destroy(self, sid: str) -> None:
        """``DEL prefix+sid``; a missing key is fine."""
        key = self._keys.key(sid)
        await self._bounded(lambda: self.client.delete(key))

    async def touch(self, sid: str, session: SessionData) -> None:
        """``EXPIRE prefix+sid <ttl>``, exactly as connect-redis: only the key's life changes.

        The stored value, ``cookie.expires`` included, is left as the last ``set`` wrote it,
        so a concurrent ``set`` is never overwritten; :meth:`get` reports the new expiry
        from the key's TTL. A missing key stays missing. No-op with ``disable_touch`` or
        ``disable_ttl``.
        """
        if self.disable_touch or self.disable_ttl:
            return
        ttl = self._ttl_for(session)
        key = self._keys.key(sid)
        await self._bounded(lambda: self.client.expire(key, ttl))

    async def all(self) -> dict[str, SessionData]:
        """Every live session keyed by sid (built from :meth:`items`)."""
        return {sid: session async for sid, session in self.items()}

    async def items(self) -> AsyncIterator[tuple[str, SessionData]]:
        """Stream ``(sid, session)`` for live sessions, ``scan_count`` keys per round trip.

        A record that cannot be decoded is skipped and logged (logger
        ``connectstore_redis``, WARNING, naming the sid): one corrupt session never hides
        the others. ``get`` of that sid raises :class:`~connectstore.SessionDecodeError`.
        """
        async for keys in self._key_batches(dedupe=True):
            fetched = await self._topology.fetch(keys)
            now = now_ms()
            for key, (value, pttl) in zip(keys, fetched, strict=True):
                sid = self._keys.sid(key)
                if value is None or sid is None:
                    continue
                try:
                    session = self._live(sid, value, pttl, now)
                except SessionDecodeError as exc:
                    logger.warning("skipping a corrupt session in %s: %s", self.prefix or "(no prefix)", exc)
                    continue
                if session is not None:
                    yield sid, session

    async def ids(self) -> AsyncIterator[str]:
        """Stream the ids of live sessions (keys only; with ``disable_ttl``, from :meth:`items`)."""
        if self.disable_ttl:  # keys never expire: only the values can tell a live session
            async for sid, _ in self.items():
                yield sid
            return
        async for keys in self._key_batches(dedupe=True):
            for key in keys:
                listed = self._keys.sid(key)
                if listed is not None:
                    yield listed

    async def length(self) -> int:
        """The number of sessions (counted as :meth:`ids` lists them)."""
        if self.disable_ttl:
            return sum([1 async for _ in self.items()])
        count = 0
        async for keys in self._key_batches(dedupe=True):
            count += sum(1 for key in keys if self._keys.sid(key) is not None)
        return count

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
        async for keys in self._key_batches(dedupe=False):
            await self._topology.delete(keys)

    async def close(self) -> None:
        """Close the client if this store built it (:meth:`from_url`); safe to call twice."""
        if self._owns_client and not self._closed:
            self._closed = True
            await self.client.aclose()

    async def _key_batches(self, *, dedupe: bool) -> AsyncIterator[list[bytes | str]]:
        """This store's keys in batches of at most ``scan_count``, SCAN's repeats dropped."""
        recent = RecentKeys(max(DEFAULT_WINDOW, 10 * self.scan_count)) if dedupe else None
        async for reply in self._topology.scan(self._keys.pattern, self.scan_count):
            keys = reply if recent is None else [key for key in reply if recent.first_time(key)]
            for start in range(0, len(keys), self.scan_count):
                yield keys[start : start + self.scan_count]

    def _live(self, sid: str, value: bytes | str, pttl: int, now: int) -> SessionData | None:
        session = decode_session(self.serializer, sid, value)
        try:
            return live_session(session, pttl, now)
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
