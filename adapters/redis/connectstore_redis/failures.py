"""Failure mapping and per-call deadlines: every Redis round trip goes through :class:`Bounded`.

Each call gets a deadline, and redis-py's errors become connectstore's typed errors
(:data:`UNAVAILABLE_ERRORS` -> :class:`~connectstore.StoreUnavailableError`, any other
Redis error -> :class:`~connectstore.StoreError`), their text free of credentials.

With Redis down, hung or overloaded, a call fails within its deadline with
:class:`~connectstore.StoreUnavailableError` instead of hanging (connect-redis's ``get``
waits forever). With a :class:`~connectstore.CircuitBreaker` (every store has one), once
Redis is seen down calls fail at once while one probe at a time checks for recovery, so a
client built with redis-py's own retries and backoff does not hold every caller for the
whole timeout either.

One :class:`Bounded` serves one event loop (its semaphore and timer belong to that loop);
a store keeps one per loop it runs on, all sharing one breaker.

Deadlines are enforced by one sweep per store and loop rather than a timer per call
(:class:`connectstore.deadlines.Deadlines`): it wakes every quarter of the timeout while
calls are in flight and cancels the calls that are overdue, so a call fails after between
1 and 1.25 times the timeout. (``asyncio.timeout`` per call costs a timer handle each
time, a measurable share of a Redis round trip.)
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from typing import TypeVar

from redis import exceptions as redis_errors

from connectstore import CircuitBreaker, Credentials, StoreError, StoreUnavailableError
from connectstore.deadlines import Deadlines

__all__ = ["UNAVAILABLE_ERRORS", "Bounded"]

T = TypeVar("T")

UNAVAILABLE_ERRORS: tuple[type[BaseException], ...] = (
    redis_errors.ConnectionError,  # refused, reset, auth, busy loading, pool exhausted
    redis_errors.TimeoutError,
    redis_errors.ClusterError,  # cluster down, master down
    redis_errors.TryAgainError,
    redis_errors.ReadOnlyError,  # a write reached a replica during a failover
    redis_errors.RedisClusterException,  # no reachable node, slot not covered
    OSError,
)
"""Errors meaning "Redis cannot serve this call right now": raised as StoreUnavailableError."""


class Bounded:
    """Runs one Redis call with a deadline and a concurrency limit, mapping its errors.

    ``limit`` caps the calls in flight (redis-py's pools raise instead of waiting when
    they run out of connections); a call waiting for its turn counts against its deadline.
    ``prepare`` (if given) is awaited before every call: a Cluster client is initialized
    there, once and under its lock, because redis-py's RedisCluster breaks connections
    when many first commands race to initialize it. ``breaker`` (if given) runs every call
    (see :class:`~connectstore.CircuitBreaker`); ``secrets`` are masked in every message
    built from a redis-py error.
    """

    __slots__ = ("_breaker", "_deadlines", "_limit", "_prepare", "_secrets", "timeout")

    def __init__(
        self,
        timeout: float,
        limit: int,
        prepare: Callable[[], Awaitable[object]] | None = None,
        *,
        breaker: CircuitBreaker | None = None,
        secrets: Credentials | None = None,
    ) -> None:
        if not timeout > 0:
            raise ValueError(f"timeout must be a positive number of seconds, not {timeout!r}")
        if limit < 1:
            raise ValueError(f"max_concurrency must be at least 1, not {limit!r}")
        self.timeout = timeout
        self._limit = asyncio.Semaphore(limit)
        self._prepare = prepare
        self._breaker = breaker
        self._secrets = secrets or Credentials()
        self._deadlines = Deadlines(max(timeout / 4, 0.005))

    async def __call__(self, call: Callable[[], Awaitable[T]]) -> T:
        """Await ``call()`` before the deadline; Redis errors become connectstore errors.

        With a breaker that is open, raises :class:`~connectstore.StoreUnavailableError`
        at once without calling ``call`` (unless this call is the probe).
        """
        if self._breaker is None:
            return await self._mapped(call)
        return await self._breaker.call(lambda: self._mapped(call))

    async def _mapped(self, call: Callable[[], Awaitable[T]]) -> T:
        try:
            return await self._run(call)
        except UNAVAILABLE_ERRORS as exc:
            error = self._error(StoreUnavailableError, "Redis is unavailable", exc)
        except redis_errors.RedisError as exc:
            error = self._error(StoreError, "Redis refused the command", exc)
        except AttributeError as exc:
            if not _raised_in_redis_py(exc):
                raise
            # redis-py's Cluster client, under load while a node dies, can use a connection
            # another task has just disconnected ("'NoneType' object has no attribute ...")
            error = self._error(StoreUnavailableError, "Redis is unavailable (connection lost)", exc)
        raise error  # outside the handler: no implicit __context__ (it may hold a credential)

    def _error(self, kind: type[StoreError], what: str, exc: BaseException) -> StoreError:
        """``kind("what: <redis-py's error>")`` caused by ``exc``, credentials masked.

        When the driver's text held a credential, the driver's exception is not chained
        (a traceback would print it): ``__cause__`` is then None.
        """
        text = _describe(exc)
        error = kind(f"{what}: {self._secrets.scrub(text)}")
        chain = " ".join(_describe(link) for link in _chain(exc))
        error.__cause__ = exc if self._secrets.scrub(chain) == chain else None
        error.__suppress_context__ = True
        return error

    async def _limited(self, call: Callable[[], Awaitable[T]]) -> T:
        async with self._limit:
            if self._prepare is not None:
                await self._prepare()
            return await call()

    def _overdue(self) -> StoreUnavailableError:
        return StoreUnavailableError(f"Redis did not answer within {self.timeout:g} s")

    if sys.version_info >= (3, 11):

        async def _run(self, call: Callable[[], Awaitable[T]]) -> T:
            task = asyncio.current_task()
            if task is None:  # pragma: no cover - awaited outside a task
                raise RuntimeError("a RedisStore must be used from an asyncio task")
            deadlines = self._deadlines
            token: int | None = deadlines.start(task, task.get_loop().time() + self.timeout)
            try:
                async with self._limit:  # inlined _limited(): one coroutine less per call
                    if self._prepare is not None:
                        await self._prepare()
                    return await call()
            except asyncio.CancelledError:
                assert token is not None
                late, token = deadlines.finish(token), None
                if late:
                    raise self._overdue() from None
                raise
            finally:
                if token is not None:
                    deadlines.finish(token)

    else:  # pragma: no cover - Python 3.10: no Task.uncancel(), so one wait_for per call

        async def _run(self, call: Callable[[], Awaitable[T]]) -> T:
            try:
                return await asyncio.wait_for(self._limited(call), self.timeout)
            except asyncio.TimeoutError:
                raise self._overdue() from None


def _raised_in_redis_py(exc: BaseException) -> bool:
    """Whether ``exc`` was raised by redis-py's own code (the innermost frame is in ``redis``)."""
    tb = exc.__traceback__
    if tb is None:
        return False
    while tb.tb_next is not None:
        tb = tb.tb_next
    return f"{os.sep}redis{os.sep}" in tb.tb_frame.f_code.co_filename


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and every exception it was caused by or raised while handling."""
    seen: list[BaseException] = []
    link: BaseException | None = exc
    while link is not None and not any(link is known for known in seen):
        seen.append(link)
        link = link.__cause__ or link.__context__
    return seen


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
