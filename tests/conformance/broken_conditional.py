"""Deliberately broken conditional writes (get_versioned, set_if, create), each the way a
real store gets them wrong; the conformance suite must fail each on the clauses it breaks
(test_suite_strength.py).

Each is MemoryStore (whose version is the stored text itself) with one behaviour replaced.
"""

from __future__ import annotations

import asyncio
import fnmatch
import hashlib
import json

from connectstore import (
    NO_VERSION,
    MemoryStore,
    SessionData,
    SessionDecodeError,
    StoreError,
    Versioned,
    check_sid,
    decode_session,
    is_expired,
)
from tests.conformance.broken_resilience import OutageAware


class GetVersionedDropsTheCookie(MemoryStore):
    """get_versioned() returns the application data without its cookie, as a store reading
    only its data column does.
    """

    async def get_versioned(self, sid: str) -> Versioned | None:
        got = await super().get_versioned(sid)
        if got is None:
            return None
        got.session.pop("cookie", None)
        return got


class GetVersionedIgnoresExpiry(MemoryStore):
    """get_versioned() reads the stored text without looking at its expiry."""

    async def get_versioned(self, sid: str) -> Versioned | None:
        entry = self._sessions.get(check_sid(sid))
        return None if entry is None else Versioned(decode_session(self.serializer, sid, entry[0]), entry[0])


#: What VersionCountsReads puts between the stored text and its read counter (JSON text
#: never holds a raw NUL).
READ_MARK = "\x00"


class VersionCountsReads(MemoryStore):
    """Each get_versioned() reports a version of its own (the text and a read counter, as a
    version holding the remaining lifetime would): the same record never reads the same.
    set_if() compares the text alone, so it still accepts them.
    """

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    async def get_versioned(self, sid: str) -> Versioned | None:
        got = await super().get_versioned(sid)
        if got is None:
            return None
        self.reads += 1
        return Versioned(got.session, f"{got.version}{READ_MARK}{self.reads}")

    async def set_if(self, sid: str, session: SessionData, version: str) -> str | None:
        return await super().set_if(sid, session, version.split(READ_MARK)[0])


def data_hash(text: str) -> str:
    """A hash of a stored session's application data, its cookie left out."""
    try:
        data = json.loads(text)
        data.pop("cookie", None)
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()
    except (ValueError, AttributeError):
        return "undecodable-" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


class VersionBlindToTouch(MemoryStore):
    """The version is a hash of the application data without the cookie: a touch() (or any
    write of the same data with another cookie) keeps it.
    """

    async def get_versioned(self, sid: str) -> Versioned | None:
        got = await super().get_versioned(sid)
        return None if got is None else Versioned(got.session, data_hash(got.version))

    async def set_if(self, sid: str, session: SessionData, version: str) -> str | None:
        check_sid(sid)
        text = self.serializer.dumps(session)
        live = self._live_text(sid)
        if live is None or data_hash(live) != version:
            return None
        written = self._put(sid, session, text)
        return written and data_hash(written)

    async def create(self, sid: str, session: SessionData) -> str | None:
        written = await super().create(sid, session)
        return written and data_hash(written)


class SetIfReturnsStaleVersion(MemoryStore):
    """set_if() writes, then returns the version it was given instead of the new one."""

    async def set_if(self, sid: str, session: SessionData, version: str) -> str | None:
        written = await super().set_if(sid, session, version)
        return version if written else written


class SetIfIgnoresVersion(MemoryStore):
    """set_if() is a plain set(): it writes whatever the record's version."""

    async def set_if(self, sid: str, session: SessionData, version: str) -> str | None:
        check_sid(sid)
        return self._put(sid, session, self.serializer.dumps(session))


class SetIfResurrectsDestroyed(MemoryStore):
    """set_if() compares only when a record is there: over a destroyed or expired session it
    writes (an upsert whose condition is in its UPDATE branch only).
    """

    async def set_if(self, sid: str, session: SessionData, version: str) -> str | None:
        check_sid(sid)
        text = self.serializer.dumps(session)
        live = self._live_text(sid)
        if live is not None and live != version:
            return None
        return self._put(sid, session, text)


class SetIfSeesExpiredRecords(MemoryStore):
    """set_if() compares with the stored text even when its expiry has passed (an UPDATE
    without ``AND expires > now``): it writes over an expired session.
    """

    async def set_if(self, sid: str, session: SessionData, version: str) -> str | None:
        check_sid(sid)
        text = self.serializer.dumps(session)
        entry = self._sessions.get(sid)
        if entry is None or entry[0] != version:
            return None
        return self._put(sid, session, text)


class SetIfPastExpiryKeepsRecord(MemoryStore):
    """set_if() of a session whose expiry is past returns NO_VERSION without deleting the
    record (a script that returns early on a TTL <= 0).
    """

    async def set_if(self, sid: str, session: SessionData, version: str) -> str | None:
        if not is_expired(session):
            return await super().set_if(sid, session, version)
        check_sid(sid)
        self.serializer.dumps(session)
        return NO_VERSION if self._live_text(sid) == version else None


class SetIfNotAtomic(MemoryStore):
    """set_if() compares, then writes after a round trip (it yields to the event loop in
    between): concurrent writers with the same version all win.
    """

    async def set_if(self, sid: str, session: SessionData, version: str) -> str | None:
        check_sid(sid)
        text = self.serializer.dumps(session)
        if self._live_text(sid) != version:
            return None
        await asyncio.sleep(0)  # the round trip between the comparison and the write
        return self._put(sid, session, text)


