"""Deliberately broken stores, each violating one clause of the contract.

The conformance suite must fail each of them on that clause (test_suite_strength.py).
They are MemoryStore with one behaviour replaced, or a small dict-backed store.
"""

from __future__ import annotations

import asyncio
import fnmatch
import math
from collections.abc import AsyncIterator
from typing import Any

from connectstore import (
    JSONSerializer,
    MemoryStore,
    SessionData,
    Store,
    StoreError,
    decode_session,
    is_expired,
)


class ReturnsExpiredSessions(MemoryStore):
    """get() and listings ignore expiry."""

    def __init__(self) -> None:
        super().__init__()
        self.raw: dict[str, SessionData] = {}

    async def set(self, sid: str, session: SessionData) -> None:
        self.raw[sid] = JSONSerializer().loads(JSONSerializer().dumps(session))

    async def get(self, sid: str) -> SessionData | None:
        session = self.raw.get(sid)
        return None if session is None else JSONSerializer().loads(JSONSerializer().dumps(session))

    async def destroy(self, sid: str) -> None:
        self.raw.pop(sid, None)

    async def items(self) -> AsyncIterator[tuple[str, SessionData]]:
        for sid, session in list(self.raw.items()):
            yield sid, session

    async def touch(self, sid: str, session: SessionData) -> None:
        if sid in self.raw:
            self.raw[sid]["cookie"] = session["cookie"]

    async def clear(self) -> None:
        self.raw.clear()


class TouchRewritesData(MemoryStore):
    """touch() writes the whole session, application data included."""

    async def touch(self, sid: str, session: SessionData) -> None:
        if await self.get(sid) is not None:
            await self.set(sid, session)


class TouchCreatesMissing(MemoryStore):
    """touch() of a missing sid creates it."""

    async def touch(self, sid: str, session: SessionData) -> None:
        await self.set(sid, session)


class LengthCountsExpired(MemoryStore):
    """length() counts expired entries too."""

    async def length(self) -> int:
        return len(self._sessions)


class DestroyRaisesOnMissing(MemoryStore):
    """destroy() of a missing sid raises KeyError."""

    async def destroy(self, sid: str) -> None:
        del self._sessions[sid]


class GetReturnsStoredObject(Store):
    """Keeps the caller's dicts and hands back the stored objects themselves."""

    capabilities = frozenset({"all", "length", "clear"})

    def __init__(self) -> None:
        self.data: dict[str, SessionData] = {}

    async def get(self, sid: str) -> SessionData | None:
        session = self.data.get(sid)
        if session is not None and is_expired(session):
            del self.data[sid]
            return None
        return session

    async def set(self, sid: str, session: SessionData) -> None:
        JSONSerializer().dumps(session)  # validates
        if is_expired(session):
            self.data.pop(sid, None)
        else:
            self.data[sid] = session

    async def destroy(self, sid: str) -> None:
        self.data.pop(sid, None)

    async def all(self) -> dict[str, SessionData]:
        return {sid: s for sid in list(self.data) if (s := await self.get(sid)) is not None}

    async def length(self) -> int:
        return len(await self.all())

    async def clear(self) -> None:
        self.data.clear()


class GlobMatchingSids(MemoryStore):
    """Treats the sid as a glob pattern in get() and destroy(), as an unescaped SCAN MATCH would."""

    async def get(self, sid: str) -> SessionData | None:
        for stored in list(self._sessions):
            if fnmatch.fnmatchcase(stored, sid):
                return await super().get(stored)
        return None

    async def destroy(self, sid: str) -> None:
        for stored in [s for s in self._sessions if fnmatch.fnmatchcase(s, sid)]:
            await super().destroy(stored)


class BooleansBecomeIntegers(MemoryStore):
    """Stores ``true``/``false`` as ``1``/``0``, as a careless SQL column type would."""

    async def set(self, sid: str, session: SessionData) -> None:
        def lossy(value: Any) -> Any:
            if isinstance(value, dict):
                return {k: lossy(v) for k, v in value.items()}
            if isinstance(value, list):
                return [lossy(v) for v in value]
            if isinstance(value, bool):
                return int(value)
            return value

        await super().set(sid, lossy(session))


class SharedBackend:
    """One dict shared by several namespaced stores."""

    def __init__(self) -> None:
        self.data: dict[str, str] = {}


