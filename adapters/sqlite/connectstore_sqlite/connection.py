"""The store's connection as its methods use it: opened on first use, from any event loop.

:class:`Connection` holds one :class:`~connectstore_sqlite.database.Database` (a sqlite3
connection on its worker thread) and the :class:`~connectstore_sqlite.loop_state.LoopState`
of the event loop calling it. It opens the database on the first call, gives it up when
that loop ends (so its thread never outlives the loop) or on :meth:`Connection.close`, and
opens it again on the next call, from whichever loop. It runs the store's statements:
a quick read on the loop's thread through the reader connection when it can (else on
the worker), other reads straight away on the worker, writes queued on the worker so
that a write never lands after its caller gave up (writes queued together share one
transaction), and turns sqlite3 errors into connectstore errors
(:mod:`connectstore_sqlite.failures`).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any, TypeVar

from connectstore import StoreError, StoreUnavailableError, Sweep
from connectstore_sqlite.database import MISSED, Database, DatabaseClosedError
from connectstore_sqlite.failures import translate
from connectstore_sqlite.loop_state import LoopState

__all__ = ["Connection", "Parameters"]

logger = logging.getLogger("connectstore_sqlite")
T = TypeVar("T")

Parameters = Mapping[str, Any]
"""The named parameters of one statement (``{"sid": ..., "now": ...}``)."""


class Connection:
    """One store's sqlite3 connection, opened when a call needs it and released when its loop ends.

    ``connect`` opens the sqlite3 connection (it runs on the worker thread; it must not
    refer to the store, or a forgotten store could never be collected), ``connect_reader``
    the reader connection that quick reads use on the loop's thread (None: no reader;
    see :func:`~connectstore_sqlite.connect.connect_reader`); ``path`` names the
    file in errors of opening it, ``name`` (``path:table``) in errors of statements and in
    the worker thread's name; ``shown`` is how messages name the store (its repr).
    ``sweep`` is the store's background sweep: started on the loop of each call (it does
    nothing when the store has no ``sweep_interval``) and stopped with the connection.
    """

    def __init__(
        self,
        connect: Callable[[], sqlite3.Connection],
        connect_reader: Callable[[], sqlite3.Connection | None] | None = None,
        *,
        path: str,
        name: str,
        shown: str,
        sweep: Sweep,
    ) -> None:
        self._connect = connect
        self._connect_reader = connect_reader
        self._path = path
        self._name = name
        self._shown = shown
        self._sweep = sweep
        self._db: Database | None = None
        self._loop_state: LoopState | None = None

    async def fetch(
        self, sql: str, parameters: Parameters, *, read: bool = False, quick: bool = False
    ) -> list[Any]:
        """Run one statement and return its rows (``read``: a read, which takes no write turn).

        ``quick``: a read of a few rows by key (``get``), which runs on the loop's thread
        through the reader connection when it can: it never waits for a lock there, and
        goes to the worker when it would. Never for a read that scans the table.
        sqlite3 errors become connectstore errors; :meth:`run` leaves them as they are.
        """
        if quick:
            db = self._ready()
            if db is not None:
                try:
                    rows = db.read_now(partial(_fetchall, sql, parameters))
                except sqlite3.Error as exc:
                    raise translate(exc, self._name) from exc
                if rows is not MISSED:
                    return rows  # type: ignore[return-value]
            read = True
        try:
            return await self._call(partial(_fetchall, sql, parameters), write=not read)
        except sqlite3.Error as exc:
            raise translate(exc, self._name) from exc

    async def run(self, sql: str, parameters: Parameters, *, read: bool = False) -> list[Any]:
        """:meth:`fetch`, with ``sqlite3.Error`` raised as it is (for a caller that tells them apart)."""
        return await self._call(partial(_fetchall, sql, parameters), write=not read)

    async def change(self, sql: str, parameters: Parameters) -> int:
        """Run one write (DELETE, UPDATE, INSERT); return how many rows it changed.

        Its own count, also when it shares a transaction with other writes: a conditional
        write (``set_if``, ``create``) tells its caller whether it wrote.
        """

        def change(conn: sqlite3.Connection) -> int:
            return conn.execute(sql, parameters).rowcount

        try:
            return await self._call(change, write=True)
        except sqlite3.Error as exc:
            raise translate(exc, self._name) from exc

    async def close(self) -> None:
        """Stop the sweep and this loop's task, close the connection (its thread ends). Idempotent.

        Works from any event loop, including after the loop that used the store was closed
        without running its tasks. The next call opens the connection again.
        """
        await self._sweep.stop()
        state, self._loop_state = self._loop_state, None
        db, self._db = self._db, None
        if state is not None:
            await state.stop_task()
        if db is not None:
            await db.close()

    async def _call(self, function: Callable[[sqlite3.Connection], T], *, write: bool) -> T:
        """Run ``function`` on the connection: a read straight away, a write via :meth:`_statement`.

        A read that outlives its caller changes nothing, and concurrent reads keep the
        worker thread busy back to back. A connection closed under a call (by ``close()``
        from another task) makes it fail with StoreUnavailableError; the next call reopens.
        """
        try:
            if write:
                return await self._statement(function)
            _, db = await self._database()
            return await db.call(function)
        except DatabaseClosedError as exc:
            raise StoreUnavailableError(
                f"{self._shown}: the connection closed before the call ran ({exc}); the next call reopens it"
            ) from exc

    async def _statement(self, run: Callable[[sqlite3.Connection], T]) -> T:
        """Run one write on the connection, so that it never lands after its caller gave up.

        Writes queue on the worker, in order, without waiting for each other: the worker
        runs those queued together in one transaction. A caller that times out (or is
        cancelled) before the worker claimed its write withdraws it: it never runs. Once
        claimed, a statement is in SQLite's hands and cannot be stopped; a caller cancelled
        then waits for it to end (at most the store's ``timeout``) before the cancellation
        goes on. So when a call fails, its write has either happened already or never
        will: it can never overwrite a write that was acknowledged after the failure
        (another process's, say).
        """
        db = self._ready()
        if db is None:
            _, db = await self._database()
        sent, job = db.write(run)
        try:
            return await sent
        except asyncio.CancelledError:
            await job.wait_claimed()
            raise

    def _ready(self) -> Database | None:
        """The open connection when nothing is left to do before using it on the running loop, else None.

        (:meth:`_database` without awaiting anything: the common case, made cheap.)
        """
        db = self._db
        state = self._loop_state
        if (
            db is None
            or db.inherited_by_fork
            or state is None
            or state.task is None
            or state.loop is not asyncio.get_running_loop()
        ):
            return None
        self._sweep.ensure_started()
        return db

    async def _state(self) -> LoopState:
        """The locks and task of the running event loop, made afresh when the loop changed."""
        loop = asyncio.get_running_loop()
        state = self._loop_state
        if state is not None and state.loop is loop:
            return state
        left_behind = state
        if state is not None:
            if state.is_running_elsewhere():
                raise StoreError(
                    f"{self._shown} is in use by another event loop, still running in another thread; "
                    "a SQLiteStore serves one event loop at a time: give each thread's loop its own "
                    "store, or close this one first"
                )
            logger.debug("%s moves to a new event loop (the one it ran on has stopped)", self._shown)
            state.abandon()
        self._loop_state = state = LoopState(loop)
        if left_behind is not None:
            await self._sweep.stop()  # its task on the loop left behind; started again here
        return state

    async def _database(self) -> tuple[LoopState, Database]:
        """The running loop's state and the open connection (opened on first use)."""
        while True:
            state = await self._state()
            db = self._db
            if db is not None and db.inherited_by_fork:  # this is a forked child: open anew
                logger.debug(
                    "%s was open when the process forked; the child opens its own connection", self._shown
                )
                self._db = db = None
            if db is not None and state.task is not None:
                self._sweep.ensure_started()
                return state, db
            async with state.open_lock:
                if self._loop_state is not state:
                    continue  # closed (or moved to another loop) meanwhile: start over
                if self._db is None:
                    db = await self._open()
                    if self._loop_state is not state:  # close() ran while it opened
                        await db.close()
                        continue
                    self._db = db
                if state.task is None:
                    state.task = state.loop.create_task(
                        self._watch(state), name=f"connectstore-sqlite {self._name}"
                    )
                self._sweep.ensure_started()
                return state, self._db

    async def _open(self) -> Database:
        """Connect on a new worker thread; sqlite3 errors become connectstore errors."""
        db = Database(self._name)
        try:
            await db.open(self._connect, self._connect_reader)
        except BaseException as exc:
            await db.close()
            if isinstance(exc, sqlite3.Error):
                raise translate(exc, self._path) from exc
            raise
        return db

    async def _watch(self, state: LoopState) -> None:
        """The connection's task on one loop: it waits, to notice that the loop is ending.

        Cancelled by anything but :meth:`close` (``asyncio.run`` ending, a test client's
        loop shutting down), it lets go of the connection, so that its thread does not
        outlive the loop; the next call, from any loop, opens it again. (Destroyed unrun
        with its closed loop, it lets go without awaiting anything.)
        """
        try:
            await asyncio.Event().wait()
        finally:
            if self._loop_state is state:
                self._loop_state = None
                db, self._db = self._db, None
                logger.debug(
                    "%s: its event loop is ending; the connection is released until next use", self._shown
                )
                if db is not None and state.loop.is_closed():
                    db.close_nowait()
                elif db is not None:
                    await db.close()


def _fetchall(sql: str, parameters: Parameters, conn: sqlite3.Connection) -> list[Any]:
    """Every row of one statement (read to the end: no read transaction stays open)."""
    return conn.execute(sql, parameters).fetchall()
