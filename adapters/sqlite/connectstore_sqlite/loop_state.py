"""What a store keeps per event loop: its opening lock and its background task.

asyncio locks and tasks belong to the event loop they were made on, while the SQLite
connection (:class:`~connectstore_sqlite.database.Database`) serves any loop. So the
store keeps these in a :class:`LoopState` for the loop that is calling it, and makes a
new one when another loop calls it (a Starlette ``TestClient`` used without ``with``
runs each request on a new loop, as does ``asyncio.run()`` called twice).
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

__all__ = ["LoopState"]


@dataclass(eq=False)
class LoopState:
    """The store's asyncio objects on ``loop``.

    ``open_lock`` serialises opening the connection, ``task`` is the connection's task on
    the loop (noticing that the loop is ending; the background sweep is a task of its own).
    """

    loop: asyncio.AbstractEventLoop
    open_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    task: asyncio.Task[None] | None = None

    def is_running_elsewhere(self) -> bool:
        """Whether ``loop`` is running at this moment (in another thread: not the caller's loop)."""
        return not self.loop.is_closed() and self.loop.is_running()

    async def stop_task(self) -> None:
        """Stop the background task: cancel and await it on its own loop, else :meth:`abandon` it."""
        task, self.task = self.task, None
        if task is None:
            return
        if self.loop is not asyncio.get_running_loop():
            self._cancel_from_outside(task)
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    def abandon(self) -> None:
        """Give up this loop's task from another loop (the caller's loop is not ``loop``).

        A closed loop can never run its task again, so it is simply dropped; a loop that is
        open (stopped, or running in another thread) gets the cancellation to run when it can.
        """
        task, self.task = self.task, None
        if task is not None:
            self._cancel_from_outside(task)

    def _cancel_from_outside(self, task: asyncio.Task[None]) -> None:
        if self.loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # closed meanwhile
            self.loop.call_soon_threadsafe(task.cancel)
