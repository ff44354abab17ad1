"""SQLiteStore: express-session sessions in a SQLite file that connect-sqlite3 can share.

One sqlite3 connection per store, on its own worker thread, in autocommit mode: every
operation is a single SQL statement, so each is atomic on its own, across coroutines and
across processes, without holding a transaction open (writes in flight together share
one short transaction: :mod:`~connectstore_sqlite.worker`). ``get`` reads on the event
loop's thread through a second connection that never waits for a lock
(:meth:`~connectstore_sqlite.database.Database.read_now`). The file is switched to WAL mode
and every connection waits up to ``timeout`` for the write lock, so several worker
processes (and a Node app) can write one file. The conditional writes (``set_if``,
``create``) are single statements too; a row's version is its stored ``sess`` text, which
they compare in their ``WHERE``. The statements are in
:mod:`~connectstore_sqlite.queries`; the connection's life (opening on first use, from any
event loop, and running statements) is in :mod:`~connectstore_sqlite.connection`.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from typing import Any, Final

from connectstore import (
    DEFAULT_TTL,
    NO_VERSION,
    JSONSerializer,
    ListingFromItems,
    Serializer,
    SessionData,
    SessionDecodeError,
    Sweep,
    Versioned,
    check_sid,
    decode_listed,
    decode_session,
    expiry_ms,
    now_ms,
)
from connectstore.cookie import format_expires
from connectstore.sweep import check_sweep_interval
from connectstore_sqlite.connect import connector
from connectstore_sqlite.connection import Connection, Parameters
from connectstore_sqlite.failures import is_udf_failure, translate
from connectstore_sqlite.queries import DELETE_BATCH, Statements, check_table_name

__all__ = ["DEFAULT_BATCH_SIZE", "DEFAULT_SWEEP_INTERVAL", "DEFAULT_TIMEOUT", "SQLiteStore"]

DEFAULT_SWEEP_INTERVAL: Final = 900.0
"""Seconds between two background sweeps of expired rows (15 minutes)."""

DEFAULT_TIMEOUT: Final = 5.0
"""Seconds a statement waits for another connection's lock before the call fails."""

DEFAULT_BATCH_SIZE: Final = 500
"""Rows read per query by ``all()``, ``ids()`` and ``items()`` (bounds their memory)."""

_SYNCHRONOUS_MODES: Final = frozenset({"OFF", "NORMAL", "FULL", "EXTRA"})
_MIN_ROWID: Final = -(2**63)


