"""The background task that deletes expired sessions every ``interval`` seconds.

SurrealDB has no record TTL, so expired records stay until something deletes them. Reads
never return them; the sweep only reclaims their space. It is safe to run in several
application instances at once: each sweep is one idempotent ``DELETE`` statement.
"""

from __future__ import annotations

import asyncio
import contextlib
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
        """Whether the background task is alive (on a loop that has not been closed)."""
        task = self._task
        return task is not None and not task.done() and not task.get_loop().is_closed()

    def start(self) -> None:
        """Start the task on the running event loop (a no-op when it already runs on a live loop).

        The task belongs to the loop that started it; once that loop has ended, the next
        call to ``start()`` (the store's next call, from whichever loop) starts a new one.
        """
        if not self.running:
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name="connectstore-surrealdb-sweep"
            )

    async def stop(self) -> None:
        """Cancel the task and wait until it has ended (on another loop: ask that loop to cancel it)."""
        task, self._task = self._task, None
        if task is None or task.done():
            return
        loop = task.get_loop()
        if loop is not asyncio.get_running_loop():
            with contextlib.suppress(RuntimeError):  # a closed loop never runs it again
                loop.call_soon_threadsafe(task.cancel)
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
