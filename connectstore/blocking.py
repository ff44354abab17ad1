"""BlockingStore: any async store as plain blocking methods, for WSGI code (Flask, Django).

One background thread runs one event loop; every call from any thread is handed to that
loop and waited for. The async store therefore always runs on the same loop, which is
what connection pools bound to a loop (redis-py's, for one) need.

The bridge survives a fork, as pre-fork servers do it (``gunicorn --preload``, uWSGI
without ``lazy-apps``: the app is imported, then worker processes are forked). Its thread
starts on the first call, not when the bridge is made, so a master process that only
imports the app starts nothing. When a process whose bridge did start forks
(``os.fork()``, which pre-fork servers and ``multiprocessing`` use), the bridge first
closes a store it built from a factory and stops its loop, so that no thread is inside a
library such as SQLite while the process is copied; the parent and the child then each
build a store of their own on their next call (the factory is called again). A store
given ready-made cannot be built again: its loop is paused across the fork, the parent
goes on with it, and in the child every call raises :class:`~connectstore.StoreError`
saying to pass a factory (or a store URL) instead. A :class:`~connectstore.MemoryStore`
(no thread, no connection) is never closed for a fork: the parent keeps it and the child
goes on with its own copy, as fork copies memory. Whatever of the parent's a child still
holds is never used, closed or garbage-collected there, since closing a connection the
parent shares could break the parent's.
"""

from __future__ import annotations

import asyncio
import concurrent.futures.thread  # registers its at-fork lock first: see _before_fork
import contextlib
import logging
import os
import sys
import threading
import weakref
from collections.abc import Awaitable, Callable, Coroutine
from types import TracebackType
from typing import Any, Generic, TypeVar

from connectstore.errors import StoreError, StoreUnavailableError
from connectstore.memory import MemoryStore
from connectstore.serializer import SessionData
from connectstore.store import Store, Versioned, capabilities

__all__ = ["BlockingStore"]

logger = logging.getLogger("connectstore")
T = TypeVar("T")
StoreFactory = Callable[[], "Store | Awaitable[Store]"]


class _Runner:
    """One process's event loop, running in a daemon thread, and the store built on it."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(
            target=self.loop.run_forever, name="connectstore-blocking", daemon=True
        )
        self.thread.start()
        self.store: Store | None = None

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None, what: str) -> T:
        """Run ``coro`` on the loop and wait for it; past ``timeout`` cancel it and raise."""
        call = _Call(coro)
        call.start(self.loop)
        if call.done.acquire(True, -1 if timeout is None else max(timeout, 0.0)):
            return call.outcome()
        with contextlib.suppress(RuntimeError):  # a closed loop runs the coroutine no more
            self.loop.call_soon_threadsafe(call.cancel)
        raise StoreUnavailableError(f"{what} did not answer within {timeout} s") from None

    def pause(self, timeout: float | None) -> bool:
        """Stop the loop where it is and wait (up to ``timeout``) for its thread to end;
        tasks stay pending. False when the thread is stuck and still runs.
        """
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout)
        return not self.thread.is_alive()

    def resume(self) -> None:
        """Run the paused loop again, in a new thread."""
        self.thread = threading.Thread(
            target=self.loop.run_forever, name="connectstore-blocking", daemon=True
        )
        self.thread.start()

    def stop(self, timeout: float | None) -> None:
        """Stop the loop, wait (up to ``timeout``) for its thread, close the loop. A stuck
        thread is left to itself (it is a daemon): nothing here waits past the bound.
        """
        if self.pause(timeout):
            self.loop.close()
        else:
            logger.warning("the session store's event loop did not stop within %s s", timeout)


_TASKS_FROM_OTHER_THREADS = sys.version_info < (3, 14) and getattr(sys, "_is_gil_enabled", lambda: True)()
"""Whether a task may be made outside its loop's thread: on CPython up to 3.13 with the GIL
a task is registered in a process-wide weak set and its first step queued by one deque
append. From 3.14 on, a task is registered in its creating thread's own list, and without
the GIL nothing is vouched for: there the task is made on the loop's thread."""


