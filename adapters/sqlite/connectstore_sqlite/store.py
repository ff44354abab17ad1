"""SQLiteStore: express-session sessions in a SQLite file that connect-sqlite3 can share.

One sqlite3 connection per store, on its own worker thread, in autocommit mode: every
operation is a single SQL statement, so each is atomic on its own, across coroutines and
across processes, without holding a transaction open. The file is switched to WAL mode
and every connection waits up to ``busy_timeout`` for the write lock, so several worker
processes (and a Node app) can write one file.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import os
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any, Final, TypeVar

from connectstore import (
    DEFAULT_TTL,
    JSONSerializer,
    Serializer,
    SessionData,
    SessionDecodeError,
    Store,
    StoreError,
    StoreUnavailableError,
    decode_session,
    format_expires,
    now_ms,
    parse_expires,
    session_expires,
)
from connectstore_sqlite.cleanup import sweep_forever
from connectstore_sqlite.connect import SQLFunction, connect
from connectstore_sqlite.database import Database, DatabaseClosedError
from connectstore_sqlite.failures import is_udf_failure, translate
from connectstore_sqlite.loop_state import LoopState
from connectstore_sqlite.schema import (
    COOKIE_EXPIRED_FUNCTION,
    DELETE_BATCH,
    PAGE_SIZE,
    REPLACE_COOKIE_FUNCTION,
    Statements,
    check_table_name,
)

__all__ = ["DEFAULT_BUSY_TIMEOUT", "DEFAULT_CLEANUP_INTERVAL", "SQLiteStore"]

logger = logging.getLogger("connectstore_sqlite")
T = TypeVar("T")

DEFAULT_CLEANUP_INTERVAL: Final = 900.0
"""Seconds between two sweeps of expired rows (15 minutes)."""

DEFAULT_BUSY_TIMEOUT: Final = 5.0
"""Seconds a statement waits for another connection's lock before the call fails."""

_SYNCHRONOUS_MODES: Final = frozenset({"OFF", "NORMAL", "FULL", "EXTRA"})
_MIN_ROWID: Final = -(2**63)

Parameters = Mapping[str, Any]


