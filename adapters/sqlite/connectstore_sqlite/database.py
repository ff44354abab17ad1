"""One sqlite3 connection on its own worker thread, awaitable from any event loop.

Every statement runs on the connection's worker thread, in the order it was submitted
(:mod:`connectstore_sqlite.worker`), so the event loop never waits on SQLite; the one
exception is a short read through a second, WAL-mode connection that never waits for a
lock (:meth:`Database.read_now`). Nothing here belongs to an event loop: each call is
answered on the loop that made it, so the connection outlives any one loop, and an
answer for a loop that was closed meanwhile is dropped quietly.

The worker thread can never keep the process alive: it is a daemon thread (at exit,
a statement in progress is simply not acknowledged; SQLite rolls back what it did not
commit, and every transaction is one statement or one batch of writes), and a :class:`Database` that is
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
from typing import Any, Final, TypeVar

from connectstore_sqlite.worker import Handle, Job, work

__all__ = ["MISSED", "Database", "DatabaseClosedError"]

T = TypeVar("T")

MISSED: Final = object()
"""What :meth:`Database.read_now` returns when the read must go to the worker instead."""

# SQLite result codes that send a read on the event loop thread to the worker.
_BUSY: Final = frozenset({5, 6})  # SQLITE_BUSY (recovery, a lock held elsewhere), SQLITE_LOCKED


class DatabaseClosedError(Exception):
    """The connection was closed before the call could run."""


class Database:
    """A sqlite3 connection that only its worker thread touches, and a reader for the event loop.

    :meth:`open` starts the thread and connects (``connect`` runs there), :meth:`call`
    runs a function of the connection there and answers with its result, :meth:`write`
    does so for a write (claimed by the worker before it runs, batched with the writes
    queued next to it), :meth:`read_now` runs a short read on the caller's thread through
    the reader connection, :meth:`close` closes both and ends the thread. ``name`` names
    the thread (for debugging).
    """

    def __init__(self, name: str) -> None:
        self._name = name
        self._jobs: SimpleQueue[Job | None] = SimpleQueue()
        self._handle = Handle()
        self._thread: threading.Thread | None = None
        self._closed = False
        self.inherited_by_fork = False
        """True in a child process forked while this connection was open: unusable there."""
        weakref.finalize(self, self._jobs.put, None)  # collected unclosed: the thread ends
        _OPEN.add(self)

    async def open(
        self,
        connect: Callable[[], sqlite3.Connection],
        connect_reader: Callable[[], sqlite3.Connection | None] | None = None,
    ) -> None:
        """Start the worker thread and run ``connect()`` there; its connection serves every call.

        ``connect_reader()`` (also run there, after it) opens the connection that
        :meth:`read_now` reads through, or returns None for none.
        """
        handle = self._handle

        def opened() -> None:
            handle.conn = connect()
            if connect_reader is not None:
                handle.reader = connect_reader()

        await self._submit(Job(None, None, opened))

    def call(self, function: Callable[[sqlite3.Connection], T]) -> asyncio.Future[T]:
        """``function(connection)`` on the worker thread, after every call submitted before it.

        Returns a future of the running loop (a future, not a coroutine: one that a closed
        loop never awaits leaves no warning behind). A call whose future was cancelled
        before it started never starts; one that has started runs to its end (SQLite
        statements cannot be stopped half way).
        """
        return self._submit(Job(None, None, self._on_connection(function)))

    def write(self, function: Callable[[sqlite3.Connection], T]) -> tuple[asyncio.Future[T], Job]:
        """:meth:`call` for one write statement, and its job, which the caller may withdraw.

        Writes queued back to back run in one transaction (see :mod:`connectstore_sqlite.worker`).
        """
        job = Job(None, None, self._on_connection(function), write=True)
        return self._submit(job), job

    def read_now(self, function: Callable[[sqlite3.Connection], T]) -> T | object:
        """``function(reader)`` right here, on the caller's thread, or :data:`MISSED`.

        Meant for a short read (one row by its key). The reader is a WAL connection with
        no busy timeout: it never waits for a lock. It misses when there is no reader
        (``":memory:"``, a file not in WAL mode), when the connection is closed, or when
        SQLite answers BUSY/LOCKED (a lock held elsewhere, the WAL index being rebuilt):
        the caller then sends the read to the worker, which waits as its ``timeout`` says.
        """
        reader = self._handle.reader
        if reader is None or self._closed:
            return MISSED
        try:
            return function(reader)
        except sqlite3.OperationalError as exc:
            code = getattr(exc, "sqlite_errorcode", None)
            if isinstance(code, int) and code & 0xFF in _BUSY:
                return MISSED
            if code is None and ("locked" in str(exc) or "busy" in str(exc)):
                return MISSED
            raise

    def _on_connection(self, function: Callable[[sqlite3.Connection], T]) -> Callable[[], T]:
        handle = self._handle

        def run() -> T:
            conn = handle.conn
            if conn is None:
                raise DatabaseClosedError("the connection is closed")
            return function(conn)

        return run

    async def close(self) -> None:
        """Close the connections after the calls already submitted; the thread then ends.

        Idempotent; calls submitted afterwards raise :class:`DatabaseClosedError`.
        """
        if self._closed:
            return
        closing = self._submit(Job(None, None, self._close_connection))
        self._closed = True
        self._jobs.put(None)
        with contextlib.suppress(DatabaseClosedError):
            await asyncio.shield(closing)

    def close_nowait(self) -> None:
        """:meth:`close` for when nothing can be awaited (the event loop is gone): queue it and return."""
        if self._closed:
            return
        self._closed = True
        self._jobs.put(Job(None, None, self._close_connection))
        self._jobs.put(None)

    def _close_connection(self) -> None:
        handle = self._handle
        reader, handle.reader = handle.reader, None
        conn, handle.conn = handle.conn, None
        if reader is not None:
            reader.close()
        if conn is not None:
            conn.close()

    def _submit(self, job: Job) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        if self._closed or self.inherited_by_fork:
            future.set_exception(DatabaseClosedError("the connection is closed"))
            job.withdraw()
            return future
        if self._thread is None:
            self._thread = threading.Thread(
                target=work,
                args=(self._jobs, self._handle),
                name=f"connectstore-sqlite {self._name}",
                daemon=True,
            )
            self._thread.start()
        job.loop, job.future = loop, future
        self._jobs.put(job)
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
        handle = database._handle
        for conn in (handle.conn, handle.reader):
            if conn is not None:
                _INHERITED.append(conn)
        handle.conn = handle.reader = None
    _OPEN.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
