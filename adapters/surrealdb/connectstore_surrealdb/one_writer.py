"""One write at a time per session id, within a process.

SurrealDB's in-memory engine (what ``mem://`` embeds, and what a server started with
``memory`` runs) can lose one of two writes to the same record that commit at the same
moment: the conformance suite's touch/set race saw a ``set`` undone by a concurrent
``touch`` (1 of 200), although each is a single statement. The store therefore sends its
own writes to one sid one after another. Writes to different sids still run concurrently,
and nothing is held between calls: a lock exists only while a write to its sid is pending.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

__all__ = ["OneWriterPerSid"]


class OneWriterPerSid:
    """Hands out, per (event loop, sid), a lock that lives only while writes to that sid wait."""

    __slots__ = ("_locks",)

    def __init__(self) -> None:
        self._locks: dict[tuple[int, str], tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def turn(self, sid: str) -> AsyncIterator[None]:
        """Wait for the writes to ``sid`` started before this one, then write."""
        key = (id(asyncio.get_running_loop()), sid)
        lock, waiting = self._locks.get(key) or (asyncio.Lock(), 0)
        self._locks[key] = (lock, waiting + 1)
        try:
            async with lock:
                yield
        finally:
            lock, waiting = self._locks[key]
            if waiting == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, waiting - 1)