class SQLiteStore(ListingFromItems):
    """Sessions in the connect-sqlite3 table of a SQLite file (or ``":memory:"``).

    ``path``
        the database file (created if missing; its folder must exist), or ``":memory:"``
        for an in-memory database private to this store. (An in-memory database lives
        as long as the store's connection: after :meth:`close`, the next call starts an
        empty one.)
    ``table``
        the sessions table, an SQL identifier (1 to 63 ASCII letters, digits or
        underscores, not starting with a digit or ``sqlite_``); created with
        connect-sqlite3's layout if missing, used as it is if it exists.
    ``ttl``
        lifetime in seconds of a session whose cookie has no expiry (default one day).
    ``sweep_interval``
        seconds between two background sweeps of expired rows (default
        :data:`DEFAULT_SWEEP_INTERVAL`, 900; the first runs at the first call). ``None``:
        no background sweep; call :meth:`sweep` yourself.
    ``timeout``
        seconds a call waits for another connection's lock before it fails with
        :class:`~connectstore.StoreUnavailableError` (``sqlite3.connect(timeout=)``;
        default :data:`DEFAULT_TIMEOUT`, 5).
    ``batch_size``
        rows read per query by :meth:`all`, :meth:`ids` and :meth:`items` (default
        :data:`DEFAULT_BATCH_SIZE`, 500). ``clear`` and the sweep delete 5,000 rows per
        statement.
    ``synchronous``
        SQLite's ``PRAGMA synchronous``: ``NORMAL`` (durable across application crashes
        in WAL mode), ``FULL`` (also across power loss), ``EXTRA`` or ``OFF``.
    ``serializer``
        how sessions become text (default: express-session's JSON, which connect-sqlite3
        reads).
    ``clock``
        the current time in epoch milliseconds (tests may pass a fake one).

    A session is live while its row's ``expired`` column says so and its own
    ``cookie.expires`` is not past. Nothing is opened until the first call. The store
    works on whichever event loop calls it (one loop at a time); when a loop ends, the
    store lets go of the connection and opens it again on the next call. :meth:`close`
    (or ``async with``) stops the sweep and the connection's thread; the next call opens
    them again.
    """

    capabilities = frozenset(
        {"touch", "all", "clear", "length", "ids", "items", "get_versioned", "set_if", "create"}
    )

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        table: str = "sessions",
        ttl: float = DEFAULT_TTL,
        sweep_interval: float | None = DEFAULT_SWEEP_INTERVAL,
        timeout: float = DEFAULT_TIMEOUT,
        batch_size: int = DEFAULT_BATCH_SIZE,
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
        self.sweep_interval = check_sweep_interval(sweep_interval)
        if not _seconds("timeout", timeout) >= 0:
            raise ValueError(f"timeout must be >= 0 seconds, not {timeout!r}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int):
            raise TypeError(f"batch_size must be an int, not {type(batch_size).__name__}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be a positive number of rows, not {batch_size!r}")
        if not isinstance(synchronous, str):
            raise TypeError(f"synchronous must be a str, not {type(synchronous).__name__}")
        if synchronous.upper() not in _SYNCHRONOUS_MODES:
            raise ValueError(f"synchronous must be one of {sorted(_SYNCHRONOUS_MODES)}, not {synchronous!r}")
        self.timeout = timeout
        self.batch_size = batch_size
        self.synchronous = synchronous.upper()
        self.serializer: Serializer = serializer or JSONSerializer()
        self._clock = clock
        self._last_now: tuple[int, str] = (-1, "")
        self._sql = Statements(self.table)
        self._sweep = Sweep(self.sweep, self.sweep_interval, name=repr(self), immediately=True)
        self._connection = Connection(
            *connector(path, self._sql, timeout, self.synchronous, self.serializer),
            path=path,
            name=self._name,
            shown=repr(self),
            sweep=self._sweep,
        )

    def __repr__(self) -> str:
        return f"SQLiteStore({self.path!r}, table={self.table!r})"

    # -- the contract ------------------------------------------------------------------

    async def get(self, sid: str) -> SessionData | None:
        """The live session under ``sid``, or None (an expired row is never returned).

        A row whose data cannot be decoded raises :class:`~connectstore.SessionDecodeError`.
        """
        rows = await self._connection.fetch(self._sql.get, {"sid": check_sid(sid), **self._now()}, quick=True)
        if not rows:
            return None
        return decode_session(self.serializer, sid, rows[0][0])

    async def set(self, sid: str, session: SessionData) -> None:
        """Insert or replace ``sid``; a cookie expiry already past deletes it instead."""
        check_sid(sid)
        now = self._clock()
        deadline = expiry_ms(session, self.ttl, now=now)
        text = self.serializer.dumps(session)
        if deadline <= now:
            await self._connection.fetch(self._sql.delete, {"sid": sid})
        else:
            await self._connection.fetch(
                self._sql.upsert, {"sid": sid, "expired": deadline - 1, "sess": text}
            )

    async def get_versioned(self, sid: str) -> Versioned | None:
        """:meth:`get` and the row's version, which is its stored ``sess`` text: the same single read.

        Any write that changes the text changes the version: ``set``, ``touch`` (it rewrites
        the stored cookie), another process's or a Node app's save. A write of the same text
        keeps it, and so does connect-sqlite3's ``touch``, which moves only ``expired``.
        """
        rows = await self._connection.fetch(self._sql.get, {"sid": check_sid(sid), **self._now()}, quick=True)
        if not rows:
            return None
        stored = rows[0][0]
        return Versioned(decode_session(self.serializer, sid, stored), _version(stored))

    async def set_if(self, sid: str, session: SessionData, version: str) -> str | None:
        """Replace ``sid`` only if its live row's ``sess`` is still ``version``; return the new text.

        One UPDATE (``WHERE sid = ? AND sess = ? AND`` the row is live, by the rule of
        ``get``), so nothing can fall between the comparison and the write, in this process
        or another. None when no row changed (nothing was written). A cookie expiry already
        past deletes the matching row instead (one DELETE with the same condition) and
        returns :data:`~connectstore.NO_VERSION`, or None when nothing matched.
        """
        check_sid(sid)
        now = self._clock()
        deadline = expiry_ms(session, self.ttl, now=now)
        text = self.serializer.dumps(session)
        if not isinstance(version, str) or version == NO_VERSION:
            return None  # the version of no row
        matching = {"sid": sid, "version": version, **self._now(now)}
        if deadline <= now:
            deleted = await self._connection.change(self._sql.delete_if, matching)
            return NO_VERSION if deleted else None
        written = await self._connection.change(
            self._sql.set_if, {**matching, "expired": deadline - 1, "sess": text}
        )
        return text if written else None

    async def create(self, sid: str, session: SessionData) -> str | None:
        """Insert ``sid`` only if no live row is there; return the text written, else None.

        One upsert that replaces only a row that is not live (``ON CONFLICT (sid) DO UPDATE
        ... WHERE NOT`` live): an expired row counts as absent, a corrupt one (live by its
        ``expired`` column) as present. A cookie expiry already past writes nothing: it
        returns :data:`~connectstore.NO_VERSION` when no live session is there, else None.
        """
        check_sid(sid)
        now = self._clock()
        deadline = expiry_ms(session, self.ttl, now=now)
        text = self.serializer.dumps(session)
        if deadline <= now:
            rows = await self._connection.fetch(self._sql.get, {"sid": sid, **self._now(now)}, quick=True)
            return None if rows else NO_VERSION
        written = await self._connection.change(
            self._sql.create, {"sid": sid, "expired": deadline - 1, "sess": text, **self._now(now)}
        )
        return text if written else None

    async def destroy(self, sid: str) -> None:
        """Delete ``sid`` (a corrupt row too); a missing sid is fine."""
        await self._connection.fetch(self._sql.delete, {"sid": check_sid(sid)})

    async def touch(self, sid: str, session: SessionData) -> None:
        """Give a live session ``session``'s cookie and the expiry it implies.

        One UPDATE statement rewrites ``expired`` and the stored cookie (so the JSON
        keeps telling the truth about the expiry) and leaves every other key of the
        stored session as it is: a concurrent ``set`` is never lost. A missing or
        expired sid is left alone; a new expiry already past deletes the session.
        """
        check_sid(sid)
        now = self._clock()
        deadline = expiry_ms(session, self.ttl, now=now)
        cookie_text = self.serializer.dumps({"cookie": session.get("cookie")})
        if deadline <= now:
            await self._connection.fetch(self._sql.expire_now, {"sid": sid, "now": now})
            return
        parameters = {"expired": deadline - 1, "cookie": cookie_text, "sid": sid, **self._now(now)}
        try:
            await self._connection.run(self._sql.touch, parameters)
        except sqlite3.Error as exc:
            if is_udf_failure(exc):
                raise SessionDecodeError("stored data cannot be decoded", sid=sid) from exc
            raise translate(exc, self._name) from exc

    async def clear(self) -> None:
        """Delete every row of this store's table, corrupt ones too (and nothing else in the file)."""
        await self._delete_in_batches(self._sql.delete_any_batch, lambda: {"limit": DELETE_BATCH})

    async def length(self) -> int:
        """The number of live sessions: what :meth:`all` returns, counted in SQL.

        Expired rows waiting for the sweep are not counted, nor is a row whose ``sess`` is
        not a JSON object (a corrupt row, which the listings skip). With a serializer other
        than the default JSON one, the sessions :meth:`items` lists are counted instead.
        """
        if type(self.serializer) is not JSONSerializer:
            return await super().length()
        rows = await self._connection.fetch(self._sql.count_live, self._now(), read=True)
        return int(rows[0][0])

    async def items(self) -> AsyncIterator[tuple[str, SessionData]]:
        """``(sid, session)`` of live sessions, read ``batch_size`` rows at a time in rowid order.

        A row whose data cannot be decoded is skipped, with a warning naming its sid
        (:func:`connectstore.decode_listed`). :meth:`all` and :meth:`ids` list these too.
        """
        after = _MIN_ROWID
        while True:
            page = {"after": after, "limit": self.batch_size, **self._now()}
            rows = await self._connection.fetch(self._sql.page_items, page, read=True)
            for _, sid, text in rows:
                session = decode_listed(self.serializer, str(sid), text, store=self)
                if session is not None:
                    yield str(sid), session
            if len(rows) < self.batch_size:
                return
            after = rows[-1][0]

    async def close(self) -> None:
        """Stop the background sweep and close the connection (its thread ends). Idempotent.

        Works from any event loop, including after the loop that used the store was
        closed without running its tasks. The store stays usable: the next call opens the
        connection again (a file's data is unchanged; a ``":memory:"`` database is new).
        """
        await self._connection.close()

    # -- beyond the contract -----------------------------------------------------------

    async def sweep(self) -> int:
        """Delete expired rows now, in batches; return how many were deleted.

        First the rows whose ``expired`` column is past (through its index), then the rows
        whose column says live but whose own ``cookie.expires`` is past (read in pages
        without the write lock, each page deleted after checking it again). The background
        sweep calls this every ``sweep_interval`` seconds.
        """
        deleted = await self._delete_in_batches(
            self._sql.delete_expired_batch,
            lambda: {"now": self._clock(), "limit": DELETE_BATCH},
            yield_lock=True,
        )
        return deleted + await self._sweep_expired_cookies()

    # -- internals ---------------------------------------------------------------------

    @property
    def _name(self) -> str:
        return f"{self.path}:{self.table}"

    def _now(self, now: int | None = None) -> dict[str, Any]:
        """The ``:now`` and ``:now_iso`` parameters of the statements that test liveness."""
        now = self._clock() if now is None else now
        last = self._last_now
        if last[0] != now:  # the text is made once per millisecond
            self._last_now = last = (now, format_expires(now))
        return {"now": now, "now_iso": last[1]}

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
            deleted = await self._connection.change(sql, parameters())
            total += deleted
            if deleted < DELETE_BATCH:
                return total
            if yield_lock:
                await asyncio.sleep(time.monotonic() - started)

    async def _sweep_expired_cookies(self) -> int:
        """Delete the rows live by their ``expired`` column whose ``cookie.expires`` is past."""
        total = 0
        after = _MIN_ROWID
        while True:
            page = {"after": after, "limit": DELETE_BATCH, **self._now()}
            rowids = [
                row[0] for row in await self._connection.fetch(self._sql.page_cookie_expired, page, read=True)
            ]
            if rowids:
                started = time.monotonic()
                total += await self._connection.change(
                    self._sql.delete_cookie_expired, {"rowids": json.dumps(rowids), **self._now()}
                )
                await asyncio.sleep(time.monotonic() - started)
            if len(rowids) < DELETE_BATCH:
                return total
            after = rowids[-1]


def _version(stored: str | bytes) -> str:
    """The version of a row: its ``sess`` text (a BLOB read as ``CAST(sess AS TEXT)`` reads it)."""
    return stored if isinstance(stored, str) else bytes(stored).decode("utf-8", "replace")


def _seconds(name: str, value: object) -> float:
    """``value`` as a finite number of seconds, else TypeError/ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number of seconds, not {type(value).__name__}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number of seconds, not {value!r}")
    return value
