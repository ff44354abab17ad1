"""The check that ``ids()`` and ``items()`` stream: their memory stays bounded however many
sessions the store holds.
"""

from __future__ import annotations

import asyncio
import tracemalloc
from collections.abc import AsyncIterator
from typing import Any, ClassVar

import pytest

from connectstore import SessionData, Store
from connectstore_conformance.base import NOT_SUPPORTED, ConformanceBase
from connectstore_conformance.sessions import make_session

#: How many sessions are written at once (concurrently) while filling the store.
WRITE_BATCH = 250
#: The peak memory of a listing may be at most this share of holding every session.
MEMORY_SHARE = 0.25


def session_number(i: int) -> SessionData:
    """The ``i``-th session of the memory check: a few hundred bytes of its own."""
    return make_session(n=i, payload=f"{i:08d}-" + "x" * 300, user={"id": i, "roles": ["reader"]})


def held_everything(count: int) -> int:
    """Bytes (as tracemalloc counts them) that holding ``count`` sessions and their ids takes."""
    tracemalloc.start()
    try:
        held = [(f"mem-{i}", session_number(i)) for i in range(count)]
        size = tracemalloc.get_traced_memory()[0]
        del held
    finally:
        tracemalloc.stop()
    return size


async def peak_while_draining(stream: AsyncIterator[Any]) -> tuple[int, int]:
    """Consume ``stream`` without keeping what it yields; return how many entries it
    yielded and the peak of traced memory meanwhile.
    """
    count = 0
    tracemalloc.start()
    try:
        async for _ in stream:
            count += 1
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return count, peak


class ListingMemoryChecks(ConformanceBase):
    """ids() / items(): bounded memory over ``memory_sessions`` sessions.

    Knob: ``memory_sessions``, how many sessions the check writes (default 20,000).
    """

    #: How many sessions the memory check of ids()/items() writes before listing them.
    memory_sessions: ClassVar[int] = 20_000

    async def test_listings_stream_in_bounded_memory(self, store: Store) -> None:
        """Iterating ids() and items() over ``memory_sessions`` sessions never holds them
        all: the peak of Python memory (tracemalloc) while listing stays below a quarter of
        what holding every session would take.
        """
        listings = [name for name in ("ids", "items") if name in store.capabilities]
        if not listings:
            pytest.skip(f"{NOT_SUPPORTED}: the store declares neither ids nor items")
        count = self.memory_sessions
        for start in range(0, count, WRITE_BATCH):
            await asyncio.gather(
                *(
                    store.set(f"mem-{i}", session_number(i))
                    for i in range(start, min(start + WRITE_BATCH, count))
                )
            )
        bound = int(held_everything(count) * MEMORY_SHARE)
        for name in listings:
            stream: AsyncIterator[Any] = store.ids() if name == "ids" else store.items()
            seen, peak = await peak_while_draining(stream)
            assert seen == count, f"{name}() yielded {seen} entries; expected the {count} sessions written"
            assert peak < bound, (
                f"{name}() over {count} sessions peaked at {peak:,} bytes of Python memory; a streaming "
                f"listing stays below {bound:,} bytes ({MEMORY_SHARE:.0%} of holding every session)"
            )
