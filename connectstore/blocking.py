"""BlockingStore: any async store as plain blocking methods, for WSGI code (Flask, Django).

One background thread runs one event loop; every call from any thread is handed to that
loop and waited for. The async store therefore always runs on the same loop, which is
what connection pools bound to a loop (redis-py, aiosqlite) need.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Awaitable, Callable, Coroutine
from types import TracebackType
from typing import Any, TypeVar

from connectstore.errors import StoreUnavailableError
from connectstore.serializer import SessionData
from connectstore.store import Store, capabilities

__all__ = ["BlockingStore"]

T = TypeVar("T")
StoreFactory = Callable[[], "Store | Awaitable[Store]"]


class BlockingStore:
    """The store contract as blocking methods, safe to call from many threads at once.

    ``store`` is a store instance, or a factory (sync or async) called on the bridge's
    loop, which is the safe choice for stores that bind to a loop when created.
    ``timeout`` (seconds, None for none) bounds every call: a call that takes longer
    raises :class:`~connectstore.StoreUnavailableError` and is cancelled.
    """

    def __init__(self, store: Store | StoreFactory, *, timeout: float | None = 30.0) -> None:
        self.timeout = timeout
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="connectstore-blocking", daemon=True
        )
        self._thread.start()
        self._closed = False
        try:
            self.store: Store = self._call(_build(store))
        except BaseException:
            self._stop_loop()
            raise

    @property
    def capabilities(self) -> frozenset[str]:
        """The wrapped store's capabilities."""
        return capabilities(self.store)

    def get(self, sid: str) -> SessionData | None:
        """See :meth:`Store.get`."""
        return self._call(self.store.get(sid))

    def set(self, sid: str, session: SessionData) -> None:
        """See :meth:`Store.set`."""
        self._call(self.store.set(sid, session))

    def destroy(self, sid: str) -> None:
        """See :meth:`Store.destroy`."""
        self._call(self.store.destroy(sid))

    def touch(self, sid: str, session: SessionData) -> None:
        """See :meth:`Store.touch`."""
        self._call(self.store.touch(sid, session))

    def all(self) -> dict[str, SessionData]:
        """See :meth:`Store.all`."""
        return self._call(self.store.all())

    def clear(self) -> None:
        """See :meth:`Store.clear`."""
        self._call(self.store.clear())

    def length(self) -> int:
        """See :meth:`Store.length`."""
        return self._call(self.store.length())

    def ids(self) -> list[str]:
        """Every live session id, collected from :meth:`Store.ids`."""

        async def collect() -> list[str]:
            return [sid async for sid in self.store.ids()]

        return self._call(collect())

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run any coroutine on the bridge's loop (where the store lives) and wait for it,
        bounded by ``timeout``. This is how WSGI integrations drive the session engine.
        """
        return self._call(coro)

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The event loop the store runs on (in the bridge's own thread)."""
        return self._loop

    def close(self) -> None:
        """Close the store, then stop the loop and its thread. Safe to call twice."""
        if self._closed:
            return
        try:
            self._call(self.store.close())
        finally:
            self._stop_loop()

    def _stop_loop(self) -> None:
        self._closed = True
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()

    def __enter__(self) -> BlockingStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        if self._closed:
            coro.close()
            raise RuntimeError("this BlockingStore is closed")
        if threading.current_thread() is self._thread:
            coro.close()
            raise RuntimeError("BlockingStore called from its own event loop; await the store instead")
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return future.result(self.timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            name = type(getattr(self, "store", None)).__name__
            raise StoreUnavailableError(f"{name} did not answer within {self.timeout} s") from None


async def _build(store: Store | StoreFactory) -> Store:
    if isinstance(store, Store):
        return store
    made = store()
    if isinstance(made, Awaitable):
        made = await made
    if not isinstance(made, Store):
        raise TypeError(f"store factory returned {type(made).__name__}, not a Store")
    return made
