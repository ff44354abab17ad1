"""The conditional writes of :class:`~connectstore_redis.RedisStore`: ``get_versioned``,
``set_if`` and ``create``, each one round trip (a Lua call) on a server or a Cluster.

A record's **version** is the SHA-1 (hex) of its stored bytes, followed by ``:<ms>``, the
stored cookie's expiry in epoch milliseconds, when it has one: ``"<sha1>"`` or
``"<sha1>:<ms>"``. Both parts are functions of the bytes, so any write that changes them
changes the version, whoever wrote it (a write of the same bytes keeps it).

* ``get_versioned`` is ``get`` (the same Lua call) plus a SHA-1 of the bytes it read.
* ``set_if`` sends the SHA-1 (40 bytes, not the whole old value) to a script that compares
  it with ``redis.sha1hex`` of the value in Redis and writes in the same step
  (:data:`~connectstore_redis.queries.SET_IF_SCRIPT`). Whether the record it names is still
  live comes from the expiry in the version (:func:`~connectstore_redis.expiry.pttl_floor`):
  a cookie already expired is a conflict without a round trip, and with ``trust_key_ttl``
  the script checks the key's PTTL.
* ``create`` runs :data:`~connectstore_redis.queries.CREATE_SCRIPT`: it writes over a missing
  key or an expired record and judges the stored cookie itself in the usual case. When only
  Python can judge the record (an unusual cookie, ``trust_key_ttl``), the script returns it;
  an expired one is then replaced with a compare-and-set (a second round trip, never taken
  for a new sid).

The bytes written are exactly those of ``set``: nothing of the version is stored.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable

from connectstore import (
    NO_VERSION,
    ListingFromItems,
    SerializationError,
    Serializer,
    SessionData,
    SessionDecodeError,
    Versioned,
    check_sid,
    decode_session,
    now_ms,
    session_expires,
    ttl_seconds,
)
from connectstore.cookie import format_expires
from connectstore_redis.expiry import CookieChecked, live_session, pttl_floor
from connectstore_redis.keys import KeySpace
from connectstore_redis.loops import LoopClients

__all__ = ["CREATE_ATTEMPTS", "ConditionalWrites", "parse_version", "version_of"]

CREATE_ATTEMPTS = 5
"""Rounds ``create`` makes over an expired record that others keep changing meanwhile."""

_DIGEST_LENGTH = 40  # hex digits of a SHA-1


def version_of(value: bytes | str, expires: int | None) -> str:
    """The version of the record ``value`` (as stored) whose cookie expires at ``expires``."""
    data = value.encode("utf-8", "surrogatepass") if isinstance(value, str) else value
    digest = hashlib.sha1(data).hexdigest()
    return digest if expires is None else f"{digest}:{expires}"


def parse_version(version: str) -> tuple[str, int | None] | None:
    """``(sha1, expires)`` of a version :func:`version_of` made; None for any other string
    (such as :data:`~connectstore.NO_VERSION`), which no record has.
    """
    digest, colon, tail = version.partition(":")
    if len(digest) != _DIGEST_LENGTH:
        return None
    if not colon:
        return digest, None
    try:
        expires = int(tail)
    except ValueError:
        return None
    return (digest, expires) if str(expires) == tail else None


class ConditionalWrites(ListingFromItems):
    """The conditional writes of a store with RedisStore's layout (as ``_get_versioned``,
    ``_set_if`` and ``_create``: the store's own methods call them), and how it encodes,
    times and judges a record, which they share with ``get``, ``set`` and ``touch``.
    """

    _keys: KeySpace
    _loops: LoopClients
    disable_ttl: bool
    trust_key_ttl: bool
    serializer: Serializer
    _ttl_function: Callable[[SessionData], int | float] | None
    _default_ttl: int

    async def _get_versioned(self, sid: str) -> Versioned | None:
        """``get(sid)`` and the version of the record read: the same single round trip."""
        key = self._keys.key(check_sid(sid))
        loop = await self._loops.current()
        value, pttl = await loop.topology.fetch_one(key)
        if value is None:
            return None
        session, expires = self._judged(sid, value, pttl, now_ms())
        return None if session is None else Versioned(session, version_of(value, expires))

    async def _set_if(self, sid: str, session: SessionData, version: str) -> str | None:
        """Store ``session`` only if the live record under ``sid`` still has ``version``.

        One Lua call compares and writes (``SET ... EX ttl``, ``SET`` with ``disable_ttl``,
        ``DEL`` for an expiry already past: then :data:`~connectstore.NO_VERSION`). Returns
        the new version, or None (nothing written) when the record changed, vanished or
        expired; a ``version`` whose cookie has expired is None without a round trip.
        """
        check_sid(sid)
        if not isinstance(version, str):
            raise TypeError(f"a version is a str, not {type(version).__name__}")
        data, ttl, expires, now = self._prepared(session)
        expected = parse_version(version)
        floor = None if expected is None else pttl_floor(expected[1], now, trust_key_ttl=self.trust_key_ttl)
        if expected is None or floor is None:
            return None
        key = self._keys.key(sid)
        loop = await self._loops.current()
        if not await loop.topology.set_if(key, expected[0], floor, data, ttl):
            return None
        return NO_VERSION if ttl is not None and ttl <= 0 else version_of(data, expires)

    async def _create(self, sid: str, session: SessionData) -> str | None:
        """Store ``session`` only if no live session is stored under ``sid``; its version, or
        None. An expired record counts as absent, a corrupt one as present. One Lua call.
        """
        check_sid(sid)
        data, ttl, expires, now = self._prepared(session)
        key = self._keys.key(sid)
        loop = await self._loops.current()
        written = NO_VERSION if ttl is not None and ttl <= 0 else version_of(data, expires)
        for _ in range(CREATE_ATTEMPTS):
            reply = await loop.topology.create(key, format_expires(now), self.trust_key_ttl, data, ttl)
            if isinstance(reply, bool):
                return written if reply else None
            value, pttl = reply  # a record only Python can judge
            if value is None:
                continue  # gone in between: try again
            try:
                live, _ = self._judged(sid, value, pttl, now_ms())
            except SessionDecodeError:
                return None  # a corrupt record is present
            if live is not None:
                return None
            if await loop.topology.replace(key, value, data, ttl):
                return written
            now = now_ms()
        return None

    def _prepared(self, session: SessionData) -> tuple[bytes, int | None, int | None, int]:
        """``session``'s bytes, key TTL (None: none; ``<= 0``: delete), cookie expiry, and now.

        Raises as ``set`` does, before any I/O. An expiry already past (the cookie's or the
        TTL's) is a TTL of 0: the write deletes.
        """
        data = self._encode(session)
        ttl: int | None = self._ttl_for(session)
        expires = session_expires(session)
        now = now_ms()
        if ttl is not None and ttl > 0 and expires is not None and expires <= now:
            ttl = 0  # dead on arrival, whatever a ttl function says: get would not see it
        if ttl is not None and ttl > 0 and self.disable_ttl:
            ttl = None
        return data, ttl, expires, now

    def _judged(
        self, sid: str, value: bytes | str, pttl: int, now: int
    ) -> tuple[SessionData | None, int | None]:
        """The stored ``value`` as ``get`` reports it (None when expired), and its cookie's
        expiry as stored. Raises SessionDecodeError for a corrupt record.
        """
        checked = CookieChecked(self.serializer)
        session = decode_session(checked, sid, value)
        expires = checked.expires
        return live_session(session, pttl, now, trust_key_ttl=self.trust_key_ttl, expires=expires), expires

    def _live(self, sid: str, value: bytes | str, pttl: int, now: int) -> SessionData | None:
        """The stored ``value`` of ``sid`` as ``get`` reports it, or None when expired."""
        return self._judged(sid, value, pttl, now)[0]

    def _encode(self, session: SessionData) -> bytes:
        """The bytes ``set`` writes for ``session`` (SerializationError before any I/O)."""
        text = self.serializer.dumps(session)
        if isinstance(text, bytes):
            return text
        try:
            return text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise SerializationError(f"the serialized session is not valid UTF-8: {exc}") from exc

    def _ttl_for(self, session: SessionData) -> int:
        """The key TTL in seconds ``set`` gives ``session`` (``<= 0``: delete instead)."""
        if self._ttl_function is None:
            return ttl_seconds(session, self._default_ttl)
        seconds = self._ttl_function(session)
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not math.isfinite(seconds):
            raise ValueError(f"the ttl function returned {seconds!r}, not a number of seconds")
        return math.ceil(seconds)
