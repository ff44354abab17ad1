"""Dropping the keys SCAN reports twice, in memory that does not grow with the keyspace.

SCAN may return a key more than once, but only in one situation: Redis shrinks a hash
table while the scan is under way, and the buckets merged into the bucket under the
cursor are visited again. Those buckets were visited just before (SCAN walks buckets in
reverse-binary order, so the buckets that merge are consecutive), so a repeat is always a
key reported recently. Remembering the most recent keys is therefore enough; a repeat can
slip through only when the table shrinks by a factor larger than the window while the
scan is inside the merged run, i.e. when nearly the whole keyspace (more than 99.9 % of it
with the default window) disappears in the middle of one scan.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable

__all__ = ["DEFAULT_WINDOW", "RecentKeys"]

DEFAULT_WINDOW = 10_000
"""Keys remembered per scan (about 1 MB for express-session keys)."""


class RecentKeys:
    """A set of the last ``window`` keys seen, for deduplicating one SCAN."""

    __slots__ = ("_order", "_seen", "_window")

    def __init__(self, window: int = DEFAULT_WINDOW) -> None:
        self._window = window
        self._seen: set[Hashable] = set()
        self._order: deque[Hashable] = deque()

    def first_time(self, key: Hashable) -> bool:
        """True when ``key`` was not among the recent keys (and remember it), else False."""
        if key in self._seen:
            return False
        self._seen.add(key)
        self._order.append(key)
        if len(self._order) > self._window:
            self._seen.discard(self._order.popleft())
        return True
