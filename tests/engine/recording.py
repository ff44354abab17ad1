"""A MemoryStore that records which contract methods the engine called."""

from __future__ import annotations

from connectstore import MemoryStore, SessionData
from connectstore.store import Versioned

# The plain call each conditional write stands for (what express-session would call).
_PLAIN = {"get_versioned": "get", "set_if": "set", "create": "set"}


class RecordingStore(MemoryStore):
    """MemoryStore plus a log of ``(method, sid)`` for get/set/destroy/touch and the
    conditional get_versioned/set_if/create.
    """

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, str]] = []

    def methods(self) -> list[str]:
        """The methods called so far, in order."""
        return [method for method, _ in self.calls]

    def plain_methods(self) -> list[str]:
        """The methods called so far, each conditional write named after the plain call it
        stands for (get_versioned: get; set_if, create: set): equal to :meth:`methods` of an
        ``on_conflict="overwrite"`` engine when a conditional engine makes the same calls.
        """
        return [_PLAIN.get(method, method) for method, _ in self.calls]

    async def get(self, sid: str) -> SessionData | None:
        self.calls.append(("get", sid))
        return await super().get(sid)

    async def set(self, sid: str, session: SessionData) -> None:
        self.calls.append(("set", sid))
        await super().set(sid, session)

    async def destroy(self, sid: str) -> None:
        self.calls.append(("destroy", sid))
        await super().destroy(sid)

    async def touch(self, sid: str, session: SessionData) -> None:
        self.calls.append(("touch", sid))
        await super().touch(sid, session)

    async def get_versioned(self, sid: str) -> Versioned | None:
        self.calls.append(("get_versioned", sid))
        return await super().get_versioned(sid)

    async def set_if(self, sid: str, session: SessionData, version: str) -> str | None:
        self.calls.append(("set_if", sid))
        return await super().set_if(sid, session, version)

    async def create(self, sid: str, session: SessionData) -> str | None:
        self.calls.append(("create", sid))
        return await super().create(sid, session)
