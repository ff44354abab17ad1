"""How long a stored session lives: its cookie, its key's TTL, and which of the two to believe.

The key's TTL decides when Redis drops a session; the stored ``cookie.expires`` is what
the last ``set`` wrote. They disagree in two ways:

* ``SET ... EX ceil(seconds)`` rounds up, so an untouched key outlives its cookie by less
  than a second. The cookie is then the truth: the session is reported gone at
  ``cookie.expires`` (express-session's rule), even while Redis still holds the key.
* ``touch`` (``EXPIRE``, from this store or from connect-redis) moves only the TTL and
  leaves the stored ``cookie.expires`` stale. The key's deadline is then the truth, and
  the session is reported with ``cookie.expires`` set to the moment Redis will drop it.

So a session that ``get`` returns always carries an expiry that has not passed and at
which it will really be gone (to within the one-second rounding of ``EX``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectstore import SessionData, format_expires, session_expires, ttl_seconds

__all__ = ["LATENCY_MS", "ROUNDING_MS", "live_session", "ttl_for"]

ROUNDING_MS = 1000
"""``EX`` takes whole seconds, rounded up: a key outlives its cookie by less than this."""

LATENCY_MS = 250
"""Allowance for the time between computing a TTL and Redis applying or reporting it."""


def ttl_for(session: Mapping[str, Any], default_ttl: int) -> int:
    """``connectstore.ttl_seconds(session, default_ttl)``: whole seconds left, rounded up."""
    return ttl_seconds(session, default_ttl)


def live_session(session: SessionData, pttl: int, now: int) -> SessionData | None:
    """``session`` as the store reports it, or None when it has expired.

    ``pttl`` is the key's remaining life in milliseconds as Redis reported it (-1: the key
    has no TTL) and ``now`` the time just after the reply, in epoch milliseconds. A
    malformed ``cookie.expires`` raises :class:`~connectstore.SerializationError`.
    """
    expires = session_expires(session)
    if pttl < 0:  # no TTL (disable_ttl, or another writer): only the cookie can expire it
        return None if expires is not None and expires <= now else session
    if expires is None:  # a browser-session cookie: alive while its key lives
        return session
    deadline = now + pttl
    if expires - LATENCY_MS <= deadline <= expires + ROUNDING_MS + LATENCY_MS:
        return session if expires > now else None
    if deadline <= now:
        return None
    session["cookie"]["expires"] = format_expires(deadline)
    return session