class _Call(Generic[T]):
    """One coroutine handed to the loop's thread, and the lock its caller waits on.

    The cheapest hand-off found (see bench/README.md, "Sync integrations"): the caller
    makes the coroutine's task, whose first step the loop runs on the turn it wakes up for
    (``call_soon_threadsafe`` wakes it); the task releases a plain lock when it ends, and the
    caller, blocked on that lock, reads the outcome. ``asyncio.run_coroutine_threadsafe``
    does the same through a ``concurrent.futures.Future`` (a condition variable, callbacks
    chained both ways, a task made on one turn of the loop and started on the next, a done
    callback run on a later one), about twice the work per call. The task runs in a copy of
    the caller's context, as ``run_coroutine_threadsafe``'s did.
    """

    __slots__ = ("coro", "done", "error", "result", "task")

    def __init__(self, coro: Coroutine[Any, Any, T]) -> None:
        self.coro = coro
        self.done = threading.Lock()
        self.done.acquire()  # released by the loop's thread when the coroutine has ended
        self.task: asyncio.Task[None] | None = None
        self.result: T | None = None
        self.error: BaseException | None = None

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """Run the coroutine in a task of its own on ``loop`` (running in another thread)."""
        if loop.is_closed():  # closed by another thread's close(): fail as call_soon_threadsafe does
            raise RuntimeError("Event loop is closed")
        if _TASKS_FROM_OTHER_THREADS and isinstance(loop, asyncio.BaseEventLoop) and not loop.get_debug():
            # asyncio's own loops only append the task's first step to their queue (an atomic
            # deque append; debug mode refuses it from another thread, and other loops, such
            # as uvloop's, are not known to take it): then wake the loop to run it.
            self.task = asyncio.Task(self._drive(), loop=loop)
            loop.call_soon_threadsafe(_wake)
        else:
            loop.call_soon_threadsafe(self._start_here, loop)

    def _start_here(self, loop: asyncio.AbstractEventLoop) -> None:
        """On the loop's thread: make the coroutine's task (run on the loop's next turn)."""
        self.task = loop.create_task(self._drive())

    async def _drive(self) -> None:
        try:
            self.result = await self.coro
        except (KeyboardInterrupt, SystemExit) as exc:
            self.error = exc
            self.done.release()
            raise  # stops the loop, as in any task
        except BaseException as exc:  # the caller's to see, cancellation included
            self.error = exc
        self.done.release()

    def cancel(self) -> None:
        """On the loop's thread, after the task is made (the loop runs callbacks in order):
        cancel the coroutine whose caller stopped waiting.
        """
        if self.task is not None:
            self.task.cancel()

    def outcome(self) -> T:
        """The coroutine's result, or its exception raised in the caller's thread (a
        cancelled coroutine raises :class:`concurrent.futures.CancelledError`, as the
        future of ``run_coroutine_threadsafe`` did).
        """
        error = self.error
        if error is None:
            return self.result  # type: ignore[return-value]
        self.error = None  # no reference cycle through the traceback
        if isinstance(error, asyncio.CancelledError):
            raise concurrent.futures.CancelledError from None  # as a cancelled future says it
        raise error


def _wake() -> None:
    """Nothing: scheduled only so that the loop wakes up and runs what is queued."""


_BRIDGES: weakref.WeakSet[BlockingStore] = weakref.WeakSet()
_INHERITED: list[_Runner] = []
"""The runners a forked child inherited from its parent: kept referenced so that nothing of
the parent's is ever finalized (and so closed) in the child."""


def _before_fork() -> None:
    for bridge in list(_BRIDGES):
        bridge._before_fork()


