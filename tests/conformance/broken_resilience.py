"""Deliberately broken stores for the outage, corrupt-data and memory clauses, and the
fixtures' helpers that take their (simulated) backend away and corrupt their records.

Each is MemoryStore with one behaviour replaced; :class:`OutageAware` is the correct
control: its backend can be taken away, and it fails fast while it is.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from connectstore import MemoryStore, SessionData, StoreUnavailableError, Versioned


class OutageAware(MemoryStore):
    """A MemoryStore whose backend can be down: every call then fails fast with
    StoreUnavailableError, and works again once it is back (the correct behaviour).
    """

    def __init__(self) -> None:
        super().__init__()
        self.down = False

    async def reach(self) -> None:
        """Fail fast when the backend is down."""
        if self.down:
            raise StoreUnavailableError("the backend is down")

    async def get(self, sid: str) -> SessionData | None:
        await self.reach()
        return await super().get(sid)

    async def set(self, sid: str, session: SessionData) -> None:
        await self.reach()
        await super().set(sid, session)

    async def destroy(self, sid: str) -> None:
        await self.reach()
        await super().destroy(sid)

    async def touch(self, sid: str, session: SessionData) -> None:
        await self.reach()
        await super().touch(sid, session)

    async def clear(self) -> None:
        await self.reach()
        await super().clear()

    async def get_versioned(self, sid: str) -> Versioned | None:
        await self.reach()
        return await super().get_versioned(sid)

    async def set_if(self, sid: str, session: SessionData, version: str) -> str | None:
        await self.reach()
        return await super().set_if(sid, session, version)

    async def create(self, sid: str, session: SessionData) -> str | None:
        await self.reach()
        return await super().create(sid, session)

    async def items(self) -> AsyncIterator[tuple[str, SessionData]]:
        await self.reach()
        async for pair in super().items():
            yield pair


class HangsWhileDown(OutageAware):
    """Waits for an answer from a backend that is down, with no timeout: forever."""

    async def reach(self) -> None:
        if self.down:
            await asyncio.Event().wait()


class StaysBrokenAfterRecovery(OutageAware):
    """Fails fast while the backend is down, but never reconnects: once a call failed, it
    keeps failing after the backend is back (a dead connection never replaced).
    """

    def __init__(self) -> None:
        super().__init__()
        self.broken = False

    async def reach(self) -> None:
        if self.down:
            self.broken = True
        if self.broken:
            raise StoreUnavailableError("the connection is gone")


class HidesOutageAsMissing(OutageAware):
    """get() answers None while the backend is down, as if the session did not exist
    (the user is silently logged out instead of being told the store is unavailable).
    """

    async def get(self, sid: str) -> SessionData | None:
        if self.down:
            return None
        return await super().get(sid)


class CrashesOnCorruptData(MemoryStore):
    """get() parses the stored text with a bare json.loads: garbage raises JSONDecodeError."""

    async def get(self, sid: str) -> SessionData | None:
        stored = self._sessions.get(sid)
        if stored is None:
            return None
        session: SessionData = json.loads(stored[0])
        return session


class ListsEverythingAtOnce(MemoryStore):
    """ids() and items() load every session into memory before yielding the first."""

    async def items(self) -> AsyncIterator[tuple[str, SessionData]]:
        everything = [pair async for pair in super().items()]
        for pair in everything:
            yield pair

    async def ids(self) -> AsyncIterator[str]:
        everything = {sid: session async for sid, session in super().items()}
        for sid in everything:
            yield sid


def outage_of(store: OutageAware) -> Callable[[], AbstractAsyncContextManager[None]]:
    """The ``backend_outage`` fixture's value for ``store``: the backend is down inside."""

    @asynccontextmanager
    async def outage() -> AsyncIterator[None]:
        store.down = True
        try:
            yield
        finally:
            store.down = False

    return outage


def corrupter_of(store: MemoryStore) -> Callable[[str], Awaitable[None]]:
    """The ``corrupt_record`` fixture's value for ``store``: garbage under a sid."""

    async def corrupt(sid: str) -> None:
        _, deadline = store._sessions[sid]
        store._sessions[sid] = ("\x00{not json\xff", deadline)

    return corrupt