class ClearRemovesForeignData(Store):
    """A namespaced store whose clear() empties the whole shared backend."""

    capabilities = frozenset({"clear", "length"})

    def __init__(self, backend: SharedBackend, prefix: str) -> None:
        self.backend = backend
        self.prefix = prefix
        self.memory = MemoryStore()

    async def get(self, sid: str) -> SessionData | None:
        text = self.backend.data.get(self.prefix + sid)
        if text is None:
            return None
        session = JSONSerializer().loads(text)
        return None if is_expired(session) else session

    async def set(self, sid: str, session: SessionData) -> None:
        text = JSONSerializer().dumps(session)
        if is_expired(session):
            self.backend.data.pop(self.prefix + sid, None)
        else:
            self.backend.data[self.prefix + sid] = text

    async def destroy(self, sid: str) -> None:
        self.backend.data.pop(self.prefix + sid, None)

    async def clear(self) -> None:
        self.backend.data.clear()

    async def length(self) -> int:
        keys = [k for k in self.backend.data if k.startswith(self.prefix)]
        return len([k for k in keys if await self.get(k[len(self.prefix) :]) is not None])


class TouchWritesBackOutsideTransaction(MemoryStore):
    """touch() reads the session and writes it back with the new cookie, outside any
    transaction, waiting between the two as a network store waits for its read's answer:
    a set() landing in between is undone.
    """

    async def touch(self, sid: str, session: SessionData) -> None:
        current = await self.get(sid)
        if current is None:
            return
        await asyncio.sleep(0)  # the round trip between the read and the write
        current["cookie"] = session["cookie"]
        await self.set(sid, current)


class UpsertKeepsExpiry(MemoryStore):
    """set() over a live session replaces its data but keeps its old expiry, as
    ``ON CONFLICT (sid) DO UPDATE SET sess = excluded.sess`` does.
    """

    async def set(self, sid: str, session: SessionData) -> None:
        before = self._sessions.get(sid)
        await super().set(sid, session)
        after = self._sessions.get(sid)
        if before is not None and after is not None and (before[1] is None or before[1] > self._clock()):
            self._sessions[sid] = (after[0], before[1])


class ItemsPagingSkipsOne(MemoryStore):
    """items() reads keyset pages of 500 sids and skips the first sid after each page (an
    off-by-one in its ``WHERE sid > ?``); ids() is right.
    """

    page_size = 500

    async def items(self) -> AsyncIterator[tuple[str, SessionData]]:
        ordered = sorted(self._sessions)
        start = 0
        while start < len(ordered):
            for sid in ordered[start : start + self.page_size]:
                session = self._load(sid)
                if session is not None:
                    yield sid, session
            start += self.page_size + 1

    async def ids(self) -> AsyncIterator[str]:
        for sid in list(self._sessions):
            if self._load(sid) is not None:
                yield sid


class RoundsLifetimesUp(MemoryStore):
    """Keeps each session for its lifetime rounded up to whole seconds (as a backend TTL in
    seconds does) and trusts that expiry alone: get() ignores the cookie's own expiry.
    """

    def _deadline(self, session: SessionData) -> int | None:
        expires = super()._deadline(session)
        if expires is None:
            return None
        now = self._clock()
        return now + math.ceil((expires - now) / 1000) * 1000


class ListingsRaiseOnCorrupt(MemoryStore):
    """items() (and so all(), ids() and length()) decodes every record it meets and lets a
    corrupt one raise SessionDecodeError, as the SQLite and SurrealDB stores did before the
    contract decided that listings skip it.
    """

    async def items(self) -> AsyncIterator[tuple[str, SessionData]]:
        for sid in list(self._sessions):
            text = self._live_text(sid)
            if text is not None:
                yield sid, decode_session(self.serializer, sid, text)


class FailsAfterClose(MemoryStore):
    """Every call after close() raises StoreError("closed"), as a store that drops its
    connection for good on close() does.
    """

    def __init__(self) -> None:
        super().__init__()
        self.closed = False

    async def close(self) -> None:
        self.closed = True

    def _live_text(self, sid: str) -> str | None:
        self._refuse_when_closed()
        return super()._live_text(sid)

    def _write(self, sid: str, session: SessionData) -> None:
        self._refuse_when_closed()
        super()._write(sid, session)

    async def destroy(self, sid: str) -> None:
        self._refuse_when_closed()
        await super().destroy(sid)

    async def clear(self) -> None:
        self._refuse_when_closed()
        await super().clear()

    def _refuse_when_closed(self) -> None:
        if self.closed:
            raise StoreError(f"{type(self).__name__} is closed")


class AttributeErrorForNonStrSid(MemoryStore):
    """Encodes the sid before checking its type: an int, bytes or None sid raises
    AttributeError (``'int' object has no attribute 'encode'``), not TypeError.
    """

    async def get(self, sid: str) -> SessionData | None:
        sid.encode()
        return await super().get(sid)

    async def set(self, sid: str, session: SessionData) -> None:
        sid.encode()
        await super().set(sid, session)

    async def destroy(self, sid: str) -> None:
        sid.encode()
        await super().destroy(sid)

    async def touch(self, sid: str, session: SessionData) -> None:
        sid.encode()
        await super().touch(sid, session)
