"""The background task that deletes expired sessions every ``interval`` seconds.

SurrealDB has no record TTL, so expired records stay until something deletes them. Reads
never return them; the sweep only reclaims their space. It is safe to run in several
application instances at once: each sweep is one idempotent ``DELETE`` statement.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

__all__ = ["Sweeper"]

logger = logging.getLogger("connectstore_surrealdb")


class Sweeper:
    """Runs ``sweep()`` every ``interval`` seconds until stopped; an error only costs one tick."""

    def __init__(self, sweep: Callable[[], Awaitable[int]], interval: float) -> None:
        if not interval > 0:
            raise ValueError(f"sweep_interval must be a positive number of seconds, not {interval!r}")
        self._sweep = sweep
        self.interval = interval
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        """Whether the background task is alive."""
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        """Start the task on the running event loop (a no-op when it already runs)."""
        if not self.running:
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name="connectstore-surrealdb-sweep"
            )

    async def stop(self) -> None:
        """Cancel the task and wait until it has ended."""
        task, self._task = self._task, None
        if task is None or task.done():
            return
        task.cancel()
        await asyncio.wait({task})  # unlike ``await task``, never mistakes its end for our cancellation

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                removed = await self._sweep()
            except Exception:  # logged, and tried again at the next tick
                logger.exception("sweeping expired SurrealDB sessions failed; retrying in %ss", self.interval)
            else:
                if removed:
                    logger.debug("swept %d expired SurrealDB sessions", removed)
