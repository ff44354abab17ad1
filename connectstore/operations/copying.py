"""``copy(source, destination)``: every session of one store into another, streaming.

Each session is written with the very dict read from the source, so its ``cookie.expires``,
and with it its expiry, is the same at the destination (a session whose cookie has no
expiry gets the destination's default lifetime, as any write of it would). A session
already at the destination is never overwritten: with the ``create`` capability the write
is an atomic create-if-absent, otherwise a read first (not atomic against a concurrent
writer). A re-run therefore copies only what is still missing: an interrupted copy resumes.
A session the destination refuses (a value it cannot store faithfully, e.g. a Node-written
integer beyond 2**53) is logged and counted, and the copy goes on.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import asdict, dataclass

from connectstore.errors import SerializationError, SessionDecodeError
from connectstore.operations.common import Progress, require
from connectstore.serializer import SessionData
from connectstore.store import NO_VERSION, Store, supports

__all__ = ["DEFAULT_BATCH", "CopyReport", "copy", "is_empty"]

logger = logging.getLogger("connectstore")

DEFAULT_BATCH = 100
"""Sessions written at once by default."""


@dataclass
class CopyReport:
    """What :func:`copy` did, session by session."""

    copied: int = 0
    """Written to the destination."""
    skipped: int = 0
    """Already at the destination (kept as they were there)."""
    expired: int = 0
    """Expired between the read and the write: not written."""
    refused: int = 0
    """Refused by the destination (a value it cannot store faithfully): logged, not written."""

    @property
    def read(self) -> int:
        """Sessions read from the source."""
        return self.copied + self.skipped + self.expired + self.refused

    def as_json(self) -> dict[str, int]:
        """The counts as one JSON object."""
        return {**asdict(self), "read": self.read}


async def is_empty(store: Store) -> bool:
    """Whether ``store`` holds no live session (through ``ids``, else ``length``)."""
    if supports(store, "ids"):
        async for _sid in store.ids():
            return False
        return True
    require(store, "length")
    return await store.length() == 0


async def copy(
    source: Store, destination: Store, *, batch: int = DEFAULT_BATCH, progress: Progress | None = None
) -> CopyReport:
    """Copy every live session of ``source`` (needs ``items``) into ``destination``, ``batch``
    writes at a time, never overwriting a session already there; see the module documentation.
    """
    if batch < 1:
        raise ValueError(f"batch must be at least 1, not {batch!r}")
    require(source, "items")
    report = CopyReport()
    write = _create if supports(destination, "create") else _create_by_reading
    pending: list[tuple[str, SessionData]] = []

    async def flush() -> None:
        outcomes = await asyncio.gather(*(write(destination, sid, session) for sid, session in pending))
        for outcome in outcomes:
            setattr(report, outcome, getattr(report, outcome) + 1)
        if progress is not None:
            progress.advance(len(pending))
        pending.clear()

    async for sid, session in source.items():
        pending.append((sid, session))
        if len(pending) >= batch:
            await flush()
    if pending:
        await flush()
    return report


async def _create(destination: Store, sid: str, session: SessionData) -> str:
    try:
        version = await destination.create(sid, session)
    except SerializationError as exc:
        return _refused(destination, sid, exc)
    if version is None:
        return "skipped"
    return "expired" if version == NO_VERSION else "copied"


async def _create_by_reading(destination: Store, sid: str, session: SessionData) -> str:
    try:
        present = await destination.get(sid) is not None
    except SessionDecodeError:
        present = True  # a corrupt record counts as present, as create would have it
    if present:
        return "skipped"
    try:
        await destination.set(sid, session)
    except SerializationError as exc:
        return _refused(destination, sid, exc)
    return "copied"


def _refused(destination: Store, sid: str, error: SerializationError) -> str:
    """Log a session the destination cannot store (one WARNING naming the sid, not the data)."""
    logger.warning("copy: %r refused session %r: %s", destination, sid, error)
    return "refused"
