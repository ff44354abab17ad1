"""One write at a time per session id, within a process.

SurrealDB's in-memory engine (what ``mem://`` embeds, and what a server started with
``memory`` runs) can lose one of two writes to the same record that commit at the same
moment: the conformance suite's touch/set race saw a ``set`` undone by a concurrent
``touch`` (1 of 200), although each is a single statement. The store therefore sends its
own writes to one sid one after another. Writes to different sids still run concurrently,
and nothing is held between calls: a queue exists only while a write to its sid is pending.

A write that finds no other pending on its sid goes at once: no lock object, no waiting,
no extra turn of the event loop. Later ones wait in arrival order (as on an
``asyncio.Lock``) and each hands the turn to the next when it is done.
"""

from __future__ import annotations

import asyncio
from collections import deque
from types import TracebackType

__all__ = ["OneWriterPerSid"]

_Key = tuple[int, str]


class OneWriterPerSid:
    """Hands out, per (event loop, sid), turns to write: ``async with writers.turn(sid): ...``."""

    __slots__ = ("_waiting",)

    def __init__(self) -> None:
        # A key is present while a write to it runs; its deque holds the writes waiting after it.
        self._waiting: dict[_Key, deque[asyncio.Future[None]]] = {}

    def turn(self, sid: str) -> _Turn:
        """Wait for the writes to ``sid`` started before this one, then write."""
        return _Turn(self._waiting, (id(asyncio.get_running_loop()), sid))


class _Turn:
    """One write's turn on its sid (an async context manager)."""

    __slots__ = ("_key", "_waiting")

    def __init__(self, waiting: dict[_Key, deque[asyncio.Future[None]]], key: _Key) -> None:
        self._waiting = waiting
        self._key = key

    async def __aenter__(self) -> None:
        queue = self._waiting.get(self._key)
        if queue is None:  # nobody writes this sid: go now
            self._waiting[self._key] = deque()
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        queue.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self._pass_on()  # the turn came just as we were cancelled: hand it on
            raise  # (a cancelled waiter stays queued; _pass_on skips it)

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._pass_on()

    def _pass_on(self) -> None:
        """Give the turn to the next write still waiting, or forget the sid when none is."""
        queue = self._waiting[self._key]
        while queue:
            waiter = queue.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        del self._waiting[self._key]
