"""Stores (and a factory) for the ``connectstore check`` option tests: each passes the suite
only when the command hands the right knob to it, so the tests see the knob arrive.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

from connectstore import MemoryStore, SessionData, now_ms, session_expires

#: Where :func:`record_knobs` writes the knob values the suite run ended up with.
KNOB_RECORD_ENV = "CONNECTSTORE_TEST_KNOB_RECORD"
#: Seconds :class:`LingersPastExpiry` keeps an expired session visible.
LINGER = 2.0
#: Operations on one sid :class:`RefusesCrowds` accepts at once.
CROWD_LIMIT = 20


class LingersPastExpiry(MemoryStore):
    """Keeps each session visible ``LINGER`` seconds past its expiry, as a store whose
    backend expires keys late (whole-second TTLs, a sweeper) does; a past expiry is still
    never stored. It passes only with ``--expiry-slack`` of at least ``LINGER``.
    """

    async def set(self, sid: str, session: SessionData) -> None:
        expires = session_expires(session)
        if expires is not None and expires <= now_ms():
            await self.destroy(sid)
            return
        await super().set(sid, session)

    def _deadline(self, session: SessionData) -> int | None:
        deadline = super()._deadline(session)
        return None if deadline is None else deadline + int(LINGER * 1000)


class RefusesCrowds(MemoryStore):
    """Raises when more than ``CROWD_LIMIT`` operations on one sid are in flight at once (a
    backend with a per-key lock and a short queue). The concurrency checks that hammer one
    sid pass only with ``--concurrency`` at most that.
    """

    def __init__(self) -> None:
        super().__init__()
        self.in_flight: dict[str, int] = {}

    async def _crowd_check(self, sid: str) -> None:
        self.in_flight[sid] = self.in_flight.get(sid, 0) + 1
        try:
            if self.in_flight[sid] > CROWD_LIMIT:
                raise RuntimeError(f"more than {CROWD_LIMIT} operations on {sid!r} at once")
            await asyncio.sleep(0)  # let the other callers in, as a real backend would
        finally:
            self.in_flight[sid] -= 1

    async def get(self, sid: str) -> SessionData | None:
        await self._crowd_check(sid)
        return await super().get(sid)

    async def set(self, sid: str, session: SessionData) -> None:
        await self._crowd_check(sid)
        await super().set(sid, session)

    async def destroy(self, sid: str) -> None:
        await self._crowd_check(sid)
        await super().destroy(sid)

    async def touch(self, sid: str, session: SessionData) -> None:
        await self._crowd_check(sid)
        await super().touch(sid, session)


def record_knobs() -> MemoryStore:
    """A MemoryStore; inside the suite run it first writes the test class's knob values
    (every int/float/bool class attribute) as JSON to the file named by ``KNOB_RECORD_ENV``.
    """
    check_target = sys.modules.get("connectstore_conformance.check_target")
    if check_target is not None:
        cls = check_target.TestStoreContract
        values = {
            name: getattr(cls, name)
            for name in dir(cls)
            if not name.startswith("_") and type(getattr(cls, name)) in (int, float, bool)
        }
        Path(os.environ[KNOB_RECORD_ENV]).write_text(json.dumps(values))
    return MemoryStore()
