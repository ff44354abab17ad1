"""What the conflict tests share: opening requests of one session on the engine directly,
and stores that count or provoke conflicts.
"""

from __future__ import annotations

from typing import Any

from connectstore import MemoryStore, RequestInfo, SessionData, SessionEngine, Store
from connectstore.request_session import RequestSession
from connectstore.signing import encode_uri_component, sign_cookie
from connectstore.store import Versioned

SECRET = "keyboard cat"


def cookie_for(sid: str) -> str:
    """The Cookie header a browser holding session ``sid`` sends."""
    return "connect.sid=" + encode_uri_component(sign_cookie(sid, SECRET))


def engine_for(store: Store, **options: Any) -> SessionEngine:
    """An engine over ``store`` with the tests' secret."""
    return SessionEngine(store, secret=SECRET, **options)


async def stored_session(engine: SessionEngine, data: dict[str, Any]) -> str:
    """Store a new session holding ``data`` through the engine; its id."""
    request = await engine.open(RequestInfo(cookie_header=None))
    assert request.session is not None
    request.session.update(data)
    await request.commit()
    return request.session.id


async def open_request(engine: SessionEngine, sid: str) -> RequestSession:
    """A request of session ``sid`` that has loaded it (checked)."""
    request = await engine.open(RequestInfo(cookie_header=cookie_for(sid)))
    assert request.session is not None
    assert request.session.id == sid
    return request


async def data_of(store: Store, sid: str) -> dict[str, Any] | None:
    """The data stored under ``sid`` without its cookie, or None."""
    stored = await store.get(sid)
    return None if stored is None else {k: v for k, v in stored.items() if k != "cookie"}


class ConflictCountingStore(MemoryStore):
    """MemoryStore counting the conditional writes that found the record changed."""

    def __init__(self) -> None:
        super().__init__()
        self.conflicts = 0
        self.writes = 0

    async def set_if(self, sid: str, session: SessionData, version: str) -> str | None:
        written = await super().set_if(sid, session, version)
        if written is None:
            self.conflicts += 1
        else:
            self.writes += 1
        return written


class AlwaysChangingStore(MemoryStore):
    """MemoryStore under a writer that changes the session right after every
    ``get_versioned``, as a busy concurrent writer would: no version read stays current.
    """

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    async def get_versioned(self, sid: str) -> Versioned | None:
        found = await super().get_versioned(sid)
        self.reads += 1
        if found is not None:
            await self.set(sid, {**found.session, "other writer": self.reads})
        return found


class PlainStore(Store):
    """A store with the three required methods only (no conditional writes), over a MemoryStore."""

    def __init__(self) -> None:
        self.inner = MemoryStore()

    async def get(self, sid: str) -> SessionData | None:
        return await self.inner.get(sid)

    async def set(self, sid: str, session: SessionData) -> None:
        await self.inner.set(sid, session)

    async def destroy(self, sid: str) -> None:
        await self.inner.destroy(sid)
