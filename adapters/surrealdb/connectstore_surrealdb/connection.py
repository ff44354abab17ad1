"""SurrealDB connections that fail fast, heal themselves and follow the caller's event loop.

The SDK's connection objects are "to be used once and discarded": when a WebSocket drops,
the SDK cancels the calls in flight (or raises ``KeyError`` from inside them) and every
later call fails. :class:`Connection` hides that. Every call runs under a deadline, a
failure caused by the transport (or a deadline) becomes :class:`StoreUnavailableError`
and throws the SDK connection away, and the next call opens a new one: connect, sign in
again, select the namespace and database again.

How a call fails (deadlines, unavailable or refused) is :mod:`connectstore_surrealdb.failures`.

A WebSocket belongs to the event loop that opened it, so each loop that calls the store
gets its own (a :class:`_Link`), opened on its first call there; the WebSocket of a loop
that ends is closed as the loop cancels its tasks. The embedded engine (``mem://``,
``surrealkv://``) is one SDK object shared by every loop: it works from any of them, and
a second one would be a second, empty, database.

For a server, a :class:`~connectstore.CircuitBreaker` remembers that it is down: calls
then fail at once while one call at a time probes for its return.

:meth:`Connection.close` closes what it opened (never a connection the caller gave), and
the next call opens anew: a server's data is unchanged, ``surrealkv://`` reopens its files,
and a ``mem://`` engine, whose data lives only in it, starts again empty.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import random
import threading
from collections.abc import Awaitable, Coroutine
from typing import TYPE_CHECKING, Any, TypeVar, Union, cast

from connectstore import CircuitBreaker, StoreError, StoreUnavailableError
from connectstore.deadlines import Deadlines
from connectstore_surrealdb.auth import Auth, TokenAuth
from connectstore_surrealdb.failures import CallFailure, ConflictError, bounded, secrets_of

__all__ = ["Connection", "SurrealClient"]

logger = logging.getLogger("connectstore_surrealdb")

if TYPE_CHECKING:
    from surrealdb import AsyncEmbeddedSurrealConnection, AsyncHttpSurrealConnection, AsyncWsSurrealConnection

SurrealClient = Union[
    "AsyncEmbeddedSurrealConnection", "AsyncHttpSurrealConnection", "AsyncWsSurrealConnection"
]
"""An async connection object of the ``surrealdb`` SDK."""


class _SDK:
    """The ``surrealdb`` SDK's connection classes, imported when the first Connection is made
    (the SDK takes about half a second to import: ``import connectstore_surrealdb`` does not).
    """

    ws: type[AsyncWsSurrealConnection]
    embedded: type[AsyncEmbeddedSurrealConnection]
    http: type[AsyncHttpSurrealConnection]
    #: Connections that can always carry calls (no socket of their own to lose).
    steady: tuple[type[Any], ...] = ()

    @classmethod
    def load(cls) -> None:
        if cls.steady:
            return
        from surrealdb import (
            AsyncEmbeddedSurrealConnection,
            AsyncHttpSurrealConnection,
            AsyncWsSurrealConnection,
        )

        cls.ws, cls.embedded, cls.http = (
            AsyncWsSurrealConnection,
            AsyncEmbeddedSurrealConnection,
            AsyncHttpSurrealConnection,
        )
        cls.steady = (AsyncEmbeddedSurrealConnection, AsyncHttpSurrealConnection)


T = TypeVar("T")


class _Link:
    """What the calls of one event loop share: their SDK connection, the lock that opens it,
    and the SDK calls in flight (each runs on, even when its caller is cancelled).
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, timeout: float) -> None:
        self.loop = loop
        self.client: SurrealClient | None = None
        self.opening = asyncio.Lock()
        self.calls: set[asyncio.Future[Any]] = set()
        # The deadlines of the embedded engine's calls, run in the callers' own tasks: one
        # sweep per quarter of the timeout instead of a timer per call.
        self.deadlines = Deadlines(timeout / 4)


