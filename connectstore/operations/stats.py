"""``stats(store)``: how many sessions and users a store holds, how big and how soon they expire.

One pass through :meth:`~connectstore.Store.items`, in bounded memory: sizes are counted in a
histogram of exact sizes (sessions of one application cluster in few distinct sizes) and
users as 8-byte digests, so memory grows with the distinct sizes and users, never with the
sessions' data.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any

from connectstore.cookie import now_ms
from connectstore.operations.common import (
    DEFAULT_USER_KEY,
    Progress,
    expires_of,
    require,
    session_size,
    user_of,
    user_text,
)
from connectstore.store import Store

__all__ = ["HOUR_MS", "Stats", "percentile", "stats"]

HOUR_MS = 3_600_000
"""One hour in milliseconds."""


@dataclass(frozen=True)
class Stats:
    """What :func:`stats` found. Sizes are bytes of each session's JSON (UTF-8)."""

    sessions: int
    """Live sessions."""
    users: int
    """Distinct users (values at the user key); sessions without one count as no user."""
    anonymous: int
    """Sessions with no value at the user key."""
    bytes: int
    """Total size of every session."""
    p50: int
    p90: int
    p99: int
    max: int
    """Size percentiles (nearest rank; 0 for an empty store)."""
    expiring_1h: int
    """Sessions whose ``cookie.expires`` falls within the next hour."""
    expiring_24h: int
    """... within the next 24 hours (those of the hour included); no expiry: not counted."""
    user_key: str
    """The path users were read at."""

    def as_json(self) -> dict[str, Any]:
        """The figures as one JSON object (what ``connectstore stats --json`` prints)."""
        return asdict(self)


def percentile(sizes: Counter[int], fraction: float) -> int:
    """The nearest-rank percentile of a histogram ``{size: count}``: the smallest size such that
    at least ``ceil(fraction * n)`` sessions are that size or smaller (0 when empty).
    """
    total = sum(sizes.values())
    if total == 0:
        return 0
    rank = max(1, math.ceil(fraction * total))
    seen = 0
    for size in sorted(sizes):
        seen += sizes[size]
        if seen >= rank:
            return size
    return max(sizes)


async def stats(store: Store, *, user_key: str = DEFAULT_USER_KEY, progress: Progress | None = None) -> Stats:
    """Count ``store``'s sessions, users, bytes, size percentiles and near expiries.

    Needs the ``items`` capability (else :class:`~connectstore.UnsupportedOperationError`).
    """
    require(store, "items")
    now = now_ms()
    sizes: Counter[int] = Counter()
    users: set[bytes] = set()
    anonymous = total_bytes = within_hour = within_day = 0
    async for _sid, session in store.items():
        size = session_size(session)
        sizes[size] += 1
        total_bytes += size
        user = user_of(session, user_key)
        if user is None:
            anonymous += 1
        else:
            users.add(
                hashlib.blake2b(user_text(user).encode("utf-8", "surrogatepass"), digest_size=8).digest()
            )
        expires = expires_of(session)
        if expires is not None and expires - now <= 24 * HOUR_MS:
            within_day += 1
            if expires - now <= HOUR_MS:
                within_hour += 1
        if progress is not None:
            progress.advance()
    return Stats(
        sessions=sum(sizes.values()),
        users=len(users),
        anonymous=anonymous,
        bytes=total_bytes,
        p50=percentile(sizes, 0.50),
        p90=percentile(sizes, 0.90),
        p99=percentile(sizes, 0.99),
        max=max(sizes, default=0),
        expiring_1h=within_hour,
        expiring_24h=within_day,
        user_key=user_key,
    )