class SQLiteStore(Store):
    """Sessions in the connect-sqlite3 table of a SQLite file (or ``":memory:"``).

    ``path``: the database file (created if missing; its folder must exist) or
    ``":memory:"`` for a private in-memory database. ``table``: the sessions table, an SQL
    identifier; created with connect-sqlite3's layout if missing, used as it is if it
    exists. ``ttl``: lifetime in seconds of a session whose cookie has no expiry.
    ``cleanup_interval``: seconds between sweeps of expired rows (None: no background
    sweep; call :meth:`purge_expired` yourself). ``busy_timeout``: seconds a call waits
    for another process's lock before failing with ``StoreUnavailableError``.
    ``synchronous``: SQLite's ``PRAGMA synchronous`` (``NORMAL`` is durable across
    application crashes in WAL mode; ``FULL`` also across power loss). ``serializer``:
    how sessions become text (default: express-session's JSON). ``clock``: the current
    time in epoch milliseconds (tests may pass a fake one).

    A session is live while its row's ``expired`` column says so and its own
    ``cookie.expires`` is not past. Nothing is opened until the first call. The store
    works on whichever event loop calls it (one loop at a time); when a loop ends, the
    store lets go of the connection and opens it again on the next call. :meth:`close`
    (or ``async with``) stops the cleanup task and the connection's thread for good.
    """

    capabilities = frozenset({"touch", "all", "clear", "length", "ids", "items"})

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        table: str = "sessions",
        ttl: float = DEFAULT_TTL,
        cleanup_interval: float | None = DEFAULT_CLEANUP_INTERVAL,
        busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
        synchronous: str = "NORMAL",
        serializer: Serializer | None = None,
        clock: Callable[[], int] = now_ms,
    ) -> None:
        path = os.fspath(path)
        if not isinstance(path, str):
            raise TypeError(f"path must be a str or os.PathLike[str], not {type(path).__name__}")
        if not path or "\x00" in path:
            raise ValueError(f"path must name a database file or be ':memory:', not {path!r}")
        self.path = path
        self.table = check_table_name(table)
        self.ttl = _seconds("ttl", ttl)
        if not self.ttl > 0:
            raise ValueError(f"ttl must be a positive number of seconds, not {ttl!r}")
        if cleanup_interval is not None and not _seconds("cleanup_interval", cleanup_interval) > 0:
            raise ValueError(f"cleanup_interval must be positive seconds or None, not {cleanup_interval!r}")
        if not _seconds("busy_timeout", busy_timeout) >= 0:
            raise ValueError(f"busy_timeout must be >= 0 seconds, not {busy_timeout!r}")
        if not isinstance(synchronous, str):
            raise TypeError(f"synchronous must be a str, not {type(synchronous).__name__}")
        if synchronous.upper() not in _SYNCHRONOUS_MODES:
            raise ValueError(f"synchronous must be one of {sorted(_SYNCHRONOUS_MODES)}, not {synchronous!r}")
        self.cleanup_interval = cleanup_interval
        self.busy_timeout = busy_timeout
        self.synchronous = synchronous.upper()
        self.serializer: Serializer = serializer or JSONSerializer()
        self._clock = clock
        self._sql = Statements(self.table)
        self._db: Database | None = None
        self._loop_state: LoopState | None = None
        self._closed = False

    def __repr__(self) -> str:
        return f"SQLiteStore({self.path!r}, table={self.table!r})"

    # -- the contract ------------------------------------------------------------------

    async def get(self, sid: str) -> SessionData | None:
        """The live session under ``sid``, or None (an expired row is never returned)."""
        rows = await self._fetch(self._sql.get, {"sid": _check_sid(sid), **self._now()}, read=True)
        if not rows:
            return None
        return decode_session(self.serializer, sid, rows[0][0])

    async def set(self, sid: str, session: SessionData) -> None:
        """Insert or replace ``sid``; a cookie expiry already past deletes it instead."""
        _check_sid(sid)
        now = self._clock()
        deadline = self._deadline(session, now)
        text = self.serializer.dumps(session)
        if deadline <= now:
            await self._fetch(self._sql.delete, {"sid": sid})
        else:
            await self._fetch(self._sql.upsert, {"sid": sid, "expired": deadline - 1, "sess": text})

    async def destroy(self, sid: str) -> None:
        """Delete ``sid``; a missing sid is fine."""
        await self._fetch(self._sql.delete, {"sid": _check_sid(sid)})

    async def touch(self, sid: str, session: SessionData) -> None:
        """Give a live session ``session``'s cookie and the expiry it implies.

        One UPDATE statement rewrites ``expired`` and the stored cookie (so the JSON
        keeps telling the truth about the expiry) and leaves every other key of the
        stored session as it is: a concurrent ``set`` is never lost. A missing or
        expired sid is left alone; a new expiry already past deletes the session.
        """
        _check_sid(sid)
        now = self._clock()
        deadline = self._deadline(session, now)
        cookie_text = self.serializer.dumps({"cookie": session.get("cookie")})
        if deadline <= now:
            await self._fetch(self._sql.expire_now, {"sid": sid, "now": now})
            return
        parameters = {"expired": deadline - 1, "cookie": cookie_text, "sid": sid, **self._now(now)}
        try:
            await self._fetch(self._sql.touch, parameters, raw_errors=True)
        except sqlite3.Error as exc:
            if is_udf_failure(exc):
                raise SessionDecodeError("stored data cannot be decoded", sid=sid) from exc
            raise translate(exc, self._name) from exc

    async def all(self) -> dict[str, SessionData]:
        """Every live session keyed by sid."""
        return {sid: session async for sid, session in self.items()}

    async def clear(self) -> None:
        """Delete every row of this store's table (and nothing else in the file)."""
        await self._delete_in_batches(self._sql.delete_any_batch, lambda: {"limit": DELETE_BATCH})

    async def length(self) -> int:
        """The number of live sessions (expired rows waiting for cleanup are not counted)."""
        rows = await self._fetch(self._sql.count_live, self._now(), read=True)
        return int(rows[0][0])

    async def ids(self) -> AsyncIterator[str]:
        """Ids of live sessions, read :data:`PAGE_SIZE` rows at a time."""
        after = _MIN_ROWID
        while True:
            page = {"after": after, "limit": PAGE_SIZE, **self._now()}
            rows = await self._fetch(self._sql.page_ids, page, read=True)
            for _, sid in rows:
                yield str(sid)
            if len(rows) < PAGE_SIZE:
                return
            after = rows[-1][0]

    async def items(self) -> AsyncIterator[tuple[str, SessionData]]:
        """``(sid, session)`` of live sessions, read :data:`PAGE_SIZE` rows at a time.

        A row whose data cannot be decoded raises :class:`SessionDecodeError` naming it.
        """
        after = _MIN_ROWID
        while True:
            page = {"after": after, "limit": PAGE_SIZE, **self._now()}
            rows = await self._fetch(self._sql.page_items, page, read=True)
            for _, sid, text in rows:
                yield str(sid), decode_session(self.serializer, str(sid), text)
            if len(rows) < PAGE_SIZE:
                return
            after = rows[-1][0]

    async def close(self) -> None:
        """Stop the background task and close the connection (its thread ends). Idempotent.

        Works from any event loop, including after the loop that used the store was
        closed without running its tasks.
        """
        if self._closed:
            return
        self._closed = True
        state, self._loop_state = self._loop_state, None
        db, self._db = self._db, None
        if state is not None:
            await state.stop_task()
        if db is not None:
            await db.close()

    # -- beyond the contract -----------------------------------------------------------

    async def purge_expired(self) -> int:
        """Delete expired rows now, in batches; return how many were deleted.

        First the rows whose ``expired`` column is past (through its index), then the rows
        whose column says live but whose own ``cookie.expires`` is past (read in pages
        without the write lock, each page deleted after checking it again). The background
        cleanup calls this every ``cleanup_interval`` seconds.
        """
        deleted = await self._delete_in_batches(
            self._sql.delete_expired_batch,
            lambda: {"now": self._clock(), "limit": DELETE_BATCH},
            yield_lock=True,
        )
        return deleted + await self._purge_expired_cookies()

    # -- internals ---------------------------------------------------------------------

    @property
    def _name(self) -> str:
        return f"{self.path}:{self.table}"

    def _now(self, now: int | None = None) -> dict[str, Any]:
        """The ``:now`` and ``:now_iso`` parameters of the statements that test liveness."""
        now = self._clock() if now is None else now
        return {"now": now, "now_iso": format_expires(now)}

    def _deadline(self, session: SessionData, now: int) -> int:
        """The first millisecond at which ``session`` is expired."""
        expires = session_expires(session)
        if expires is None:
            return now + round(self.ttl * 1000)
        return expires

    def _state_for_running_loop(self) -> LoopState:
        """The locks and task of the running event loop, made afresh when the loop changed."""
        if self._closed:
            raise StoreError(f"{self!r} is closed")
        loop = asyncio.get_running_loop()
        state = self._loop_state
        if state is not None and state.loop is loop:
            return state
        if state is not None:
            if state.is_running_elsewhere():
                raise StoreError(
                    f"{self!r} is in use by another event loop, still running in another thread; "
                    "a SQLiteStore serves one event loop at a time: give each thread's loop its own "
                    "store, or close this one first"
                )
            logger.debug("%r moves to a new event loop (the one it ran on has stopped)", self)
            state.abandon()
        self._loop_state = state = LoopState(loop)
        return state

    async def _database(self) -> tuple[LoopState, Database]:
        """The running loop's state and the open connection (opened on first use)."""
        state = self._state_for_running_loop()
        db = self._db
        if db is not None and db.inherited_by_fork:  # this is a forked child: open anew
            logger.debug("%r was open when the process forked; the child opens its own connection", self)
            self._db = db = None
        if db is not None and state.task is not None:
            return state, db
        async with state.open_lock:
            if self._closed:
                raise StoreError(f"{self!r} is closed")
            if self._db is None:
                db = await self._open()
                if self._closed:
                    await db.close()
                    raise StoreError(f"{self!r} is closed")
                self._db = db
            if state.task is None and self._loop_state is state:
                state.task = state.loop.create_task(
                    self._run_in_background(state), name=f"connectstore-sqlite {self._name}"
                )
            return state, self._db

    async def _run_in_background(self, state: LoopState) -> None:
        """The store's task on one loop: sweeps expired rows every ``cleanup_interval`` (if set).

        Cancelled by anything but :meth:`close` (``asyncio.run`` ending, a test client's
        loop shutting down), it lets go of the connection, so that its thread does not
        outlive the loop; the next call, from any loop, opens it again. (Destroyed unrun
        with its closed loop, it lets go without awaiting anything.)
        """
        try:
            if self.cleanup_interval is None:
                await asyncio.Event().wait()
            else:
                await sweep_forever(self.purge_expired, self.cleanup_interval, name=self._name)
        finally:
            if self._loop_state is state and not self._closed:
                self._loop_state = None
                db, self._db = self._db, None
                logger.debug("%r: its event loop is ending; the connection is released until next use", self)
                if db is not None and state.loop.is_closed():
                    db.close_nowait()
                elif db is not None:
                    await db.close()

    async def _open(self) -> Database:
        """Connect on a new worker thread; sqlite3 errors become connectstore errors."""
        db = Database(self._name)
        # The connection holds its SQL functions where the garbage collector cannot see:
        # none of them may refer to the store, or a forgotten store could never be collected.
        functions: dict[str, SQLFunction] = {
            REPLACE_COOKIE_FUNCTION: (2, _cookie_replacer(self.serializer)),
            COOKIE_EXPIRED_FUNCTION: (3, _cookie_expired),
        }
        try:
            await db.open(
                lambda: connect(
                    self.path,
                    self._sql,
                    busy_timeout=self.busy_timeout,
                    synchronous=self.synchronous,
                    functions=functions,
                )
            )
        except BaseException as exc:
            await db.close()
            if isinstance(exc, sqlite3.Error):
                raise translate(exc, self.path) from exc
            raise
        return db

    async def _call(self, function: Callable[[sqlite3.Connection], T], *, write: bool) -> T:
        """Run ``function`` on the connection: a read straight away, a write via :meth:`_statement`.

        A read that outlives its caller changes nothing, and concurrent reads keep the
        worker thread busy back to back. A closed connection becomes a StoreError.
        """
        try:
            if write:
                return await self._statement(function)
            _, db = await self._database()
            return await db.call(function)
        except DatabaseClosedError as exc:
            if self._closed:
                raise StoreError(f"{self!r} is closed") from exc
            raise StoreUnavailableError(
                f"{self!r}: the connection closed before the call ran ({exc}); the next call reopens it"
            ) from exc

    async def _statement(self, run: Callable[[sqlite3.Connection], T]) -> T:
        """Run one write on the connection, so that it never lands after its caller gave up.

        Writes queue on an asyncio lock, where a caller that times out (or is cancelled)
        leaves before its statement was sent. Once sent, a statement is in SQLite's hands
        and cannot be stopped; a caller cancelled then waits for it to end (at most
        ``busy_timeout``) before the cancellation goes on. So when a call fails, its write
        has either happened already or never will: it can never overwrite a write that was
        acknowledged after the failure (another process's, say).
        """
        state, db = await self._database()
        async with state.write_lock:
            sent = db.call(run)
            try:
                return await asyncio.shield(sent)
            except asyncio.CancelledError:
                with contextlib.suppress(BaseException):
                    await sent
                raise

    async def _fetch(
        self, sql: str, parameters: Parameters, *, raw_errors: bool = False, read: bool = False
    ) -> list[Any]:
        """Run one statement and return its rows; sqlite3 errors become connectstore errors."""

        def execute(conn: sqlite3.Connection) -> list[Any]:
            return conn.execute(sql, parameters).fetchall()

        try:
            return await self._call(execute, write=not read)
        except sqlite3.Error as exc:
            if raw_errors:
                raise
            raise translate(exc, self._name) from exc

    async def _delete_in_batches(
        self, sql: str, parameters: Callable[[], Parameters], *, yield_lock: bool = False
    ) -> int:
        """Repeat a batched DELETE until a batch comes back short; return rows deleted.

        With ``yield_lock``, pause after each batch as long as it took, so that writers in
        other processes (whose busy handler retries at intervals) get the lock in between.
        """
        total = 0
        while True:
            started = time.monotonic()
            deleted = await self._delete(sql, parameters())
            total += deleted
            if deleted < DELETE_BATCH:
                return total
            if yield_lock:
                await asyncio.sleep(time.monotonic() - started)

    async def _purge_expired_cookies(self) -> int:
        """Delete the rows live by their ``expired`` column whose ``cookie.expires`` is past."""
        total = 0
        after = _MIN_ROWID
        while True:
            page = {"after": after, "limit": DELETE_BATCH, **self._now()}
            rowids = [row[0] for row in await self._fetch(self._sql.page_cookie_expired, page, read=True)]
            if rowids:
                started = time.monotonic()
                total += await self._delete(
                    self._sql.delete_cookie_expired, {"rowids": json.dumps(rowids), **self._now()}
                )
                await asyncio.sleep(time.monotonic() - started)
            if len(rowids) < DELETE_BATCH:
                return total
            after = rowids[-1]

    async def _delete(self, sql: str, parameters: Parameters) -> int:
        """Run one DELETE (a write); return how many rows it deleted."""

        def delete(conn: sqlite3.Connection) -> int:
            return conn.execute(sql, parameters).rowcount

        try:
            return await self._call(delete, write=True)
        except sqlite3.Error as exc:
            raise translate(exc, self._name) from exc


