"""SurrealDBStore: express-session sessions in SurrealDB, one record per session.

The record shape and every statement are in :mod:`connectstore_surrealdb.queries`. Expiry
is this store's own job (SurrealDB has no record TTL): each record carries a real
``expires`` datetime, every read filters on it, and an optional background sweep deletes
the expired records, and only those.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Mapping
from typing import Any, Final

from surrealdb import Range, RecordID
from surrealdb.data.types.range import BoundExcluded, BoundIncluded

from connectstore import (
    DEFAULT_TTL,
    CircuitBreaker,
    JSONSerializer,
    SerializationError,
    Serializer,
    SessionData,
    SessionDecodeError,
    Store,
    StoreError,
    StoreURLError,
    decode_session,
    is_expired,
    now_ms,
    redact_url,
    session_expires,
)
from connectstore_surrealdb import queries
from connectstore_surrealdb.auth import Auth, auth_from
from connectstore_surrealdb.connection import Connection, SurrealClient
from connectstore_surrealdb.one_writer import OneWriterPerSid
from connectstore_surrealdb.sweeper import Sweeper

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

#: Expiries are clamped to the end of year 9999: SurrealDB datetimes end long before JavaScript's.
MAX_EXPIRES_MS: Final = 253_402_300_799_999

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")


class SurrealDBStore(Store):
    """A session store on SurrealDB (a server over ``ws``/``http``, or the embedded engine).

    Nothing is done at construction; the connection opens on first use (or ``open()`` /
    ``async with``), reopens by itself after it drops, and each event loop that calls the
    store gets its own (the embedded engine is shared by all). Options (all keyword-only
    but ``url``; the package README has the details):

    * ``url``: the SDK URL, ``ws://``, ``wss://``, ``http://``, ``https://`` (a server),
      ``mem://`` or ``surrealkv://path`` (the engine in this process). No credentials in it.
    * ``namespace``, ``database``: where the sessions live (default ``"main"``).
    * ``auth``: ``RootAuth``/``NamespaceAuth``/``DatabaseAuth``/``TokenAuth``, a mapping
      shaped as connect-surreal's ``signinOpts`` (``{"username": ..., "password": ...}``,
      plus ``"namespace"``/``"database"`` for those users, or ``{"token": ...}``), or None.
    * ``table``: the sessions' table, an identifier (default ``"user_session"``).
    * ``ttl``: seconds a session without cookie expiry lives (default 86400).
    * ``auto_sweep_expired``, ``sweep_interval``: the background sweep and its period in
      seconds (off; 600).
    * ``timeout``: seconds one call may take, connecting included (default 5).
    * ``page_size``: sessions read per query by the listings and ``length`` (default 100).
    * ``failure_threshold``, ``retry_interval``: a server's circuit breaker: after that many
      consecutive failed calls, calls fail at once with ``StoreUnavailableError`` and one
      call every ``retry_interval`` seconds probes the server (defaults 2 and 0.25 s).
    * ``serializer``: a ``connectstore.Serializer`` (default ``JSONSerializer()``).
    * ``client``: an SDK connection you opened, used as is (a WebSocket one only on its loop).
    """

    capabilities = frozenset({"touch", "all", "clear", "length", "ids", "items"})

    def __init__(
        self,
        url: str = "mem://",
        *,
        namespace: str = "main",
        database: str = "main",
        auth: Auth | Mapping[str, str] | None = None,
        table: str = "user_session",
        ttl: float = DEFAULT_TTL,
        auto_sweep_expired: bool = False,
        sweep_interval: float = 600.0,
        timeout: float = 5.0,
        page_size: int = 100,
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
        if not (isinstance(page_size, int) and page_size > 0):
            raise ValueError(f"page_size must be a positive integer, not {page_size!r}")
        self.url = url
        self.table = table
        self.ttl = ttl
        self.page_size = page_size
        self.auto_sweep_expired = auto_sweep_expired
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
        self._sweeper = Sweeper(self.sweep, sweep_interval)
        self._writers = OneWriterPerSid()
        self._closed = False

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
    def sweeping(self) -> bool:
        """Whether the background sweep task is running."""
        return self._sweeper.running

    async def open(self) -> None:
        """Connect now (instead of on first use) and start the sweep if it is enabled."""
        await self._query("RETURN true", {})

    async def __aenter__(self) -> SurrealDBStore:
        await self.open()
        return self

    async def get(self, sid: str) -> SessionData | None:
        """The live session under ``sid``, or None when it is missing or expired."""
        now = now_ms()
        row = await self._query(queries.GET, {"rid": self._rid(sid), "now": now})
        if row is None:
            return None
        session = self._decode(sid, row)
        return None if _cookie_expired(sid, session, now) else session

    async def set(self, sid: str, session: SessionData) -> None:
        """Write ``session`` under ``sid``; an expiry already past deletes it instead."""
        rid = self._rid(sid)
        cookie, data = self._encode(session)
        now = now_ms()
        expires = self._expires(session, now)
        if expires <= now:
            await self._write(sid, queries.DESTROY, {"rid": rid})
            return
        await self._write(sid, queries.SET, {"rid": rid, "cookie": cookie, "sess": data, "expires": expires})

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
        now = now_ms()
        expires = self._expires(session, now)
        if expires <= now:
            await self._write(sid, queries.DESTROY, {"rid": rid})
            return
        await self._write(sid, queries.TOUCH, {"rid": rid, "cookie": cookie, "expires": expires, "now": now})

    async def _write(self, sid: str, query: str, variables: dict[str, Any]) -> None:
        """Send a statement that writes ``sid``, after this store's earlier writes to it."""
        async with self._writers.turn(sid):
            await self._query(query, variables)

    async def all(self) -> dict[str, SessionData]:
        """Every live session keyed by sid."""
        return {sid: session async for sid, session in self.items()}

    async def clear(self) -> None:
        """Delete every record of the store's table (the table belongs to the store)."""
        await self._query(queries.CLEAR, {"table": self.table})

    async def length(self) -> int:
        """The number of live sessions (read ``page_size`` at a time: each cookie is checked)."""
        count = 0
        async for _ in self.ids():
            count += 1
        return count

    async def ids(self) -> AsyncIterator[str]:
        """Ids of live sessions, read ``page_size`` at a time in id order.

        A session whose cookie cannot be read is listed (``get`` reports it); one whose
        cookie says it has expired is not.
        """
        after: str | None = None
        while True:
            now = now_ms()
            page = await self._query(
                queries.PAGE_COOKIES, {"range": self._range(after), "now": now, "limit": self.page_size}
            )
            for row in page:
                if not self._cookie_says_expired(row.get("cookie"), now):
                    yield row["sid"]
            if len(page) < self.page_size:
                return
            after = page[-1]["sid"]

    async def items(self) -> AsyncIterator[tuple[str, SessionData]]:
        """``(sid, session)`` for live sessions, read ``page_size`` at a time in id order."""
        after: str | None = None
        while True:
            now = now_ms()
            page = await self._query(
                queries.PAGE, {"range": self._range(after), "now": now, "limit": self.page_size}
            )
            for row in page:
                session = self._decode(row["sid"], row)
                if not _cookie_expired(row["sid"], session, now):
                    yield row["sid"], session
            if len(page) < self.page_size:
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
        """Stop the sweep and close the connection the store opened. Safe to call twice."""
        self._closed = True
        await self._sweeper.stop()
        await self._connection.close()

    async def _query(self, sql: str, params: dict[str, Any]) -> Any:
        if self._closed:
            raise StoreError(f"{self!r} is closed")
        if self.auto_sweep_expired and not self._sweeper.running:
            self._sweeper.start()
        return await self._connection.query(sql, params)

    def _cookie_says_expired(self, cookie: object, now: int) -> bool:
        """Whether a stored cookie text readably says its session has expired."""
        try:
            return _cookie_expired("", decode_session(self.serializer, "", cookie), now)  # type: ignore[arg-type]
        except SessionDecodeError:
            return False

    def _rid(self, sid: str) -> RecordID:
        if not isinstance(sid, str):
            raise TypeError(f"a session id must be a str, not {type(sid).__name__}")
        return RecordID(self.table, sid)

    def _range(self, after: str | None) -> RecordID:
        """Every string id of the table after ``after`` (all of them for None)."""
        begin = BoundIncluded("") if after is None else BoundExcluded(after)
        return RecordID(self.table, Range(begin, BoundExcluded([])))

    def _expires(self, session: SessionData, now: int) -> int:
        expires = session_expires(session)
        return min(now + round(self.ttl * 1000) if expires is None else expires, MAX_EXPIRES_MS)

    def _encode(self, session: SessionData) -> tuple[str, str]:
        """The cookie and the rest of the session as JSON text; raises before anything is written."""
        if not isinstance(session, Mapping):
            raise SerializationError(f"a session must be a mapping, not {type(session).__name__}")
        cookie = {"cookie": session["cookie"]} if "cookie" in session else {}
        data = {key: value for key, value in session.items() if key != "cookie"}
        return self.serializer.dumps(cookie), self.serializer.dumps(data)

    def _decode(self, sid: str, row: Mapping[str, Any]) -> SessionData:
        cookie = decode_session(self.serializer, sid, row.get("cookie"))  # type: ignore[arg-type]
        data = decode_session(self.serializer, sid, row.get("sess"))  # type: ignore[arg-type]
        return {**cookie, **data}


def _cookie_expired(sid: str, session: SessionData, now: int) -> bool:
    """Whether the session's own ``cookie.expires`` is past (whatever the record's ``expires`` says).

    An unreadable expiry is corrupt stored data: :class:`SessionDecodeError` naming ``sid``.
    """
    try:
        return is_expired(session, now=now)
    except SerializationError as exc:
        raise SessionDecodeError(str(exc), sid=sid) from exc
