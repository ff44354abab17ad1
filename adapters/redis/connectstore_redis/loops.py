"""One store, any event loop: the client (and its deadlines) a store uses on each loop.

redis-py's asyncio clients belong to the loop they connect on: their connections, pool
lock and futures cannot be used from another loop ("Future attached to a different
loop"). Yet an application may well run one store on several loops, one after the other
(``asyncio.run()`` twice; Starlette's ``TestClient(app)`` without ``with`` runs each
request on a new loop) or side by side (threads).

* A client the store built (``from_url`` / ``open_store``) can be rebuilt: the store
  keeps one per loop it runs on. Each is closed cleanly when its loop shuts down
  (``asyncio.run``, ``asyncio.Runner`` and anyio close open async generators then, and a
  small one here closes the client), or by :meth:`LoopClients.close`, after which the
  next call builds a new one (calls after ``close()`` work, as the store contract says).
* A client the application passed in is the application's: the store cannot rebuild it,
  and reconnecting it behind the application's back would break its other users. The
  store runs on the first loop it is used on; on any other loop a call fails at once
  with a :class:`~connectstore.StoreError` saying what to do instead. ``close()`` never
  closes it, and the store goes on using it. When its loop shuts down, the store gives the
  pipeline's connection back to it and stops the pipeline's reader task.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import AsyncGenerator, Callable

from connectstore import StoreError
from connectstore_redis.failures import Bounded
from connectstore_redis.topology import Client, Topology

__all__ = ["Binding", "LoopClients"]


class Binding:
    """A client's use on one event loop: the client, its deadlines and its topology."""

    __slots__ = ("bounded", "client", "closer", "loop", "topology")

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        topology: Topology,
        closer: AsyncGenerator[None, None] | None,
    ) -> None:
        self.loop = loop
        self.topology = topology
        self.client: Client = topology.client
        self.bounded: Bounded = topology.bounded
        self.closer = closer


async def _close_when_loop_ends(topology: Topology, *, client_too: bool) -> AsyncGenerator[None, None]:
    """Suspended for the loop's lifetime; its ``finally`` closes ``topology`` (the pipeline's
    reader task and connection) on that loop, and its client when ``client_too`` (a client the
    store built; the application's own client stays open).

    The loop closes it at shutdown (``loop.shutdown_asyncgens()``), or the store does. So a
    loop that ends without ``store.close()`` is left with no task of the store's pending.
    """
    try:
        yield
    finally:
        try:
            await topology.close()
        finally:
            if client_too:
                await topology.client.aclose()


class LoopClients:
    """The :class:`Binding` of each event loop a store runs on.

    ``first`` is the client to use on the first loop. ``factory`` builds a client for each
    further loop; None means the client is the application's and serves one loop only.
    ``topology`` builds a loop's :class:`Topology` (with its own :class:`Bounded`) for a
    client. ``what`` names the store in error messages.
    """

    __slots__ = ("_bindings", "_factory", "_last", "_spare", "_topology", "owned", "what")

    def __init__(
        self,
        first: Client,
        *,
        factory: Callable[[], Client] | None,
        topology: Callable[[Client], Topology],
        what: str,
    ) -> None:
        self._spare: Client | None = first
        self._factory = factory
        self._topology = topology
        self.owned = factory is not None
        self.what = what
        self._bindings: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Binding] = (
            weakref.WeakKeyDictionary()
        )
        self._last: Binding | None = None

    @property
    def client(self) -> Client:
        """The client of the running loop, else the one used (or to be used) last."""
        with contextlib.suppress(RuntimeError):
            binding = self._bindings.get(asyncio.get_running_loop())
            if binding is not None:
                return binding.client
        if self._last is not None:
            return self._last.client
        if self._spare is None:  # closed: the next loop gets a new client
            self._spare = self._make()
        return self._spare

    async def current(self) -> Binding:
        """The binding of the running loop, made on first use of that loop."""
        loop = asyncio.get_running_loop()
        last = self._last
        if last is not None and last.loop is loop:
            return last
        binding = self._bindings.get(loop)
        if binding is None:
            binding = await self._bind(loop)
        self._last = binding
        return binding

    async def _bind(self, loop: asyncio.AbstractEventLoop) -> Binding:
        for old_loop in [old for old in self._bindings if old.is_closed()]:
            del self._bindings[old_loop]  # closed with its loop (or beyond saving)
        if not self.owned:
            if self._bindings:
                raise StoreError(
                    f"{self.what} was first used on another event loop, and the redis-py client "
                    "you passed in belongs to that loop (redis-py clients cannot move between "
                    "loops). Create the client and the store on the loop that uses them (e.g. in "
                    "the application's lifespan), or give the store a URL (RedisStore.from_url / "
                    "open_store) so that it opens its own connections on every loop it runs on"
                )
            assert self._spare is not None
            topology = self._topology(self._spare)
        else:
            client = self._spare if self._spare is not None else self._make()
            self._spare = None
            topology = self._topology(client)
        closer = _close_when_loop_ends(topology, client_too=self.owned)
        await closer.__anext__()  # registered with the loop: closed at its shutdown
        binding = Binding(loop, topology, closer)
        self._bindings[loop] = binding
        return binding

    def _make(self) -> Client:
        assert self._factory is not None
        return self._factory()

    async def close(self) -> None:
        """Close every client the store built: this loop's now, live other loops' on them.

        Clients passed in by the application are left open. Safe to call twice; the store
        may be used again afterwards (it opens new connections).
        """
        self._last = None
        if not self.owned:  # the client stays open; its pool gets the pipeline's connection back
            binding = self._bindings.get(asyncio.get_running_loop())
            if binding is not None:
                await binding.topology.close()
            return
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:  # pragma: no cover - close() is a coroutine
            running = None
        bindings = list(self._bindings.items())
        self._bindings.clear()
        for loop, binding in bindings:
            closer = binding.closer
            if closer is None:
                continue
            if loop is running:
                await closer.aclose()
            elif loop.is_running() and not loop.is_closed():
                asyncio.run_coroutine_threadsafe(closer.aclose(), loop)
        if self._spare is not None:
            spare, self._spare = self._spare, None
            await spare.aclose()  # never used, so it holds no connections: nothing waits here
