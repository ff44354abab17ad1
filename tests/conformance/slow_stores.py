"""Correct stores that are slow the way a loaded machine is slow, for the suite's own tests:
a slow store must pass, not fail on a clause it honours.
"""

from __future__ import annotations

import asyncio

from connectstore import MemoryStore, SessionData


class SlowFirstWrite(MemoryStore):
    """MemoryStore whose first ``set`` takes longer than the suite's short session lifetime,
    as a scheduler stall on a busy 2-core machine would.
    """

    stall = 1.5

    def __init__(self) -> None:
        super().__init__()
        self.stalled = False

    async def set(self, sid: str, session: SessionData) -> None:
        if not self.stalled:
            self.stalled = True
            await asyncio.sleep(self.stall)
        await super().set(sid, session)