class Connection:
    """Lazily opened SDK connections (one per event loop) to one namespace and database.

    ``url`` carries no credential (the store refuses one there), so it may appear in
    messages; ``auth``'s secrets are scrubbed from every message that could echo them.
    ``client``, when given, is an SDK connection the caller opened (and signed in, and
    pointed at a namespace and database); it is used as is, never reopened and never
    closed, and a WebSocket one only on the event loop that opened it. ``embedded`` says
    that ``url`` names the engine in this process (one SDK object for every loop).
    ``breaker``, when given, makes calls fail at once while the server is known to be down.
    """

    def __init__(
        self,
        url: str,
        *,
        namespace: str,
        database: str,
        auth: Auth | None,
        timeout: float,
        embedded: bool,
        client: SurrealClient | None = None,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        _SDK.load()
        self.url = url
        self.embedded = embedded
        self.namespace = namespace
        self.database = database
        self.auth = auth
        self.timeout = timeout
        self.breaker = breaker
        self._given = client
        self._shared: SurrealClient | None = client  # the given or the embedded client
        self._links: dict[asyncio.AbstractEventLoop, _Link] = {}
        self._guard = threading.Lock()  # loops in several threads may share the store
        self._secrets = secrets_of(auth)

    @property
    def client(self) -> SurrealClient | None:
        """The SDK connection the running event loop uses (or the shared one), if open."""
        try:
            link = self._links.get(asyncio.get_running_loop())
        except RuntimeError:
            link = None
        if link is not None and link.client is not None:
            return link.client
        return self._shared

    async def query(self, sql: str, params: dict[str, Any]) -> Any:
        """Run one SurrealQL statement with bound ``params`` and return its result.

        Raises :class:`StoreUnavailableError` when SurrealDB cannot be reached, does not
        answer within the timeout, or is known to be down (the breaker is open);
        :class:`StoreError` when it refuses the statement.
        """
        link = self._link()
        if self.breaker is None:
            return await self._query(link, sql, params)
        return await self.breaker.call(lambda: self._query(link, sql, params))

    async def close(self) -> None:
        """Close the SDK connections this object opened (never a given one), on every loop.

        The calling loop's calls still in flight (a cancelled caller's call runs on) are
        awaited first, within the timeout, so that none is left pending.
        """
        loop = asyncio.get_running_loop()
        here = self._links.get(loop)
        if here is not None and here.calls:
            await asyncio.wait(set(here.calls), timeout=self.timeout)
        with self._guard:
            links, self._links = list(self._links.values()), {}
            shared, self._shared = self._shared, self._given
        for link in links:
            client, link.client = link.client, None
            if client is None or client is self._given or client is shared:
                continue
            if link.loop is loop:
                await _close_quietly(client, self.timeout)
            elif link.loop.is_running():  # a loop in another thread: close it there, and wait
                there = asyncio.run_coroutine_threadsafe(_close_quietly(client, self.timeout), link.loop)
                done, _ = await asyncio.wait({asyncio.wrap_future(there)}, timeout=self.timeout)
                if not done:  # that loop is stuck: at least drop the socket
                    there.cancel()
                    with contextlib.suppress(RuntimeError):  # closed meanwhile
                        link.loop.call_soon_threadsafe(_abort, client)
            else:
                _abort(client)
        if shared is not None and shared is not self._given:
            await _close_quietly(shared, self.timeout)

    def _link(self) -> _Link:
        """The running loop's link (made on its first call); forgets the links of closed loops."""
        loop = asyncio.get_running_loop()
        link = self._links.get(loop)
        if link is not None:
            return link
        given = self._given
        if isinstance(given, _SDK.ws) and given.loop not in (None, loop):
            raise StoreError(
                f"the SurrealDB connection given to the store ({self.url}) belongs to another event "
                "loop, and a WebSocket cannot move to this one: call the store from the loop that "
                "opened the connection, or pass the URL and auth instead of client= so that the "
                "store opens a connection on each loop that calls it"
            )
        with self._guard:
            for old in [old for old in self._links.values() if old.loop.is_closed()]:
                del self._links[old.loop]
                if old.client is not None and old.client is not self._shared:
                    _abort(old.client)  # its loop ended without cancelling its tasks
            link = self._links.setdefault(loop, _Link(loop, self.timeout))
            link.client = link.client or self._given
        return link

    async def _query(self, link: _Link, sql: str, params: dict[str, Any]) -> Any:
        loop = link.loop
        deadline = loop.time() + self.timeout
        for attempt in itertools.count():
            client = await self._ready(link, deadline)
            try:
                return await self._bounded(link, client, client.query(sql, params), deadline, "query")
            except ConflictError:
                # Concurrent writes to one record: SurrealDB asks us to retry, with jitter.
                pause = random.uniform(0, min(0.05, 0.001 * 2**attempt))
                if loop.time() + pause >= deadline:
                    raise
                await asyncio.sleep(pause)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _ready(self, link: _Link, deadline: float) -> SurrealClient:
        """The loop's open SDK connection, opening a new one if there is none or it has dropped."""
        client = link.client
        if client is not None and _alive(client):
            return client
        if self._given is not None:
            raise StoreUnavailableError(f"the SurrealDB connection given to the store ({self.url}) is closed")
        async with link.opening:
            client = link.client
            if client is not None and _alive(client):
                return client
            if client is not None:
                logger.info("SurrealDB connection to %s dropped; reconnecting", self.url)
                self._forget(link, client)
            client = self._new_client()
            await self._bounded(link, client, self._open(client), deadline, "connect")
            link.client = client
            if isinstance(client, _SDK.ws) and client.recv_task is not None:
                # When the loop ends (it cancels its tasks) or the peer goes, let the socket go too.
                client.recv_task.add_done_callback(lambda _: _abort(client))
            return client

    def _new_client(self) -> SurrealClient:
        """A new SDK connection to a server, or the one embedded engine every loop shares."""
        from surrealdb import AsyncSurreal

        if not self.embedded:
            return AsyncSurreal(self.url)
        with self._guard:
            if self._shared is None:
                self._shared = AsyncSurreal(self.url)
            return self._shared

    async def _open(self, client: SurrealClient) -> None:
        # Connecting, signing in and selecting again are harmless on the shared embedded engine.
        if not isinstance(client, _SDK.http):
            await cast("AsyncWsSurrealConnection", client).connect()
        if isinstance(self.auth, TokenAuth):
            await client.authenticate(self.auth.token)
        elif self.auth is not None:
            await client.signin(dict(self.auth.signin_params(self.namespace, self.database)))
        await client.use(self.namespace, self.database)

    async def _bounded(
        self, link: _Link, client: SurrealClient, call: Coroutine[Any, Any, T], deadline: float, what: str
    ) -> T:
        """Await ``call`` until ``deadline``; a failure drops ``client`` when the next call needs another."""
        failure = CallFailure(
            url=self.url,
            what=what,
            timeout=self.timeout,
            secrets=self._secrets,
            alive=lambda: _alive(client),
            drop=lambda: self._forget(link, client),
        )
        return await bounded(
            call,
            failure,
            remaining=deadline - link.loop.time(),
            running=link.calls,
            # in the caller's task for the embedded engine: no frame to tear, no socket to lose
            deadlines=link.deadlines if isinstance(client, _SDK.embedded) else None,
        )

    def _forget(self, link: _Link, client: SurrealClient) -> None:
        """Drop ``client`` so that the next call opens a new connection (a shared one stays)."""
        if client is self._shared:
            return
        if link.client is client:
            link.client = None
        _abort(client)  # a dead peer must not slow the failing call with a closing handshake


def _alive(client: SurrealClient) -> bool:
    """Whether an SDK connection can still carry calls (a WebSocket whose reader still runs)."""
    if isinstance(client, _SDK.steady):
        return True
    ws = cast("AsyncWsSurrealConnection", client)
    reader, socket = ws.recv_task, ws.socket
    if socket is None or reader is None or reader.done():
        return False
    return not socket.transport.is_closing()  # dropped, its reader not yet told


def _abort(client: SurrealClient) -> None:
    """Drop a WebSocket at once, without a closing handshake (nothing to do for other clients)."""
    if isinstance(client, _SDK.ws) and client.socket is not None:
        with contextlib.suppress(RuntimeError):  # its loop is closed: nothing more can be done
            client.socket.transport.abort()


async def _close_quietly(client: SurrealClient, timeout: float) -> None:
    try:
        closing: Awaitable[None] = client.close()
        await asyncio.wait_for(closing, timeout=timeout)
    except Exception as exc:  # a broken connection may fail to close: it is gone either way
        logger.debug("closing a SurrealDB connection failed: %r", exc)
        _abort(client)
