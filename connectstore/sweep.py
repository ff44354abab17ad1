"""The background sweep: deleting expired sessions now and then, for backends that keep them.

Redis expires keys by itself; a SQL table or a SurrealDB table keeps an expired row until
something deletes it. Reads never return such rows (every store filters on the deadline),
so a sweep only reclaims space, and several application instances may sweep the same
backend at once. A store gives :class:`Sweep` its own ``prune`` coroutine (one idempotent
delete, returning how many sessions it removed) and calls :meth:`Sweep.ensure_started`
from its methods; its ``close()`` awaits :meth:`Sweep.stop`.

Every store names the knob the same way: ``sweep_interval``, in seconds, ``None`` for no
background sweep (see :func:`check_sweep_interval`), and offers the manual ``sweep()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
from collections.abc import Awaitable, Callable

__all__ = ["Sweep", "check_sweep_interval"]

logger = logging.getLogger("connectstore")


def check_sweep_interval(value: object, *, name: str = "sweep_interval") -> float | None:
    """``value`` as a sweep interval: positive finite seconds, or None for "no background sweep".

    Raises ``TypeError`` for a value that is not a number and ``ValueError`` for one that is
    not above zero, naming the option ``name``.
    """
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number of seconds or None, not {type(value).__name__}")
    if not (value > 0 and math.isfinite(value)):
        raise ValueError(f"{name} must be a positive number of seconds or None, not {value!r}")
    return float(value)


class Sweep:
    """Runs ``prune()`` every ``interval`` seconds in a background task, until stopped.

    * ``interval``: seconds between two sweeps; each wait is drawn within ``±jitter`` of it
      (a fraction, 0.1 by default), so instances started together do not sweep together.
      ``None``: :meth:`ensure_started` does nothing.
    * ``name``: how logs name the store (its repr; never a credential).
    * ``immediately``: sweep as soon as the task starts, instead of after the first wait.

    The task lives on the event loop of the store call that started it; once that loop
    has ended, the next :meth:`ensure_started` (from whichever loop) starts a new one. An
    error of ``prune`` is logged and tried again at the next interval. The task never
    keeps a process alive: it is an ordinary task of a loop that the application runs.
    """

    def __init__(
        self,
        prune: Callable[[], Awaitable[int]],
        interval: float | None,
        *,
        name: str,
        immediately: bool = False,
        jitter: float = 0.1,
    ) -> None:
        self.interval = check_sweep_interval(interval)
        if not 0 <= jitter < 1:
            raise ValueError(f"jitter must be a fraction from 0 to below 1, not {jitter!r}")
        self._prune = prune
        self._name = name
        self._immediately = immediately
        self._jitter = jitter
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        """Whether the background task is alive (on a loop that has not been closed)."""
        task = self._task
        return task is not None and not task.done() and not task.get_loop().is_closed()

    def ensure_started(self) -> None:
        """Start the task on the running loop unless it runs already (or the interval is None).

        Cheap enough to call at the start of every store method.
        """
        if self.interval is not None and not self.running:
            self._task = asyncio.get_running_loop().create_task(
                self._run(self.interval), name="connectstore-sweep"
            )

    async def stop(self) -> None:
        """Cancel the task and wait for its end (on another loop: ask that loop to cancel it)."""
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

    def _wait(self, interval: float) -> float:
        return interval * random.uniform(1 - self._jitter, 1 + self._jitter)

    async def _run(self, interval: float) -> None:
        if not self._immediately:
            await asyncio.sleep(self._wait(interval))
        while True:
            try:
                removed = await self._prune()
            except Exception:  # logged, and tried again at the next tick
                logger.warning(
                    "%s: sweeping expired sessions failed; retrying in about %ss",
                    self._name,
                    interval,
                    exc_info=True,
                )
            else:
                if removed:
                    logger.debug("%s: swept %d expired sessions", self._name, removed)
            await asyncio.sleep(self._wait(interval))
