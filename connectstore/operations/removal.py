"""Deleting sessions: ``remove`` by sid, ``revoke`` every session of a user, ``prune`` the
expired ones of a backend that keeps them.

``revoke`` scans the whole store through :meth:`~connectstore.Store.items` (time grows with
every session stored, memory with the user's sessions only): the per-user index the
stores will keep makes it cost only the user's sessions.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

from connectstore.errors import SessionDecodeError
from connectstore.operations.common import DEFAULT_USER_KEY, Progress, require, user_of, user_text
from connectstore.store import Store

__all__ = ["prune", "remove", "revoke"]


async def remove(store: Store, sids: Iterable[str]) -> int:
    """Destroy each of ``sids``; return how many of them held a session (or a corrupt record)."""
    existed = 0
    for sid in dict.fromkeys(sids):  # a sid named twice is removed (and counted) once
        try:
            found = await store.get(sid) is not None
        except SessionDecodeError:
            found = True  # a corrupt record is there, and destroy removes it
        await store.destroy(sid)
        existed += found
    return existed


async def revoke(
    store: Store,
    user: object,
    *,
    keep: Collection[str] = (),
    user_key: str = DEFAULT_USER_KEY,
    progress: Progress | None = None,
) -> list[str]:
    """Destroy every session of ``user`` (read at ``user_key``) except those in ``keep``;
    return the sids destroyed.

    A scan of every session (needs ``items``): the sids are gathered first and destroyed
    after the scan, so no store sees deletes under its running iterator.
    """
    require(store, "items")
    wanted = user_text(user)
    doomed: list[str] = []
    async for sid, session in store.items():
        if progress is not None:
            progress.advance()
        value = user_of(session, user_key)
        if value is not None and user_text(value) == wanted and sid not in keep:
            doomed.append(sid)
    for sid in doomed:
        await store.destroy(sid)
    return doomed


async def prune(store: Store) -> int | None:
    """Delete the expired sessions of a store that keeps them until swept (SQLite, SurrealDB:
    their ``sweep()``); return how many went, or None when the store has no ``sweep()``
    because its backend expires sessions by itself (Redis TTLs, MemoryStore on read).
    """
    sweep = getattr(store, "sweep", None)
    if not callable(sweep):
        return None
    removed = await sweep()
    return int(removed)