def _cookie_replacer(serializer: Serializer) -> Callable[[str | bytes, str], str]:
    """The SQL function of ``touch``: the stored session with its cookie replaced (runs in SQLite)."""

    def replace_cookie(stored: str | bytes, cookie_text: str) -> str:
        current = serializer.loads(stored)
        current["cookie"] = serializer.loads(cookie_text)["cookie"]
        return serializer.dumps(current)

    return replace_cookie


def _cookie_expired(json_type: str | None, value: object, now: int) -> int:
    """SQL function: 1 when a ``cookie.expires`` SQL cannot compare is at or before ``now``.

    A value that is no date (``false``, an object, unreadable text) is no expiry here: the
    row's ``expired`` column decides, and reading the session reports what is wrong.
    """
    if json_type not in ("text", "integer", "real"):
        return 0
    try:
        expires = parse_expires(value)
    except Exception:  # any unreadable value: never fail the whole statement over one row
        return 0
    return int(expires is not None and expires <= now)


def _seconds(name: str, value: object) -> float:
    """``value`` as a finite number of seconds, else TypeError/ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number of seconds, not {type(value).__name__}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number of seconds, not {value!r}")
    return value


def _check_sid(sid: str) -> str:
    if not isinstance(sid, str):
        raise TypeError(f"a session id must be a str, not {type(sid).__name__}")
    return sid
