"""One write at a time per session id, within a process, whichever event loop writes.

SurrealDB's in-memory and SurrealKV storage (what ``mem://`` and ``surrealkv://`` embed,
and what a server started with ``memory`` or ``surrealkv`` runs) can commit two
transactions that wrote the same record at the same moment, the second undoing the first
(measured on the SurrealDB core 2.3 the SDK embeds; upstream reports: surrealkv#376,
where the first-committer-wins check races with the commit, and surrealdb#7303). The
conformance suite's touch/set race saw a ``set`` undone by a concurrent ``touch`` (1 of
200), and of ten concurrent ``UPDATE ... WHERE`` statements guarded by one condition, two
or three often all "succeed". The store therefore
sends its own writes to one sid one after another, from every event loop of the process
(the embedded engine is one for all of them): that keeps its conditional writes atomic
against each other. Writes to different sids still run concurrently, and nothing is held
between calls: a queue exists only while a write to its sid is pending.

A write that finds no other pending on its sid goes at once: no lock object, no waiting,
no extra turn of the event loop (one short thread lock guards the table). Later ones
wait in arrival order and each hands the turn to the next when it is done, across loops
through ``call_soon_threadsafe``. A write whose loop was closed without finishing it (a
bare ``loop.close()``, where ``asyncio.run()`` would have cancelled it) gives up its
place: a waiter of a closed loop is skipped, and the turn of a write whose loop has
closed is handed on by the next write that comes for that sid.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from types import TracebackType

__all__ = ["OneWriterPerSid"]


class _Waiter:
    """A write waiting for its turn: ``granted`` (under the lock) once the turn is its own."""

    __slots__ = ("abandoned", "future", "granted", "turn")

    def __init__(self, turn: _Turn, future: asyncio.Future[None]) -> None:
        self.turn = turn
        self.future = future
        self.granted = False
        self.abandoned = False


class _Sid:
    """The writes of one sid: the one whose turn it is (and its loop), those waiting after it."""

    __slots__ = ("holder", "loop", "queue")

    def __init__(self, holder: _Turn, loop: asyncio.AbstractEventLoop) -> None:
        self.holder = holder
        self.loop = loop
        self.queue: deque[_Waiter] = deque()


class OneWriterPerSid:
    """Hands out, per sid, turns to write: ``async with writers.turn(sid): ...``."""

    __slots__ = ("_guard", "_waiting")

    def __init__(self) -> None:
        self._waiting: dict[str, _Sid] = {}  # a sid is present while a write to it runs
        self._guard = threading.Lock()

    def turn(self, sid: str) -> _Turn:
        """Wait for the writes to ``sid`` started before this one, then write."""
        return _Turn(self, sid)

    def _pass_on(self, sid: str, turn: _Turn) -> None:
        """Give ``sid``'s turn, if ``turn`` still has it, to the next write still waiting, or
        forget the sid when none is. (A write whose loop closed lost its turn to the next
        write that came; if its coroutine is finalized later, it has nothing to give.)
        """
        with self._guard:
            state = self._waiting.get(sid)
            if state is not None and state.holder is turn:
                self._hand_on(sid, state)

    def _hand_on(self, sid: str, state: _Sid) -> None:
        """Give ``sid``'s turn to the next write still waiting (the lock held)."""
        try:
            here: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:  # a coroutine finalized outside its loop
            here = None
        while state.queue:
            waiter = state.queue.popleft()
            if waiter.abandoned:
                continue
            loop = waiter.future.get_loop()
            if loop is here:
                _wake(waiter.future)
            else:
                try:
                    loop.call_soon_threadsafe(_wake, waiter.future)
                except RuntimeError:  # its loop is closed: nobody is left to take the turn
                    continue
            waiter.granted = True
            state.holder, state.loop = waiter.turn, loop
            return
        del self._waiting[sid]


class _Turn:
    """One write's turn on its sid (an async context manager)."""

    __slots__ = ("_sid", "_writers")

    def __init__(self, writers: OneWriterPerSid, sid: str) -> None:
        self._writers = writers
        self._sid = sid

    async def __aenter__(self) -> None:
        writers, sid = self._writers, self._sid
        loop = asyncio.get_running_loop()
        with writers._guard:
            state = writers._waiting.get(sid)
            if state is not None and state.loop.is_closed():
                writers._hand_on(sid, state)  # its loop closed mid-write: that turn is over
                state = writers._waiting.get(sid)
            if state is None:  # nobody writes this sid: go now
                writers._waiting[sid] = _Sid(self, loop)
                return
            waiter = _Waiter(self, loop.create_future())
            state.queue.append(waiter)
        try:
            await waiter.future
        except asyncio.CancelledError:
            with writers._guard:
                granted = waiter.granted
                waiter.abandoned = not granted
            if granted:
                writers._pass_on(sid, self)  # the turn came just as we were cancelled: hand it on
            raise

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._writers._pass_on(self._sid, self)


def _wake(future: asyncio.Future[None]) -> None:
    """Tell a waiting write that its turn has come (unless it was cancelled meanwhile)."""
    if not future.done():
        future.set_result(None)
