"""Automatic pipelining: the commands concurrent callers issue in one loop turn leave in one write.

redis-py sends each command on a connection of its own from the pool and waits for the
reply before the connection serves anyone else, so 32 concurrent callers cost 32 writes,
32 reads and 32 trips through the pool. :class:`AutoPipeline` (ioredis's
``enableAutoPipelining``) keeps one dedicated connection, taken from the client's own pool
(so the client's host, TLS, credentials, RESP version and parser all apply), and:

* a command issued while nothing is in flight is written at once (one caller pays no
  batching delay);
* commands issued while others are in flight are collected and written together by one
  ``loop.call_soon`` callback: everything issued in the same loop turn leaves in one write;
* one reader task reads the replies in order and hands each to its caller's future; it
  ends as soon as no command is in flight (the next command starts another), so an idle
  pipeline has no task: a loop that ends, however it ends (closed without
  ``shutdown_asyncgens``, or a daemon thread's loop at interpreter exit), is never left
  with one pending.

Semantics per call are those of a plain call: an error reply (``WRONGTYPE``,
``NOSCRIPT`` ...) fails its own caller only; a connection error (or a connection that
made no progress for a whole timeout) fails every caller in flight on it with redis-py's
``ConnectionError``, which the store maps to :class:`~connectstore.StoreUnavailableError`
and feeds to its breaker. While the connection is being (re)opened, in the background,
commands take redis-py's own path, so a caller never waits on another caller's connect
(and a redis-py whose connections lack the stream writer written to here keeps that path). Deadlines, the
concurrency limit and the breaker stay in :class:`~connectstore_redis.failures.Bounded`,
around each call. A cancelled caller's reply is read and dropped.
"""

from __future__ import annotations

import asyncio
import collections
from typing import Any

from redis.asyncio import Redis, RedisCluster
from redis.asyncio.connection import AbstractConnection
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from connectstore_redis.resp import pack, read_reply

__all__ = ["AutoPipeline"]


