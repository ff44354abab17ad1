"""``SESSION_ENGINE = "connectstore.integrations.django"`` decides once per store whether it
saves through the store's conditional writes: each store keeps its own decision, however
many stores the process has used before it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.test import override_settings  # type: ignore[import-untyped]

from connectstore import BlockingStore, MemoryStore, SessionData
from connectstore.integrations.django import SessionStore


class Recording(MemoryStore):
    """A MemoryStore that records the calls a save makes."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    async def set(self, sid: str, session: SessionData) -> None:
        self.calls.append("set")
        await super().set(sid, session)

    async def set_if(self, sid: str, session: SessionData, version: str) -> str | None:
        self.calls.append("set_if")
        return await super().set_if(sid, session, version)

    async def create(self, sid: str, session: SessionData) -> str | None:
        self.calls.append("create")
        return await super().create(sid, session)


class RecordingChangedGet(Recording):
    """Its ``get`` is its own, its conditional writes inherited: they do not match, so saves
    check then write.
    """

    async def get(self, sid: str) -> SessionData | None:
        return await super().get(sid)


@contextmanager
def configured(store: MemoryStore) -> Iterator[None]:
    with BlockingStore(store) as bridge, override_settings(CONNECTSTORE={"store": bridge}):
        yield


def saved_twice(store: Recording) -> list[str]:
    """The store calls of a second save of a session: the first creates it."""
    with configured(store):
        session = SessionStore()
        session["n"] = 1
        session.save()
        store.calls.clear()
        session["n"] = 2
        session.save()
        assert SessionStore(session.session_key).load() == {"n": 2}
    return store.calls


def test_each_store_keeps_its_own_choice_of_writes() -> None:
    for _ in range(2):  # the second time, after both stores have been decided
        assert saved_twice(Recording()) == ["set_if"]
        assert saved_twice(RecordingChangedGet()) == ["set"]
        assert saved_twice(Recording()) == ["set_if"]
