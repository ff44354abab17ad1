"""The real SurrealDB engine served over WebSocket RPC on 127.0.0.1, without a server binary.

The ``surrealdb`` wheel carries the engine in-process (``AsyncEmbeddedDB``); its
``execute()`` takes the very CBOR frames a SurrealDB server reads from its ``/rpc``
WebSocket and returns the frames it would send back. Serving it with ``websockets``
(subprotocol ``cbor``) gives the store's ``ws://`` path a real peer that tests can kill
and restart on the same port. Differences from ``surreal start``: the engine's errors
arrive as exceptions and are turned into RPC error frames here, and every connection
shares the engine's one session (signin and namespace/database selection).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Coroutine
from types import TracebackType
from typing import Any, TypeVar

import websockets
from surrealdb._surrealdb_ext import AsyncEmbeddedDB
from surrealdb.data.cbor import decode, encode
from websockets.asyncio.server import Server, ServerConnection

T = TypeVar("T")

ROOT_USER = "root"
ROOT_PASSWORD = "s3cret pass word"  # written into DEFINE USER as a literal: no quote in it


class LoopbackSurreal:
    """One engine, served at ``ws://127.0.0.1:PORT/rpc`` while running.

    ``stop()`` kills the listener and every connection (no closing handshake, as when a
    server process dies); ``start()`` serves again on the same port with the same data.
    ``methods`` records every RPC method received. ``hold = True`` makes it stop answering
    (a hung server): calls received meanwhile wait, and are answered once ``hold`` is set
    back to False, as a server that recovers answers what it had received.
    """

    def __init__(self, engine_url: str = "mem://") -> None:
        self.engine = AsyncEmbeddedDB(engine_url)
        self.port = 0
        self.methods: list[str] = []
        self._answering = asyncio.Event()
        self._answering.set()
        self._server: Server | None = None
        self._work: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        """The SDK URL of the server."""
        return f"ws://127.0.0.1:{self.port}/rpc"

    @property
    def hold(self) -> bool:
        """Whether the server has stopped answering (the calls it receives wait)."""
        return not self._answering.is_set()

    @hold.setter
    def hold(self, value: bool) -> None:
        if value:
            self._answering.clear()
        else:
            self._answering.set()

    async def open(self) -> None:
        """Start the engine, define the root user, and serve."""
        await self.engine.connect()
        await self.rpc(
            "query", [f"DEFINE USER {ROOT_USER} ON ROOT PASSWORD '{ROOT_PASSWORD}' ROLES OWNER", {}]
        )
        await self.start()

    async def rpc(self, method: str, params: list[Any]) -> Any:
        """Run one RPC call on the engine directly (setup and inspection)."""
        reply = decode(
            await self.engine.execute(encode({"id": "direct", "method": method, "params": params}))
        )
        return reply.get("result")

    async def start(self) -> None:
        """Serve on ``self.port`` (a free port the first time)."""
        self._server = await websockets.serve(
            self._serve, "127.0.0.1", self.port, subprotocols=[websockets.Subprotocol("cbor")], max_size=None
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Kill the server: drop every connection without a closing handshake, stop listening."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close(close_connections=False)
        for connection in list(server.connections):
            connection.transport.abort()
        for task in list(self._work):
            task.cancel()
        await server.wait_closed()
        if self._work:
            await asyncio.wait(set(self._work))

    async def close(self) -> None:
        """Stop serving and shut the engine down."""
        await self.stop()
        await self.engine.close()

    async def _serve(self, connection: ServerConnection) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            async for frame in connection:
                task = asyncio.ensure_future(self._answer(connection, frame))
                self._work.add(task)
                task.add_done_callback(self._work.discard)

    async def _answer(self, connection: ServerConnection, frame: str | bytes) -> None:
        request = decode(frame if isinstance(frame, bytes) else frame.encode())
        self.methods.append(str(request.get("method")))
        await self._answering.wait()
        try:
            reply = await self.engine.execute(frame if isinstance(frame, bytes) else frame.encode())
        except Exception as exc:  # the engine raises where a server sends an error frame
            reply = encode({"id": request.get("id"), "error": {"code": -32000, "message": str(exc)}})
        with contextlib.suppress(websockets.ConnectionClosed):
            await connection.send(reply)


class ThreadedSurreal:
    """A :class:`LoopbackSurreal` run by an event loop of its own in a thread.

    For tests whose own event loops come and go (``asyncio.run`` twice, Starlette's
    ``TestClient`` without ``with``): the server outlives each of them. ``call(coro)`` runs
    a coroutine on the server's loop and returns its result.
    """

    BOUND = 60.0  # seconds; a server call that takes longer has hung

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="surreal-test-server", daemon=True)
        self.server = LoopbackSurreal()

    @property
    def url(self) -> str:
        """The SDK URL of the server."""
        return self.server.url

    def call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run ``coroutine`` on the server's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(self.BOUND)

    def __enter__(self) -> ThreadedSurreal:
        self._thread.start()
        self.call(self.server.open())
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            self.call(self.server.close())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(self.BOUND)
            self.loop.close()
