"""One sqlite3 connection on its own worker thread, awaitable from any event loop.

Every statement runs on the connection's worker thread, in the order it was submitted,
so the event loop never waits on SQLite. Nothing here belongs to an event loop: each call
is answered on the loop that made it, so the connection outlives any one loop, and an
answer for a loop that was closed meanwhile is dropped quietly.

The worker thread can never keep the process alive: it is a daemon thread (at exit,
a statement in progress is simply not acknowledged; SQLite rolls back what it did not
commit, and every statement is its own transaction), and a :class:`Database` that is
garbage collected without being closed lets its thread end. This is why the store does
not use aiosqlite, whose non-daemon worker waits forever when the loop that used it was
closed without running its tasks.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import threading
import weakref
from collections.abc import Callable
from queue import SimpleQueue
from typing import Any, TypeVar

__all__ = ["Database", "DatabaseClosedError"]

T = TypeVar("T")

# (the loop to answer on, the future to answer, the work): None for either means "no answer"
_Job = tuple["asyncio.AbstractEventLoop | None", "asyncio.Future[Any] | None", Callable[[], Any]]


class DatabaseClosedError(Exception):
    """The connection was closed before the call could run."""


class Database:
    """A sqlite3 connection that only its worker thread touches.

    :meth:`open` starts the thread and connects (``connect`` runs there), :meth:`call`
    runs a function of the connection there and answers with its result, :meth:`close`
    closes the connection and ends the thread. ``name`` names the thread (for debugging).
    """

    def __init__(self, name: str) -> None:
        self._name = name
        self._jobs: SimpleQueue[_Job | None] = SimpleQueue()
        self._conn: sqlite3.Connection | None = None
        self._thread: threading.Thread | None = None
        self._closed = False
        self.inherited_by_fork = False
        """True in a child process forked while this connection was open: unusable there."""
        weakref.finalize(self, self._jobs.put, None)  # collected unclosed: the thread ends
        _OPEN.add(self)

    async def open(self, connect: Callable[[], sqlite3.Connection]) -> None:
        """Start the worker thread and run ``connect()`` there; its connection serves every call."""

        def opened() -> None:
            self._conn = connect()

        await self._submit(opened)

    def call(self, function: Callable[[sqlite3.Connection], T]) -> asyncio.Future[T]:
        """``function(connection)`` on the worker thread, after every call submitted before it.

        Returns a future of the running loop (a future, not a coroutine: one that a closed
        loop never awaits leaves no warning behind). A call whose future was cancelled
        before it started never starts; one that has started runs to its end (SQLite
        statements cannot be stopped half way).
        """

        def run() -> T:
            conn = self._conn
            if conn is None:
                raise DatabaseClosedError("the connection is closed")
            return function(conn)

        return self._submit(run)

    async def close(self) -> None:
        """Close the connection after the calls already submitted; the thread then ends.

        Idempotent; calls submitted afterwards raise :class:`DatabaseClosedError`.
        """
        if self._closed:
            return
        closing = self._submit(self._close_connection)
        self._closed = True
        self._jobs.put(None)
        with contextlib.suppress(DatabaseClosedError):
            await asyncio.shield(closing)

    def close_nowait(self) -> None:
        """:meth:`close` for when nothing can be awaited (the event loop is gone): queue it and return."""
        if self._closed:
            return
        self._closed = True
        self._jobs.put((None, None, self._close_connection))
        self._jobs.put(None)

    def _close_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def _submit(self, function: Callable[[], T]) -> asyncio.Future[T]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        if self._closed or self.inherited_by_fork:
            future.set_exception(DatabaseClosedError("the connection is closed"))
            return future
        if self._thread is None:
            self._thread = threading.Thread(
                target=_work, args=(self._jobs,), name=f"connectstore-sqlite {self._name}", daemon=True
            )
            self._thread.start()
        self._jobs.put((loop, future, function))
        return future


_OPEN: weakref.WeakSet[Database] = weakref.WeakSet()
_INHERITED: list[sqlite3.Connection] = []  # never touched in the child, not even closed


def _after_fork_in_child() -> None:
    """A forked child has no worker threads, and SQLite connections must not cross a fork.

    Every connection of the parent is left alone (SQLite's advice) and its Database made
    unusable; the store opens its own connection in the child.
    """
    for database in list(_OPEN):
        database.inherited_by_fork = True
        database._closed = True
        if database._conn is not None:
            _INHERITED.append(database._conn)
            database._conn = None
    _OPEN.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _work(jobs: SimpleQueue[_Job | None]) -> None:
    """The worker thread: run jobs in order until ``None`` (holding none while it waits)."""
    while (job := jobs.get()) is not None:
        _run(*job)
        del job


def _run(
    loop: asyncio.AbstractEventLoop | None, future: asyncio.Future[Any] | None, function: Callable[[], Any]
) -> None:
    """Run one job and answer on its caller's loop (if it still waits)."""
    if future is not None and future.cancelled():
        return
    settle: Callable[[asyncio.Future[Any], Any], None]
    try:
        settle, outcome = _set_result, function()
    except BaseException as exc:
        settle, outcome = _set_exception, exc
    if loop is None or future is None:
        return
    with contextlib.suppress(RuntimeError):  # the loop was closed: nobody is waiting
        loop.call_soon_threadsafe(settle, future, outcome)


def _set_result(future: asyncio.Future[Any], value: Any) -> None:
    if not future.done():
        future.set_result(value)


def _set_exception(future: asyncio.Future[Any], error: BaseException) -> None:
    if not future.done():
        future.set_exception(error)
