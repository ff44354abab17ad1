"""The background task that deletes expired sessions every ``cleanup_interval`` seconds.

It only schedules: the deleting itself runs on the store's SQLite thread, in small
batches, so the event loop never waits on it and other writers get the lock between
batches. An error is logged and the sweep is tried again at the next interval; the
task ends only when it is cancelled (``SQLiteStore.close()`` does that).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

__all__ = ["sweep_forever"]

logger = logging.getLogger("connectstore_sqlite")


async def sweep_forever(purge: Callable[[], Awaitable[int]], interval: float, *, name: str) -> None:
    """Call ``purge()`` now and then every ``interval`` seconds until cancelled.

    ``purge`` returns how many rows it deleted; ``name`` identifies the store in logs.
    """
    while True:
        try:
            deleted = await purge()
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.warning(
                "cleanup of expired sessions in %s failed; retrying in %ss", name, interval, exc_info=True
            )
        else:
            if deleted:
                logger.debug("cleanup deleted %d expired sessions from %s", deleted, name)
        await asyncio.sleep(interval)
