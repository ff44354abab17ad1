"""A MemoryStore that records which contract methods the engine called."""

from __future__ import annotations

from connectstore import MemoryStore, SessionData


class RecordingStore(MemoryStore):
    """MemoryStore plus a log of ``(method, sid)`` for get/set/destroy/touch."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, str]] = []

    def methods(self) -> list[str]:
        """The methods called so far, in order."""
        return [method for method, _ in self.calls]

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
