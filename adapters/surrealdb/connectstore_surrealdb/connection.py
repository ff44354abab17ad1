"""One SurrealDB connection that fails fast and heals itself.

The SDK's connection objects are "to be used once and discarded": when a WebSocket drops,
the SDK cancels the calls in flight (or raises ``KeyError`` from inside them) and every
later call fails. :class:`Connection` hides that. Every call runs under a deadline, a
failure caused by the transport (or a deadline) becomes :class:`StoreUnavailableError`
and throws the SDK connection away, and the next call opens a new one: connect, sign in
again, select the namespace and database again.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
from collections.abc import Awaitable, Coroutine
from typing import Any, TypeVar

import aiohttp
from surrealdb import (
    AsyncEmbeddedSurrealConnection,
    AsyncHttpSurrealConnection,
    AsyncSurreal,
    AsyncWsSurrealConnection,
)
from websockets.exceptions import WebSocketException

from connectstore import StoreError, StoreUnavailableError
from connectstore_surrealdb.auth import Auth, TokenAuth

__all__ = ["Connection", "SurrealClient"]

logger = logging.getLogger("connectstore_surrealdb")

SurrealClient = AsyncEmbeddedSurrealConnection | AsyncHttpSurrealConnection | AsyncWsSurrealConnection
"""An async connection object of the ``surrealdb`` SDK."""

T = TypeVar("T")

_RETRYABLE = "can be retried"  # how SurrealDB 2.x ends a transaction-conflict message


class _ConflictError(StoreError):
    """A write conflicted with a concurrent one; SurrealDB says to retry it."""


_TRANSPORT_ERRORS = (OSError, EOFError, WebSocketException, aiohttp.ClientError, asyncio.TimeoutError)


class Connection:
    """A lazily opened SDK connection to one namespace and database.

    ``client``, when given, is an SDK connection the caller opened (and signed in, and
    pointed at a namespace and database); it is used as is, never reopened and never closed.
    """

    def __init__(
        self,
        url: str,
        *,
        namespace: str,
        database: str,
        auth: Auth | None,
        timeout: float,
        client: SurrealClient | None = None,
    ) -> None:
        self.url = url
        self.namespace = namespace
        self.database = database
        self.auth = auth
        self.timeout = timeout
        self._given = client
        self._client: SurrealClient | None = client
        self._opening: asyncio.Lock | None = None
        self._closing: set[asyncio.Task[None]] = set()

    @property
    def client(self) -> SurrealClient | None:
        """The SDK connection currently open, if any."""
        return self._client

    async def query(self, sql: str, params: dict[str, Any]) -> Any:
        """Run one SurrealQL statement with bound ``params`` and return its result.

        Raises :class:`StoreUnavailableError` when SurrealDB cannot be reached or does not
        answer within the timeout, :class:`StoreError` when it refuses the statement.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        for attempt in itertools.count():
            client = await self._ready(deadline)
            try:
                return await self._bounded(client, client.query(sql, params), deadline, "query")
            except _ConflictError:
                # Concurrent writes to one record: SurrealDB asks us to retry, with jitter.
                pause = random.uniform(0, min(0.05, 0.001 * 2**attempt))
                if loop.time() + pause >= deadline:
                    raise
                await asyncio.sleep(pause)
        raise AssertionError("unreachable")  # pragma: no cover

    async def close(self) -> None:
        """Close the SDK connection this object opened (never a given one)."""
        client, self._client = self._client, None
        if client is not None and client is not self._given:
            self._discard(client)
        if self._closing:
            await asyncio.wait(set(self._closing), timeout=self.timeout)

    async def _ready(self, deadline: float) -> SurrealClient:
        """The open SDK connection, opening a new one if there is none or it has dropped."""
        client = self._client
        if client is not None and _alive(client):
            return client
        if self._given is not None:
            raise StoreUnavailableError(f"the SurrealDB connection given to the store ({self.url}) is closed")
        if self._opening is None:
            self._opening = asyncio.Lock()
        async with self._opening:
            client = self._client
            if client is not None and _alive(client):
                return client
            if client is not None:
                logger.info("SurrealDB connection to %s dropped; reconnecting", self.url)
                self._client = None
                self._discard(client)
            client = AsyncSurreal(self.url)
            await self._bounded(client, self._open(client), deadline, "connect")
            self._client = client
            return client

    async def _open(self, client: SurrealClient) -> None:
        if not isinstance(client, AsyncHttpSurrealConnection):
            await client.connect()
        if isinstance(self.auth, TokenAuth):
            await client.authenticate(self.auth.token)
        elif self.auth is not None:
            await client.signin(dict(self.auth.signin_params(self.namespace, self.database)))
        await client.use(self.namespace, self.database)

    async def _bounded(
        self, client: SurrealClient, call: Coroutine[Any, Any, T], deadline: float, what: str
    ) -> T:
        """Await ``call`` until ``deadline``; sort its failure into unavailable or refused.

        The call runs as its own task, so a cancellation coming from the SDK (it cancels
        the calls in flight when the socket drops) is told apart from our caller's own,
        and our caller's cancellation never tears a frame in half.
        """
        task = asyncio.ensure_future(call)
        task.add_done_callback(_mark_seen)
        remaining = max(0.0, deadline - asyncio.get_running_loop().time())
        # If our caller is cancelled, the call itself runs on: cancelling a WebSocket send
        # halfway would close the connection every other call shares.
        await asyncio.wait({task}, timeout=remaining)
        if not task.done():
            task.cancel()
            await _settle(task)
            self._forget(client)
            raise StoreUnavailableError(
                f"SurrealDB at {self.url} did not answer the {what} within {self.timeout}s"
            )
        if task.cancelled():
            self._forget(client)
            raise StoreUnavailableError(
                f"the connection to SurrealDB at {self.url} was lost during the {what}"
            )
        exc = task.exception()
        if exc is None:
            return task.result()
        if isinstance(exc, _TRANSPORT_ERRORS) or not _alive(client):
            self._forget(client)
            raise StoreUnavailableError(f"SurrealDB at {self.url} is unavailable ({what}): {exc!r}") from exc
        if what == "connect":
            self._forget(client)
        if _RETRYABLE in str(exc):
            raise _ConflictError(f"SurrealDB kept refusing the {what} for {self.timeout}s: {exc}") from exc
        raise StoreError(f"SurrealDB refused the {what}: {exc}") from exc

    def _forget(self, client: SurrealClient) -> None:
        """Drop ``client`` so that the next call opens a new connection."""
        if client is self._given:
            return
        if self._client is client:
            self._client = None
        self._discard(client)

    def _discard(self, client: SurrealClient) -> None:
        """Close ``client`` in the background (a dead peer must not slow the failing call)."""
        if isinstance(client, AsyncHttpSurrealConnection):
            return
        task = asyncio.ensure_future(_close_quietly(client))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)


def _alive(client: SurrealClient) -> bool:
    """Whether an SDK connection can still carry calls (a WebSocket whose reader still runs)."""
    if isinstance(client, (AsyncEmbeddedSurrealConnection, AsyncHttpSurrealConnection)):
        return True
    reader = client.recv_task
    return client.socket is not None and reader is not None and not reader.done()


def _mark_seen(task: asyncio.Future[Any]) -> None:
    """Retrieve a finished call's exception, so a call abandoned by its caller logs nothing."""
    if not task.cancelled():
        task.exception()


async def _settle(task: asyncio.Future[Any]) -> None:
    """Wait for a cancelled task to unwind."""
    await asyncio.wait({task})


async def _close_quietly(client: SurrealClient) -> None:
    try:
        closing: Awaitable[None] = client.close()
        await asyncio.wait_for(closing, timeout=5.0)
    except Exception as exc:  # a broken connection may fail to close: it is gone either way
        logger.debug("closing a SurrealDB connection failed: %r", exc)