def _after_fork_in_parent() -> None:
    for bridge in list(_BRIDGES):
        bridge._after_fork_in_parent()


def _after_fork_in_child() -> None:
    for bridge in list(_BRIDGES):
        bridge._leave_parent()


if hasattr(os, "register_at_fork"):  # every POSIX system; Windows has no fork
    os.register_at_fork(
        before=_before_fork, after_in_parent=_after_fork_in_parent, after_in_child=_after_fork_in_child
    )


class BlockingStore:
    """The store contract as blocking methods, safe to call from many threads at once.

    ``store`` is a store instance, or a factory (sync or async) called on the bridge's
    loop, which is the safe choice for stores that bind to a loop when created, and the
    form that survives a fork after use: each process calls it to build its own store.
    ``timeout`` (seconds, None for none) bounds every call, building the store included:
    a call that takes longer raises :class:`~connectstore.StoreUnavailableError` and is
    cancelled. Nothing starts until the first call (see the module documentation on
    forking); the bridge's thread is a daemon, so a bridge never keeps a process alive.
    :meth:`close` closes the store and stops the thread; as for every store, a call after
    it works: it starts a thread again and uses the same store, which reopens what it needs.
    """

    def __init__(self, store: Store | StoreFactory, *, timeout: float | None = 30.0) -> None:
        if not isinstance(store, Store) and not callable(store):
            raise TypeError(
                f"store must be a connectstore.Store or a factory of one, not {type(store).__name__}"
            )
        self.timeout = timeout
        self._source = store
        self._lock = threading.Lock()
        self._runner: _Runner | None = None
        self._pid = os.getpid()
        self._inherited = False
        #: Nothing runs since the last close() (or ever): close() has nothing to do.
        self._closed = False
        self._paused: _Runner | None = None
        self._held_for_fork = False
        self._carried: Store | None = None
        _BRIDGES.add(self)

    @property
    def store(self) -> Store:
        """The async store (built on first use when the bridge was given a factory)."""
        store = self._started().store
        assert store is not None
        return store

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The event loop the store runs on (in the bridge's own thread)."""
        return self._started().loop

    @property
    def capabilities(self) -> frozenset[str]:
        """The wrapped store's capabilities."""
        return capabilities(self._source if isinstance(self._source, Store) else self.store)

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

    def get_versioned(self, sid: str) -> Versioned | None:
        """See :meth:`Store.get_versioned`."""
        return self._call(self.store.get_versioned(sid))

    def set_if(self, sid: str, session: SessionData, version: str) -> str | None:
        """See :meth:`Store.set_if`."""
        return self._call(self.store.set_if(sid, session, version))

    def create(self, sid: str, session: SessionData) -> str | None:
        """See :meth:`Store.create`."""
        return self._call(self.store.create(sid, session))

    def ids(self) -> list[str]:
        """Every live session id, collected from :meth:`Store.ids`."""
        store = self.store

        async def collect() -> list[str]:
            return [sid async for sid in store.ids()]

        return self._call(collect())

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run any coroutine on the bridge's loop (where the store lives) and wait for it,
        bounded by ``timeout``. This is how WSGI integrations drive the session engine.
        """
        return self._call(coro)

    def close(self) -> None:
        """Close this process's store, then stop the loop and its thread. Safe to call twice.
        A store inherited through a fork is the parent's and is not closed by the child.
        The next call starts a thread again on the same store (see :meth:`Store.close`).
        """
        if self._pid != os.getpid():
            self._leave_parent()
        with self._lock:
            if self._closed:
                return
            self._closed = True
            runner, self._runner = self._runner, None
            if runner is None and isinstance(self._source, Store) and not self._inherited:
                runner = _Runner()  # a store given ready-made and never used: still ours to close
                runner.store = self._source
            if runner is not None and runner.store is not None:
                self._carried = runner.store  # the next call goes on with it: it reopens itself
        if runner is None:
            return
        try:
            if runner.store is not None:
                runner.run(runner.store.close(), self.timeout, self._name(runner))
        finally:
            runner.stop(self.timeout)

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
        try:
            runner = self._started()
        except BaseException:
            coro.close()
            raise
        if threading.current_thread() is runner.thread:
            coro.close()
            raise RuntimeError("BlockingStore called from its own event loop; await the store instead")
        return runner.run(coro, self.timeout, self._name(runner))

    def _started(self) -> _Runner:
        """This process's runner, started (and the store built) on first use."""
        runner = self._runner
        if runner is not None and runner.pid == os.getpid():
            return runner
        if self._pid != os.getpid():
            self._leave_parent()  # forked by something that skipped the at-fork hooks
        with self._lock:
            if self._runner is None:
                if self._inherited:
                    raise StoreError(
                        "this process was forked after its BlockingStore had used the store it was given; "
                        "that store's connections belong to the parent process. Give BlockingStore a factory "
                        "(or the integration a store URL) so that each process builds its own store"
                    )
                runner = _Runner()
                try:
                    source = self._source if self._carried is None else self._carried
                    runner.store = runner.run(_build(source), self.timeout, "the store factory")
                except BaseException:
                    runner.stop(self.timeout)
                    raise
                self._runner = runner
                self._closed = False
            return self._runner

    def _before_fork(self) -> None:
        """Make this process safe to fork: no thread of the store may be inside a library
        (SQLite, say) whose locks the child would inherit held. A store built by the
        factory is closed (this process builds it again on its next call); a store given
        ready-made cannot be rebuilt, so its loop is only paused until the fork is done.
        The lock is held across the fork so that no call starts a store meanwhile. Python
        runs "before" hooks in the reverse order of registration: ``concurrent.futures``
        (whose hook takes the lock every executor ``submit`` needs) is imported before this
        module registers, so that closing a store here can still use executors.
        """
        self._held_for_fork = self._lock.acquire(timeout=-1 if self.timeout is None else self.timeout)
        self._paused = None
        runner = self._runner
        if runner is None or runner.pid != os.getpid() or threading.current_thread() is runner.thread:
            return
        if isinstance(self._source, Store) or isinstance(runner.store, MemoryStore):
            if runner.pause(self.timeout):
                self._paused = runner
            return
        self._runner = None
        self._carried = None  # each process builds its own store from the factory
        try:
            if runner.store is not None:
                runner.run(runner.store.close(), self.timeout, self._name(runner))
        except Exception:
            logger.warning("closing the session store before a fork failed", exc_info=True)
        finally:
            runner.stop(self.timeout)

    def _after_fork_in_parent(self) -> None:
        paused, self._paused = self._paused, None
        if paused is not None:
            paused.resume()
        if self._held_for_fork:
            self._held_for_fork = False
            self._lock.release()

    def _leave_parent(self) -> None:
        """In a forked child: forget the parent's runner (kept, untouched) and lock."""
        self._pid = os.getpid()
        self._lock = threading.Lock()  # held across the fork, or by another thread of the parent
        self._paused = None
        self._held_for_fork = False
        if not isinstance(self._carried, MemoryStore):
            self._carried = None  # a store the parent closed: this process builds its own
        runner, self._runner = self._runner, None
        if runner is None:
            return
        _INHERITED.append(runner)
        if isinstance(runner.store, MemoryStore):
            self._carried = runner.store  # no thread, no connection: the child's copy is its own
        else:
            self._inherited = isinstance(self._source, Store)

    @staticmethod
    def _name(runner: _Runner) -> str:
        return type(runner.store).__name__


async def _build(store: Store | StoreFactory) -> Store:
    if isinstance(store, Store):
        return store
    made = store()
    if isinstance(made, Awaitable):
        made = await made
    if not isinstance(made, Store):
        raise TypeError(f"store factory returned {type(made).__name__}, not a Store")
    return made
