"""Listings a store gets for free: ``all()``, ``ids()`` and ``length()`` from ``items()``.

A store that can stream ``(sid, session)`` pairs has every listing: subclass
:class:`ListingFromItems` instead of :class:`~connectstore.Store`, implement ``items()``,
and declare ``{"all", "ids", "items", "length"}`` in ``capabilities``. Override any of the
three where the backend has something faster (a ``COUNT``, keys without values).

While listing, a record that cannot be decoded is not a session: :func:`decode_listed`
skips it with one warning naming the store and the sid (never the content), so one bad
record never makes a store's listings unusable. ``get`` of that sid still raises
:class:`~connectstore.SessionDecodeError`, and ``destroy`` or ``clear`` removes it.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from connectstore.errors import SessionDecodeError
from connectstore.serializer import Serializer, SessionData, decode_session
from connectstore.store import Store

__all__ = ["ListingFromItems", "decode_listed"]

logger = logging.getLogger("connectstore")


def decode_listed(
    serializer: Serializer, sid: str, data: str | bytes, *, store: object
) -> SessionData | None:
    """The session a listing met under ``sid``, or None (and a warning) when it is corrupt.

    ``store`` names the store in the warning (its ``repr``, which never carries a credential).
    """
    try:
        return decode_session(serializer, sid, data)
    except SessionDecodeError:
        logger.warning("%r: skipping the corrupt session %r in a listing", store, sid)
        return None


class ListingFromItems(Store):
    """A :class:`~connectstore.Store` whose ``all()``, ``ids()`` and ``length()`` come from ``items()``."""

    async def all(self) -> dict[str, SessionData]:
        """Every live session keyed by sid, collected from :meth:`items`."""
        return {sid: session async for sid, session in self.items()}

    async def ids(self) -> AsyncIterator[str]:
        """The ids of live sessions, from :meth:`items`."""
        async for sid, _ in self.items():
            yield sid

    async def length(self) -> int:
        """The number of live sessions: how many :meth:`ids` yields."""
        count = 0
        async for _ in self.ids():
            count += 1
        return count
