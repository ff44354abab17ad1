"""How long a stored session lives: its cookie, its key's TTL, and which of the two to believe.

The key's TTL decides when Redis drops a session; the stored ``cookie.expires`` is what
the last write put in the value. The rule of every connectstore store: **a session whose
own ``cookie.expires`` has passed is expired**, whatever the key's TTL says. The TTL can
disagree with the cookie in several ways, and none of them revives a session:

* ``SET ... EX ceil(seconds)`` rounds up, so an untouched key outlives its cookie by less
  than a second.
* A key written with a ``ttl`` function (here or in connect-redis), or without a TTL
  (``disable_ttl`` / connect-redis's ``disableTTL``), says nothing about the cookie.
* A key shortened by another writer (``EXPIRE``) dies before its cookie: the session is
  then reported with ``cookie.expires`` set to the moment Redis will drop it.

This store's ``touch`` writes the new cookie into the value, so the stored cookie stays
true. connect-redis's ``touch`` is ``EXPIRE`` only and leaves the stored cookie stale;
``trust_key_ttl=True`` (off by default) reads a key extended that way as alive until its
TTL ends, as connect-redis itself does, for stores shared with a Node app that touches
(``rolling: true, resave: false``).

So a session that ``get`` returns always carries an expiry that has not passed and at
which it will really be gone (to within the one-second rounding of ``EX``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectstore import SerializationError, Serializer, SessionData, SessionDecodeError
from connectstore.cookie import format_expires
from connectstore.expiry import session_expires

__all__ = [
    "ANY_LIVE_KEY",
    "LATENCY_MS",
    "ROUNDING_MS",
    "UNREAD",
    "CookieChecked",
    "live_session",
    "pttl_floor",
]

ROUNDING_MS = 1000
"""``EX`` takes whole seconds, rounded up: a key outlives its cookie by less than this."""

LATENCY_MS = 250
"""Allowance for the time between computing a TTL and Redis applying or reporting it."""


class _Unread:
    """The type of :data:`UNREAD`."""


UNREAD = _Unread()
"""``live_session(expires=...)``'s default: the cookie's expiry is read from the session."""


class CookieChecked:
    """``serializer`` whose ``loads`` also refuses a session whose ``cookie.expires`` cannot be read.

    A stored session is only usable when its expiry can be judged, so a record with a
    malformed cookie is as corrupt as one that is not JSON: ``get`` raises
    :class:`~connectstore.SessionDecodeError` for it and the listings skip it
    (:func:`~connectstore.decode_listed`).
    """

    __slots__ = ("expires", "serializer")

    def __init__(self, serializer: Serializer) -> None:
        self.serializer = serializer
        self.expires: int | None = None
        """The cookie expiry of the session :meth:`loads` returned last (read once, kept)."""

    def dumps(self, session: Mapping[str, Any]) -> str:
        """The wrapped serializer's ``dumps``."""
        return self.serializer.dumps(session)

    def loads(self, data: str | bytes) -> SessionData:
        """The wrapped serializer's ``loads``, then its cookie's expiry read once."""
        session = self.serializer.loads(data)
        try:
            self.expires = session_expires(session)
        except SerializationError as exc:
            raise SessionDecodeError(f"stored cookie is invalid: {exc}") from exc
        return session


def live_session(
    session: SessionData,
    pttl: int,
    now: int,
    *,
    trust_key_ttl: bool = False,
    expires: int | _Unread | None = UNREAD,
) -> SessionData | None:
    """``session`` as the store reports it, or None when it has expired.

    ``pttl`` is the key's remaining life in milliseconds as Redis reported it (-1: the key
    has no TTL) and ``now`` the time just after the reply, in epoch milliseconds. A
    session whose ``cookie.expires`` is at or before ``now`` is expired, unless
    ``trust_key_ttl`` and the key was extended past it (see the module docstring).
    ``session`` comes from :class:`CookieChecked`: its ``cookie.expires`` is readable
    (``expires``: that cookie's expiry, when the caller has read it already).
    """
    if isinstance(expires, _Unread):
        expires = session_expires(session)
    if pttl < 0:  # no TTL (disable_ttl, or another writer): only the cookie can expire it
        return None if expires is not None and expires <= now else session
    if expires is None:  # a browser-session cookie: alive while its key lives
        return session
    deadline = now + pttl
    if deadline <= now:
        return None
    if expires - LATENCY_MS <= deadline <= expires + ROUNDING_MS + LATENCY_MS:  # the TTL set() wrote
        return session if expires > now else None
    if deadline > expires and not trust_key_ttl:  # a longer TTL never revives an expired cookie
        return session if expires > now else None
    session["cookie"]["expires"] = format_expires(deadline)  # the key dies first (or is trusted)
    return session


ANY_LIVE_KEY = -2
""":func:`pttl_floor` of a record that lives as long as its key: every key that exists has a
PTTL above it (``-1``: no TTL)."""


def pttl_floor(expires: int | None, now: int, *, trust_key_ttl: bool = False) -> int | None:
    """The PTTL (ms) a key must have, above this, for the record stored in it to be live at
    ``now``, by :func:`live_session`'s rule; None when no TTL keeps it alive.

    ``expires`` is the stored cookie's expiry. A cookie that has not expired (or has no
    expiry) lives as long as its key (:data:`ANY_LIVE_KEY`). An expired one is dead, unless
    ``trust_key_ttl`` and its key was extended past the cookie by more than ``EX``'s rounding.
    Lets a compare-and-set script check, atomically with the write, that the record it
    compares is still live, without reading the cookie itself.
    """
    if expires is None or expires > now:
        return ANY_LIVE_KEY
    if not trust_key_ttl:
        return None
    return max(0, expires + ROUNDING_MS + LATENCY_MS - now)  # never -1: a key without TTL
