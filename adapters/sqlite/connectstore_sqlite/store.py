"""SQLiteStore: express-session sessions in a SQLite file that connect-sqlite3 can share.

One aiosqlite connection per store (its own thread), in autocommit mode: every
operation is a single SQL statement, so each is atomic on its own, across coroutines and
across processes, without holding a transaction open. The file is switched to WAL mode
and every connection waits up to ``busy_timeout`` for the write lock, so several worker
processes (and a Node app) can write one file.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from typing import Any, Final, TypeVar

import aiosqlite

from connectstore import (
    DEFAULT_TTL,
    JSONSerializer,
    Serializer,
    SessionData,
    SessionDecodeError,
    Store,
    StoreError,
    decode_session,
    now_ms,
    session_expires,
)
from connectstore_sqlite.cleanup import sweep_forever
from connectstore_sqlite.failures import is_udf_failure, translate
from connectstore_sqlite.schema import (
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
_MEMORY: Final = ":memory:"
_MIN_ROWID: Final = -(2**63)


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

    Nothing is opened until the first call; :meth:`close` (or ``async with``) stops the
    cleanup task and the connection's thread.
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
        self.path = os.fspath(path)
        if not self.path:
            raise ValueError("path must name a database file or be ':memory:'")
        self.table = check_table_name(table)
        if not ttl > 0:
            raise ValueError(f"ttl must be a positive number of seconds, not {ttl!r}")
        if cleanup_interval is not None and not cleanup_interval > 0:
            raise ValueError(f"cleanup_interval must be positive seconds or None, not {cleanup_interval!r}")
        if not busy_timeout >= 0:
            raise ValueError(f"busy_timeout must be >= 0 seconds, not {busy_timeout!r}")
        if synchronous.upper() not in _SYNCHRONOUS_MODES:
            raise ValueError(f"synchronous must be one of {sorted(_SYNCHRONOUS_MODES)}, not {synchronous!r}")
        self.ttl = ttl
        self.cleanup_interval = cleanup_interval
        self.busy_timeout = busy_timeout
        self.synchronous = synchronous.upper()
        self.serializer: Serializer = serializer or JSONSerializer()
        self._clock = clock
        self._sql = Statements(self.table)
        self._conn: aiosqlite.Connection | None = None
        self._open_lock = asyncio.Lock()
        self._statement_lock = asyncio.Lock()
        self._background_task: asyncio.Task[None] | None = None
        self._closed = False

    def __repr__(self) -> str:
        return f"SQLiteStore({self.path!r}, table={self.table!r})"

    # -- the contract ------------------------------------------------------------------

    async def get(self, sid: str) -> SessionData | None:
        """The live session under ``sid``, or None (an expired row is never returned)."""
        rows = await self._fetch(self._sql.get, (_check_sid(sid), self._clock()), read=True)
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
            await self._fetch(self._sql.delete, (sid,))
        else:
            await self._fetch(self._sql.upsert, (sid, deadline - 1, text))

    async def destroy(self, sid: str) -> None:
        """Delete ``sid``; a missing sid is fine."""
        await self._fetch(self._sql.delete, (_check_sid(sid),))

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
            await self._fetch(self._sql.expire_now, (sid, now))
            return
        try:
            await self._fetch(self._sql.touch, (deadline - 1, cookie_text, sid, now), raw_errors=True)
        except sqlite3.Error as exc:
            if is_udf_failure(exc):
                raise SessionDecodeError("stored data cannot be decoded", sid=sid) from exc
            raise translate(exc, self._name) from exc

    async def all(self) -> dict[str, SessionData]:
        """Every live session keyed by sid."""
        return {sid: session async for sid, session in self.items()}

    async def clear(self) -> None:
        """Delete every row of this store's table (and nothing else in the file)."""
        await self._delete_in_batches(self._sql.delete_any_batch, lambda: (DELETE_BATCH,))

    async def length(self) -> int:
        """The number of live sessions (expired rows waiting for cleanup are not counted)."""
        rows = await self._fetch(self._sql.count_live, (self._clock(),), read=True)
        return int(rows[0][0])

    async def ids(self) -> AsyncIterator[str]:
        """Ids of live sessions, read :data:`PAGE_SIZE` rows at a time."""
        after = _MIN_ROWID
        while True:
            rows = await self._fetch(self._sql.page_ids, (after, self._clock(), PAGE_SIZE), read=True)
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
            rows = await self._fetch(self._sql.page_items, (after, self._clock(), PAGE_SIZE), read=True)
            for _, sid, text in rows:
                yield str(sid), decode_session(self.serializer, str(sid), text)
            if len(rows) < PAGE_SIZE:
                return
            after = rows[-1][0]

    async def close(self) -> None:
        """Stop the background task and close the connection (its thread ends). Idempotent."""
        async with self._open_lock:
            if self._closed:
                return
            self._closed = True
            task, self._background_task = self._background_task, None
            conn, self._conn = self._conn, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if conn is not None:
            try:
                await conn.close()
            except sqlite3.Error:
                logger.warning("closing %s failed", self._name, exc_info=True)

    # -- beyond the contract -----------------------------------------------------------

    async def purge_expired(self) -> int:
        """Delete expired rows now, in batches; return how many were deleted.

        The background cleanup calls this every ``cleanup_interval`` seconds.
        """
        return await self._delete_in_batches(
            self._sql.delete_expired_batch, lambda: (self._clock(), DELETE_BATCH), yield_lock=True
        )

    # -- internals ---------------------------------------------------------------------

    @property
    def _name(self) -> str:
        return f"{self.path}:{self.table}"

    def _deadline(self, session: SessionData, now: int) -> int:
        """The first millisecond at which ``session`` is expired."""
        expires = session_expires(session)
        if expires is None:
            return now + round(self.ttl * 1000)
        return expires

    async def _connection(self) -> aiosqlite.Connection:
        conn = self._conn
        if conn is not None:
            return conn
        async with self._open_lock:
            if self._closed:
                raise StoreError(f"{self!r} is closed")
            if self._conn is None:
                self._conn = await self._open()
                self._background_task = asyncio.create_task(
                    self._run_in_background(), name=f"connectstore-sqlite {self._name}"
                )
            return self._conn

    async def _run_in_background(self) -> None:
        """The store's one task: sweeps expired rows every ``cleanup_interval`` (if set).

        Cancelled by anything but :meth:`close` (``asyncio.run`` ending with the store still
        open), it closes the connection so that its thread cannot keep the process alive.
        """
        try:
            if self.cleanup_interval is None:
                await asyncio.Event().wait()
            else:
                await sweep_forever(self.purge_expired, self.cleanup_interval, name=self._name)
        finally:
            if not self._closed:
                logger.warning("%r was not closed; closing it as its event loop ends", self)
                self._background_task = None
                await self.close()

    async def _open(self) -> aiosqlite.Connection:
        """Connect, switch to WAL, create or check the table, register the touch function."""
        try:
            conn = await aiosqlite.connect(self.path, timeout=self.busy_timeout, isolation_level=None)
        except sqlite3.Error as exc:
            raise translate(exc, self.path) from exc
        try:
            if self.path != _MEMORY:
                rows = list(await conn.execute_fetchall("PRAGMA journal_mode = WAL"))
                if str(rows[0][0]).lower() != "wal":
                    logger.warning("%s could not switch to WAL (journal_mode is %s)", self.path, rows[0][0])
            await conn.execute_fetchall(f"PRAGMA synchronous = {self.synchronous}")
            await conn.execute_fetchall(self._sql.create_table)
            await self._check_layout(conn)
            await conn.execute_fetchall(self._sql.create_index)
            await conn.create_function(REPLACE_COOKIE_FUNCTION, 2, self._replace_cookie, deterministic=True)
        except BaseException as exc:
            await conn.close()
            if isinstance(exc, sqlite3.Error):
                raise translate(exc, self.path) from exc
            raise
        return conn

    async def _check_layout(self, conn: aiosqlite.Connection) -> None:
        """Refuse an existing table that is not connect-sqlite3's (missing columns, sid not unique)."""
        columns = {row[1]: row for row in await conn.execute_fetchall(self._sql.table_info)}
        missing = {"sid", "expired", "sess"} - set(columns)
        if missing:
            raise StoreError(
                f"table {self.table!r} in {self.path!r} is not a connect-sqlite3 sessions table "
                f"(no column {', '.join(sorted(missing))})"
            )
        primary_key = [name for name, row in columns.items() if row[5]]
        if primary_key == ["sid"]:
            return
        for index in await conn.execute_fetchall(self._sql.index_list):
            if index[2]:  # unique
                names = [r[2] for r in await conn.execute_fetchall(f'PRAGMA index_info("{index[1]}")')]
                if names == ["sid"]:
                    return
        raise StoreError(f"table {self.table!r} in {self.path!r} has no PRIMARY KEY or UNIQUE index on sid")

    def _replace_cookie(self, stored: str | bytes, cookie_text: str) -> str:
        """SQL function of ``touch``: the stored session with its cookie replaced (runs in SQLite)."""
        current = self.serializer.loads(stored)
        current["cookie"] = self.serializer.loads(cookie_text)["cookie"]
        return self.serializer.dumps(current)

    async def _statement(self, run: Callable[[aiosqlite.Connection], Awaitable[T]]) -> T:
        """Run one write on the connection, so that it never lands after its caller gave up.

        Writes queue on an asyncio lock, where a caller that times out (or is cancelled)
        leaves before its statement was sent. Once sent, a statement is in SQLite's hands
        and cannot be stopped; a caller cancelled then waits for it to end (at most
        ``busy_timeout``) before the cancellation goes on. So when a call fails, its write
        has either happened already or never will: it can never overwrite a write that was
        acknowledged after the failure (another process's, say).
        """
        conn = await self._connection()
        async with self._statement_lock:
            sent = asyncio.ensure_future(run(conn))
            try:
                return await asyncio.shield(sent)
            except asyncio.CancelledError:
                with contextlib.suppress(BaseException):
                    await sent
                raise

    async def _fetch(
        self, sql: str, parameters: Sequence[Any], *, raw_errors: bool = False, read: bool = False
    ) -> list[sqlite3.Row]:
        """Run one statement and return its rows; sqlite3 errors become connectstore errors.

        A ``read`` goes straight to the connection's queue (a read that outlives its caller
        changes nothing, and concurrent reads keep aiosqlite's pipelining); a write goes
        through :meth:`_statement`.
        """
        try:
            if read:
                conn = await self._connection()
                rows: Iterable[sqlite3.Row] = await conn.execute_fetchall(sql, parameters)
            else:
                rows = await self._statement(lambda conn: conn.execute_fetchall(sql, parameters))
        except sqlite3.Error as exc:
            if raw_errors:
                raise
            raise translate(exc, self._name) from exc
        except ValueError as exc:  # aiosqlite: the connection was closed meanwhile
            if self._closed:
                raise StoreError(f"{self!r} is closed") from exc
            raise
        return list(rows)

    async def _delete_in_batches(
        self, sql: str, parameters: Callable[[], Sequence[Any]], *, yield_lock: bool = False
    ) -> int:
        """Repeat a batched DELETE until a batch comes back short; return rows deleted.

        With ``yield_lock``, pause after each batch as long as it took, so that writers in
        other processes (whose busy handler retries at intervals) get the lock in between.
        """
        total = 0

        async def delete_batch(conn: aiosqlite.Connection) -> int:
            async with conn.execute(sql, parameters()) as cursor:
                return cursor.rowcount

        while True:
            started = time.monotonic()
            try:
                deleted = await self._statement(delete_batch)
            except sqlite3.Error as exc:
                raise translate(exc, self._name) from exc
            total += deleted
            if deleted < DELETE_BATCH:
                return total
            if yield_lock:
                await asyncio.sleep(time.monotonic() - started)


def _check_sid(sid: str) -> str:
    if not isinstance(sid, str):
        raise TypeError(f"a session id must be a str, not {type(sid).__name__}")
    return sid