class AutoPipeline:
    """Sends the commands of one event loop's callers over one connection, batched per loop turn.

    ``client`` lends the connection (one of its pool's, held until :meth:`close`; or one of
    ``pool``'s: anything with ``get_available_connection()`` and ``async release(conn)``, such
    as a Cluster node's :class:`~connectstore_redis.cluster_pipeline.NodeConnections`) and
    sends the commands while it is being opened;
    ``timeout`` is the store's per-call timeout: a connection that returned no reply for
    that long while callers waited is dropped when one of them gives up. ``writes`` and
    ``commands`` count socket writes and commands sent (for tests and benchmarks).
    """

    __slots__ = (
        "_client",
        "_conn",
        "_connecting",
        "_flush_handle",
        "_last_progress",
        "_loop",
        "_pending",
        "_pending_futures",
        "_pool",
        "_reader",
        "_supported",
        "_timeout",
        "_waiting",
        "commands",
        "writes",
    )

    def __init__(self, client: Redis | RedisCluster, timeout: float, *, pool: Any = None) -> None:
        if pool is None:
            assert isinstance(client, Redis), "a Cluster client's pipeline borrows from a node (pool=)"
            pool = client.connection_pool
        self._client = client
        self._pool = pool
        self._timeout = timeout
        self._loop: asyncio.AbstractEventLoop | None = None
        self._conn: AbstractConnection | None = None
        self._connecting: asyncio.Task[None] | None = None
        self._waiting: collections.deque[asyncio.Future[Any]] = collections.deque()
        self._pending: list[bytes] = []
        self._pending_futures: list[asyncio.Future[Any]] = []
        self._flush_handle: asyncio.Handle | None = None
        self._reader: asyncio.Task[None] | None = None
        """The reader task: running while commands are in flight, done (or None) when idle."""
        self._last_progress = 0.0
        self._supported = True
        self.writes = 0
        self.commands = 0

    async def execute(self, *args: Any) -> Any:
        """Send one command (batched with this loop turn's others) and return its reply.

        Raises the reply's ``ResponseError`` when Redis answered with an error, redis-py's
        ``ConnectionError`` when the connection failed.
        """
        conn = self._conn
        if conn is None or not conn.is_connected:  # (re)connecting: redis-py's path meanwhile
            if self._supported:
                self._start_connecting()
            return await self._client.execute_command(*args)
        loop = self._loop
        assert loop is not None
        future: asyncio.Future[Any] = loop.create_future()
        packed = pack(conn, args)
        self.commands += 1
        if self._waiting or self._pending_futures:  # busy: join this loop turn's batch
            self._pending.append(packed)
            self._pending_futures.append(future)
            if self._flush_handle is None:
                self._flush_handle = loop.call_soon(self._flush)
        else:
            self._write(conn, packed, [future])
        try:
            return await future
        except asyncio.CancelledError:
            self._gave_up(loop)
            raise

    def _flush(self) -> None:
        """Write the commands collected in this loop turn, in one write."""
        self._flush_handle = None
        packed, futures = self._pending, self._pending_futures
        self._pending, self._pending_futures = [], []
        conn = self._conn
        if conn is None:  # the connection failed since they were queued
            _fail(futures, RedisConnectionError("the connection to Redis was lost"))
            return
        self._write(conn, b"".join(packed), futures)

    def _write(self, conn: AbstractConnection, data: bytes, futures: list[Any]) -> None:
        writer = getattr(conn, "_writer", None)  # redis-py's StreamWriter of a connected connection
        if writer is None or not conn.is_connected:
            _fail(futures, RedisConnectionError("the connection to Redis was lost"))
            self._reset()
            return
        writer.write(data)  # buffered by the transport: the loop never blocks here
        self.writes += 1
        loop = self._loop
        assert loop is not None
        if not self._waiting:
            self._last_progress = loop.time()
        self._waiting.extend(futures)
        reader = self._reader
        if reader is None or reader.done():  # idle: the last reader has ended
            self._reader = loop.create_task(self._read(conn))

    async def _read(self, conn: AbstractConnection) -> None:
        """Hand each reply, in order, to the caller whose command it answers; end when none
        is in flight (a :meth:`_write` while this task runs adds to what it reads).
        """
        waiting = self._waiting
        loop = self._loop
        assert loop is not None
        # No socket timeout per reply (a timer each): a stalled connection is dropped when a
        # caller gives up (see _gave_up).
        reader = conn._reader  # redis-py's StreamReader (see _connect)
        assert reader is not None
        try:
            while waiting:
                reply = await read_reply(reader, conn)  # an error reply: its caller's only
                self._last_progress = loop.time()
                future = waiting.popleft()
                if future.done():  # its caller gave up (timeout or cancellation)
                    continue
                if isinstance(reply, ResponseError):
                    future.set_exception(reply)
                else:
                    future.set_result(reply)
        except BaseException as exc:
            self._forget(conn)
            if not _runs_on(loop):
                # The task was destroyed unfinished (its coroutine closed by the garbage
                # collector, its loop closed or gone with its thread): nothing can run on
                # that loop, and its callers are gone too (redis-py may have turned the
                # GeneratorExit into a RuntimeError). End quietly.
                return
            error = exc if isinstance(exc, Exception) else RedisConnectionError("the connection was reset")
            _fail(list(waiting), error)
            waiting.clear()
            _fail(self._pending_futures, error)
            self._pending, self._pending_futures = [], []
            await _discard(conn, self._pool)
            if isinstance(exc, (Exception, asyncio.CancelledError)):
                return  # the failure went to the callers; the next command reconnects
            raise

    def _forget(self, conn: AbstractConnection) -> None:
        """Stop using ``conn`` (the reader's connection, which failed or was dropped)."""
        if self._conn is conn:
            self._conn = None

    def _gave_up(self, loop: asyncio.AbstractEventLoop) -> None:
        """A caller was cancelled: drop the connection if it has been stalled for a whole timeout."""
        if self._waiting and loop.time() - self._last_progress >= self._timeout:
            self._reset()

    def _reset(self) -> None:
        """Fail every caller in flight and drop the connection (the reader task does both)."""
        reader = self._reader
        if reader is not None and not reader.done():
            reader.cancel()
        elif self._conn is not None:
            conn, self._conn = self._conn, None
            _fail(list(self._waiting), RedisConnectionError("the connection to Redis was reset"))
            self._waiting.clear()
            loop = self._loop
            assert loop is not None
            loop.create_task(_discard(conn, self._pool))

    def open(self) -> None:
        """Start opening the connection in the background, before the first command needs it."""
        if self._supported and (self._conn is None or not self._conn.is_connected):
            self._start_connecting()

    def _start_connecting(self) -> None:
        """Open this pipeline's connection in the background (one attempt at a time)."""
        if self._conn is not None:  # disconnected under us (e.g. the client was closed)
            self._reset()
        if self._connecting is None:
            if self._loop is None:
                self._loop = asyncio.get_running_loop()
            self._connecting = self._loop.create_task(self._connect())

    async def _connect(self) -> None:
        """Borrow a connection from the client's pool and open it afresh (a pooled one may be
        stale: a server restarted since). On failure the callers go on using the client's
        own path, which reports why; the next command tries again.
        """
        try:
            conn: AbstractConnection = self._pool.get_available_connection()
        except Exception:  # the pool is full: the client's own path meanwhile
            self._connecting = None
            return
        opened = False
        try:
            await conn.disconnect()
            await asyncio.wait_for(conn.connect(), self._timeout)  # type: ignore[no-untyped-call]
            # read and written directly (see _read, _write): a redis-py without them keeps its own path
            self._supported = opened = _streams_of(conn)
        except Exception:  # as above
            pass
        finally:
            self._connecting = None
            if opened:
                self._conn = conn
            else:
                await self._pool.release(conn)

    async def close(self) -> None:
        """Stop the reader and give the connection back to the client's pool."""
        connecting = self._connecting
        if connecting is not None:
            connecting.cancel()
            await asyncio.gather(connecting, return_exceptions=True)
        reader, self._reader = self._reader, None
        conn, self._conn = self._conn, None
        if reader is not None and not reader.done():
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)
        elif conn is not None:
            await _discard(conn, self._pool)


def _streams_of(conn: AbstractConnection) -> bool:
    """Whether ``conn`` (connected) has the stream reader and writer read and written here."""
    return getattr(conn, "_writer", None) is not None and getattr(conn, "_reader", None) is not None


def _runs_on(loop: asyncio.AbstractEventLoop) -> bool:
    """Whether this code runs on ``loop`` (False outside any running loop)."""
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


def _fail(futures: list[asyncio.Future[Any]], error: BaseException) -> None:
    """Fail each future still waiting with a ``ConnectionError`` of its own (tracebacks differ)."""
    for future in futures:
        if not future.done():
            future.set_exception(RedisConnectionError(str(error) or type(error).__name__))


async def _discard(conn: AbstractConnection, pool: Any) -> None:
    """Disconnect ``conn`` and return it to ``pool`` (which reconnects it when next lent)."""
    try:
        await conn.disconnect(nowait=True)
    finally:
        await pool.release(conn)