class CreateClaimsBeforeSerializing(MemoryStore):
    """create() claims the sid with an empty record, then serializes: a value JSON cannot
    carry leaves the claim behind.
    """

    async def create(self, sid: str, session: SessionData) -> str | None:
        if self._live_text(check_sid(sid)) is not None:
            return None
        self._sessions[sid] = ("", None)
        return self._put(sid, session, self.serializer.dumps(session))


class CreateReturnsStatus(MemoryStore):
    """create() returns the backend's reply ("OK") instead of the version it wrote."""

    async def create(self, sid: str, session: SessionData) -> str | None:
        return None if await super().create(sid, session) is None else "OK"


class CreateOverwrites(MemoryStore):
    """create() is a plain set() that returns the version: it replaces a live session."""

    async def create(self, sid: str, session: SessionData) -> str | None:
        check_sid(sid)
        return self._put(sid, session, self.serializer.dumps(session))


class CreateNotAtomic(MemoryStore):
    """create() checks that the sid is free, then writes after a round trip: concurrent
    creates of one sid all win.
    """

    async def create(self, sid: str, session: SessionData) -> str | None:
        check_sid(sid)
        text = self.serializer.dumps(session)
        if self._live_text(sid) is not None:
            return None
        await asyncio.sleep(0)  # the round trip between the check and the write
        return self._put(sid, session, text)


class CreateSeesExpiredRecords(MemoryStore):
    """create() counts any stored record as present, expired ones too (INSERT OR IGNORE
    over a row whose expiry has passed).
    """

    async def create(self, sid: str, session: SessionData) -> str | None:
        check_sid(sid)
        text = self.serializer.dumps(session)
        if sid in self._sessions:
            return None
        return self._put(sid, session, text)


class CreateRefusesDestroyedSids(MemoryStore):
    """destroy() leaves a tombstone that create() takes for a session."""

    def __init__(self) -> None:
        super().__init__()
        self.tombstones: set[str] = set()

    async def destroy(self, sid: str) -> None:
        await super().destroy(sid)
        self.tombstones.add(sid)

    async def create(self, sid: str, session: SessionData) -> str | None:
        if sid in self.tombstones:
            check_sid(sid)
            self.serializer.dumps(session)
            return None
        return await super().create(sid, session)


class CreateTreatsCorruptAsAbsent(MemoryStore):
    """create() decodes what is stored and takes a record it cannot decode for no session."""

    async def create(self, sid: str, session: SessionData) -> str | None:
        check_sid(sid)
        text = self.serializer.dumps(session)
        try:
            present = await self.get(sid) is not None
        except SessionDecodeError:
            present = False
        return None if present else self._put(sid, session, text)


class CreateGlobMatchingSids(MemoryStore):
    """create() looks for an existing session with the sid as a glob pattern (an unescaped
    SCAN MATCH): ``*`` finds any session and is never created.
    """

    async def create(self, sid: str, session: SessionData) -> str | None:
        check_sid(sid)
        text = self.serializer.dumps(session)
        if any(
            fnmatch.fnmatchcase(stored, sid) and self._live_text(stored) for stored in list(self._sessions)
        ):
            return None
        return self._put(sid, session, text)


class ConditionalAttributeErrorForNonStrSid(MemoryStore):
    """The conditional writes encode the sid before checking its type: an int, bytes or None
    sid raises AttributeError, not TypeError.
    """

    async def get_versioned(self, sid: str) -> Versioned | None:
        sid.encode()
        return await super().get_versioned(sid)

    async def set_if(self, sid: str, session: SessionData, version: str) -> str | None:
        sid.encode()
        return await super().set_if(sid, session, version)

    async def create(self, sid: str, session: SessionData) -> str | None:
        sid.encode()
        return await super().create(sid, session)


class ConditionalFailsAfterClose(MemoryStore):
    """The conditional writes raise StoreError("closed") after close(), as a store that
    prepares their statements once and drops them on close() does; the other methods work.
    """

    def __init__(self) -> None:
        super().__init__()
        self.closed = False

    async def close(self) -> None:
        self.closed = True

    async def get_versioned(self, sid: str) -> Versioned | None:
        self._refuse_when_closed()
        return await super().get_versioned(sid)

    async def set_if(self, sid: str, session: SessionData, version: str) -> str | None:
        self._refuse_when_closed()
        return await super().set_if(sid, session, version)

    async def create(self, sid: str, session: SessionData) -> str | None:
        self._refuse_when_closed()
        return await super().create(sid, session)

    def _refuse_when_closed(self) -> None:
        if self.closed:
            raise StoreError(f"{type(self).__name__} is closed")


class ConditionalHidesOutage(OutageAware):
    """While the backend is down, the conditional writes answer as if the session were
    missing or had changed (None) instead of raising StoreUnavailableError.
    """

    async def get_versioned(self, sid: str) -> Versioned | None:
        return None if self.down else await super().get_versioned(sid)

    async def set_if(self, sid: str, session: SessionData, version: str) -> str | None:
        return None if self.down else await super().set_if(sid, session, version)

    async def create(self, sid: str, session: SessionData) -> str | None:
        return None if self.down else await super().create(sid, session)
