"""SurrealDBStore: express-session sessions in SurrealDB, one record per session.

The record shape and every statement are in :mod:`connectstore_surrealdb.queries`. Expiry
is this store's own job (SurrealDB has no record TTL): each record carries a real
``expires`` datetime, every read filters on it, and an optional background sweep
(:class:`connectstore.Sweep`) deletes the expired records, and only those. The conditional
writes (``get_versioned``, ``set_if``, ``create``) are single statements over a version
SurrealDB computes of the whole record; writes to one sid go one at a time from the whole
process (:mod:`connectstore_surrealdb.one_writer` says why).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any, Final

from connectstore import (
    DEFAULT_TTL,
    CircuitBreaker,
    JSONSerializer,
    ListingFromItems,
    SerializationError,
    Serializer,
    SessionData,
    StoreURLError,
    Sweep,
    Versioned,
    check_sid,
    decode_listed,
    expiry_ms,
    is_expired,
    now_ms,
    redact_url,
    session_expires,
)
from connectstore_surrealdb import queries
from connectstore_surrealdb.auth import Auth, auth_from
from connectstore_surrealdb.connection import Connection, SurrealClient
from connectstore_surrealdb.one_writer import OneWriterPerSid
from connectstore_surrealdb.records import (
    StoredText,
    read_session,
    read_versioned,
    split_version,
    written_version,
)

if TYPE_CHECKING:
    from surrealdb import RecordID

__all__ = ["REMOTE_SCHEMES", "SCHEMES", "SurrealDBStore"]

#: SDK URL schemes of a SurrealDB server.
REMOTE_SCHEMES: Final = frozenset({"ws", "wss", "http", "https"})
#: Every SDK URL scheme the store accepts; ``mem``/``memory`` and ``surrealkv`` run the
#: engine in this process.
SCHEMES: Final = REMOTE_SCHEMES | {"mem", "memory", "surrealkv"}

#: Consecutive failed calls that open a server's circuit breaker.
DEFAULT_FAILURE_THRESHOLD: Final = 2
#: Seconds between two probes of a server while its breaker is open.
DEFAULT_RETRY_INTERVAL: Final = 0.25

#: The period of the background sweep that ``auto_sweep_expired=True`` turns on, in seconds.
AUTO_SWEEP_INTERVAL: Final = 600.0

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")


class SurrealDBStore(ListingFromItems):
    """A session store on SurrealDB (a server over ``ws``/``http``, or the embedded engine).

    Nothing is done at construction; the connection opens on first use (or ``open()`` /
    ``async with``), reopens by itself after it drops, and each event loop that calls the
    store gets its own (the embedded engine is shared by all). ``close()`` releases the
    connections and the sweep task; the next call opens them again. A server's data and a
    ``surrealkv://`` directory are unchanged by that; a ``mem://`` database lives only in
    the engine, so closing drops it and the next call starts a new, empty one.

    Options (all keyword-only but ``url``; the package README has the details):

    * ``url``: the SDK URL, ``ws://``, ``wss://``, ``http://``, ``https://`` (a server),
      ``mem://`` or ``surrealkv://path`` (the engine in this process). No credentials in it.
    * ``namespace``, ``database``: where the sessions live (default ``"main"``).
    * ``auth``: ``RootAuth``/``NamespaceAuth``/``DatabaseAuth``/``TokenAuth``, a mapping
      shaped as connect-surreal's ``signinOpts`` (``{"username": ..., "password": ...}``,
      plus ``"namespace"``/``"database"`` for those users, or ``{"token": ...}``), or None.
    * ``table``: the sessions' table, an identifier (default ``"user_session"``).
    * ``ttl``: seconds a session without cookie expiry lives (default 86400).
    * ``sweep_interval``: seconds between two background sweeps of the expired records
      (each within 10% of it), or None for no background sweep (the default); ``sweep()``
      sweeps on demand.
    * ``auto_sweep_expired``: connect-surreal's name for the sweep: True sweeps every 600 s
      unless ``sweep_interval`` says otherwise (default False).
    * ``timeout``: seconds one call may take, connecting included (default 5).
    * ``batch_size``: sessions read per query by the listings and ``length`` (default 100).
    * ``failure_threshold``, ``retry_interval``: a server's circuit breaker: after that many
      consecutive failed calls, calls fail at once with ``StoreUnavailableError`` and one
      call every ``retry_interval`` seconds probes the server (defaults 2 and 0.25 s).
    * ``serializer``: a ``connectstore.Serializer`` (default ``JSONSerializer()``).
    * ``client``: an SDK connection you opened, used as is (a WebSocket one only on its
      loop) and never closed by the store.
    """

    capabilities = frozenset(
        {"touch", "all", "clear", "length", "ids", "items", "get_versioned", "set_if", "create"}
    )

    def __init__(
        self,
        url: str = "mem://",
        *,
        namespace: str = "main",
        database: str = "main",
        auth: Auth | Mapping[str, str] | None = None,
        table: str = "user_session",
        ttl: float = DEFAULT_TTL,
        sweep_interval: float | None = None,
        auto_sweep_expired: bool = False,
        timeout: float = 5.0,
        batch_size: int = 100,
        failure_threshold: int = DEFAULT_FAILURE_THRESHOLD,
        retry_interval: float = DEFAULT_RETRY_INTERVAL,
        serializer: Serializer | None = None,
        client: SurrealClient | None = None,
    ) -> None:
        if not isinstance(url, str):
            raise TypeError(f"url must be a str, not {type(url).__name__}")
        scheme, sep, rest = url.partition("://")
        scheme = scheme.lower()
        if scheme not in SCHEMES or not sep:
            raise StoreURLError(
                f"{redact_url(url)!r} is not a SurrealDB URL; expected one of "
                f"{', '.join(sorted(SCHEMES))} (scheme://...)"
            )
        if "@" in rest.partition("/")[0]:
            raise StoreURLError(
                f"{redact_url(url)!r}: credentials do not go in the SDK URL; pass auth=RootAuth(...) "
                "(or a signinOpts mapping), or use open_store('surrealdb+ws://user:password@host/rpc')"
            )
        auth = auth_from(auth)
        if not _IDENTIFIER.fullmatch(table):
            raise ValueError(f"table must be an identifier ([A-Za-z_][A-Za-z0-9_]*), not {table!r}")
        for name, value in (("namespace", namespace), ("database", database)):
            if not isinstance(value, str) or not value:
                raise ValueError(f"{name} must be a non-empty string, not {value!r}")
        if not ttl > 0:
            raise ValueError(f"ttl must be a positive number of seconds, not {ttl!r}")
        if not timeout > 0:
            raise ValueError(f"timeout must be a positive number of seconds, not {timeout!r}")
        if isinstance(batch_size, bool) or not (isinstance(batch_size, int) and batch_size > 0):
            raise ValueError(f"batch_size must be a positive integer, not {batch_size!r}")
        if sweep_interval is None and auto_sweep_expired:
            sweep_interval = AUTO_SWEEP_INTERVAL
        self.url = url
        self.table = table
        self.ttl = ttl
        self.batch_size = batch_size
        self.serializer: Serializer = serializer or JSONSerializer()
        remote = scheme in REMOTE_SCHEMES
        breaker = (
            CircuitBreaker(
                f"SurrealDB at {url}", failure_threshold=failure_threshold, retry_interval=retry_interval
            )
            if remote
            else None
        )
        if not remote:  # checked all the same, so that a bad value is never silently ignored
            CircuitBreaker(failure_threshold=failure_threshold, retry_interval=retry_interval)
        self._connection = Connection(
            url,
            namespace=namespace,
            database=database,
            auth=auth,
            timeout=timeout,
            embedded=not remote,
            client=client,
            breaker=breaker,
        )
        from surrealdb import RecordID  # the SDK is imported with the first store, not the package

        self._record_id = RecordID
        self._sweep = Sweep(self.sweep, sweep_interval, name=repr(self))
        self._writers = OneWriterPerSid()

    def __repr__(self) -> str:
        c = self._connection
        where = f"namespace={c.namespace!r}, database={c.database!r}, table={self.table!r}"
        return f"SurrealDBStore({self.url!r}, {where})"

    @property
    def namespace(self) -> str:
        """The SurrealDB namespace the store works in."""
        return self._connection.namespace

    @property
    def database(self) -> str:
        """The SurrealDB database the store works in."""
        return self._connection.database

    @property
    def timeout(self) -> float:
        """Seconds a call may take before it fails with ``StoreUnavailableError``."""
        return self._connection.timeout

    @property
    def client(self) -> SurrealClient | None:
        """The SDK connection in use (None until the first call), for statements of your own."""
        return self._connection.client

    @property
    def breaker(self) -> CircuitBreaker | None:
        """The circuit breaker of a server (None for the embedded engine); ``reset()`` closes it."""
        return self._connection.breaker

    @property
    def sweep_interval(self) -> float | None:
        """Seconds between two background sweeps, or None when there is no background sweep."""
        return self._sweep.interval

    @property
    def sweeping(self) -> bool:
        """Whether the background sweep task is running."""
        return self._sweep.running

    async def open(self) -> None:
        """Connect now (instead of on first use) and start the sweep if it is enabled."""
        await self._query("RETURN true", {})

    async def __aenter__(self) -> SurrealDBStore:
        await self.open()
        return self

    async def get(self, sid: str) -> SessionData | None:
        """The live session under ``sid``, or None when it is missing or expired.

        A record that is no session raises :class:`~connectstore.SessionDecodeError`.
        """
        rid = self._rid(sid)
        now = now_ms()
        row = await self._query(queries.GET, {"rid": rid, "now": now})
        return None if row is None else read_session(self.serializer, sid, row, now)

    async def set(self, sid: str, session: SessionData) -> None:
        """Write ``session`` under ``sid``; an expiry already past deletes it instead."""
        rid = self._rid(sid)
        cookie, data = self._encode(session)
        await self._write_live(sid, session, queries.SET, {"rid": rid, "cookie": cookie, "sess": data})

    async def destroy(self, sid: str) -> None:
        """Delete ``sid``; a missing sid is fine."""
        rid = self._rid(sid)
        await self._write(sid, queries.DESTROY, {"rid": rid})

    async def touch(self, sid: str, session: SessionData) -> None:
        """Replace the stored cookie and move ``expires`` of a live session; data stays as is.

        One conditional statement: a missing or expired session is left alone, and a
        concurrent ``set`` can never be undone by it (writes to one sid from this store go
        one at a time: see :mod:`connectstore_surrealdb.one_writer`).
        """
        rid = self._rid(sid)
        if not isinstance(session, Mapping):
            raise SerializationError(f"a session must be a mapping, not {type(session).__name__}")
        cookie = self.serializer.dumps({"cookie": session.get("cookie")})
        await self._write_live(sid, session, queries.TOUCH, {"rid": rid, "cookie": cookie})

    async def get_versioned(self, sid: str) -> Versioned | None:
        """``get(sid)`` and the record's version: SurrealDB's hash of the whole record, read by
        the same single statement as ``get``, and the expiry of the cookie read.
        """
        rid = self._rid(sid)
        now = now_ms()
        row = await self._query(queries.GET_VERSIONED, {"rid": rid, "now": now})
        return None if row is None else read_versioned(self.serializer, sid, row, now)

    async def set_if(self, sid: str, session: SessionData, version: str) -> str | None:
        """Write ``session`` only if the live record under ``sid`` still has ``version``.

        One conditional statement: SurrealDB compares the hash and writes. Returns the new
        version; None when nothing was written (at once, without a round trip, when the
        cookie of that version has expired); NO_VERSION when an expiry already past deleted
        the matching record instead.
        """
        rid = self._rid(sid)
        cookie, data = self._encode(session)
        cookie_expires = session_expires(session)  # an unreadable expiry raises here, first
        expected = split_version(version)
        if expected is None or (expected[1] is not None and expected[1] <= now_ms()):
            return None  # no version of ours, or the record it names has expired since
        variables = {"rid": rid, "cookie": cookie, "sess": data, "version": expected[0]}
        written = await self._write_live(sid, session, queries.SET_IF, variables, expired=queries.DESTROY_IF)
        return written_version(written, cookie_expires)

    async def create(self, sid: str, session: SessionData) -> str | None:
        """Write ``session`` only if no live session is stored under ``sid``, in one statement.

        An expired record, or another writer's record without ``sess``, counts as absent (it
        is replaced); a corrupt one as present. Returns the version written, or None.
        """
        rid = self._rid(sid)
        cookie, data = self._encode(session)
        cookie_expires = session_expires(session)
        variables = {"rid": rid, "cookie": cookie, "sess": data}
        expired = queries.CREATE_EXPIRED
        written = await self._write_live(sid, session, queries.CREATE, variables, expired=expired)
        return written_version(written, cookie_expires)

    async def _write_live(
        self,
        sid: str,
        session: SessionData,
        query: str,
        variables: dict[str, Any],
        *,
        expired: str = queries.DESTROY,
    ) -> Any:
        """Send ``query`` with ``session``'s deadline (``$expires``, and ``$now``), or the
        ``expired`` statement (by default: delete ``sid``) when that deadline has already passed.
        """
        now = now_ms()
        expires = expiry_ms(session, self.ttl, now=now)
        if expires <= now:
            return await self._write(sid, expired, {**variables, "now": now})
        return await self._write(sid, query, {**variables, "expires": expires, "now": now})

    async def _write(self, sid: str, query: str, variables: dict[str, Any]) -> Any:
        """Send a statement that writes ``sid``, after this store's earlier writes to it."""
        async with self._writers.turn(sid):
            return await self._query(query, variables)

    async def clear(self) -> None:
        """Delete every record of the store's table (the table belongs to the store)."""
        await self._query(queries.CLEAR, {"table": self.table})

    async def items(self) -> AsyncIterator[tuple[str, SessionData]]:
        """``(sid, session)`` for live sessions, read ``batch_size`` at a time in id order.

        ``all()``, ``ids()`` and ``length()`` come from it: each session's cookie is checked.
        A record that is no session is skipped with a warning (``get`` of it raises).
        """
        after: str | None = None
        while True:
            now = now_ms()
            page = await self._query(
                queries.PAGE, {"range": self._range(after), "now": now, "limit": self.batch_size}
            )
            for row in page:
                sid = row["sid"]
                session = self._listed(sid, row, now)
                if session is not None:
                    yield sid, session
            if len(page) < self.batch_size:
                return
            after = page[-1]["sid"]

    async def sweep(self) -> int:
        """Delete the expired sessions now; returns how many records were deleted.

        Only records whose ``expires`` is a datetime in the past go: never a live session,
        never a record without ``expires``.
        """
        removed = await self._query(queries.SWEEP, {"table": self.table, "now": now_ms()})
        return int(removed)

    async def close(self) -> None:
        """Stop the sweep and close the connections the store opened (never a given ``client``).

        Safe to call twice; the store stays usable: the next call connects again (a
        ``mem://`` database starts again empty, as its data lived in the closed engine).
        """
        await self._sweep.stop()
        await self._connection.close()

    async def _query(self, sql: str, params: dict[str, Any]) -> Any:
        self._sweep.ensure_started()
        return await self._connection.query(sql, params)

    def _listed(self, sid: str, row: Mapping[str, Any], now: int) -> SessionData | None:
        """The live session a listing read, or None: expired, or corrupt (skipped with a warning)."""
        stored_cookie: Any = row.get("cookie")  # bytes as the query casts it, or what a foreign writer left
        stored_data: Any = row.get("sess")
        cookie = decode_listed(StoredText(self.serializer, cookie=True), sid, stored_cookie, store=self)
        if cookie is None or is_expired(cookie, now=now):
            return None
        data = decode_listed(StoredText(self.serializer), sid, stored_data, store=self)
        return None if data is None else {**cookie, **data}

    def _rid(self, sid: str) -> RecordID:
        return self._record_id(self.table, check_sid(sid))

    def _range(self, after: str | None) -> RecordID:
        """Every string id of the table after ``after`` (all of them for None)."""
        from surrealdb import Range
        from surrealdb.data.types.range import BoundExcluded, BoundIncluded

        begin = BoundIncluded("") if after is None else BoundExcluded(after)
        return self._record_id(self.table, Range(begin, BoundExcluded([])))

    def _encode(self, session: SessionData) -> tuple[str, str]:
        """The cookie and the rest of the session as JSON text; raises before anything is written."""
        if not isinstance(session, Mapping):
            raise SerializationError(f"a session must be a mapping, not {type(session).__name__}")
        cookie = {"cookie": session["cookie"]} if "cookie" in session else {}
        data = {key: value for key, value in session.items() if key != "cookie"}
        return self.serializer.dumps(cookie), self.serializer.dumps(data)
