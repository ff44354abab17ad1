"""When a stored session expires: the arithmetic every store shares.

Times are integer milliseconds since the epoch, as in JavaScript: that is what a session's
``cookie.expires`` means to every Node store, and it keeps the arithmetic exact. A store
keeps a session until its deadline, :func:`expiry_ms`: the cookie's own expiry, or the
store's default lifetime for a cookie without one (a browser-session cookie).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from connectstore.cookie import MAX_DATETIME_MS, MIN_DATETIME_MS, Cookie, now_ms, parse_expires
from connectstore.errors import SerializationError

__all__ = [
    "DEFAULT_TTL",
    "MAX_EXPIRES_MS",
    "MIN_EXPIRES_MS",
    "expiry_ms",
    "is_expired",
    "now_ms",
    "session_expires",
    "ttl_seconds",
]

DEFAULT_TTL: Final = 86400
"""Lifetime in seconds of a session whose cookie has no ``expires`` (connect-redis's default)."""

MAX_EXPIRES_MS: Final = MAX_DATETIME_MS
"""The latest deadline a store writes: 9999-12-31T23:59:59.999Z, the last date every backend holds."""

MIN_EXPIRES_MS: Final = MIN_DATETIME_MS
"""The earliest deadline: 0001-01-01T00:00:00.000Z."""


def session_expires(session: Mapping[str, Any]) -> int | None:
    """A session's expiry in epoch milliseconds (from ``session["cookie"]["expires"]``), or None.

    ``cookie`` may be a mapping or a :class:`~connectstore.Cookie`; a session without one
    never expires. A ``cookie`` or ``expires`` of the wrong type raises
    :class:`~connectstore.SerializationError`.
    """
    cookie = session.get("cookie")
    if cookie is None:
        return None
    if type(cookie) is dict:  # the common case, before the ABC checks below
        return parse_expires(cookie.get("expires"))
    if isinstance(cookie, Cookie):
        return cookie.expires_ms
    if isinstance(cookie, Mapping):
        return parse_expires(cookie.get("expires"))
    raise SerializationError("cookie must be an object", path="$.cookie")


def expiry_ms(session: Mapping[str, Any], default_ttl: float = DEFAULT_TTL, *, now: int | None = None) -> int:
    """The moment a store stops keeping ``session``, in epoch milliseconds.

    The cookie's ``expires`` when it has one, else ``now + default_ttl`` seconds (rounded to
    the nearest millisecond), clamped to :data:`MIN_EXPIRES_MS`..:data:`MAX_EXPIRES_MS`.
    A deadline at or before ``now`` means "already expired: delete instead of writing".
    """
    expires = session_expires(session)
    if expires is None:
        expires = (now_ms() if now is None else now) + round(default_ttl * 1000)
    return min(max(expires, MIN_EXPIRES_MS), MAX_EXPIRES_MS)


def ttl_seconds(session: Mapping[str, Any], default_ttl: int = DEFAULT_TTL, *, now: int | None = None) -> int:
    """Seconds a store should keep ``session``: connect-redis's rule.

    ``ceil((expires - now) / 1000)`` when the cookie has an expiry (zero or negative means
    "already expired: delete instead of writing"), else ``default_ttl``.
    """
    expires = session_expires(session)
    if expires is None:
        return default_ttl
    remaining = expires - (now_ms() if now is None else now)
    return -(-remaining // 1000)


def is_expired(session: Mapping[str, Any], *, now: int | None = None) -> bool:
    """True when the session's cookie expiry is at or before ``now`` (express-session's rule)."""
    expires = session_expires(session)
    return expires is not None and expires <= (now_ms() if now is None else now)
