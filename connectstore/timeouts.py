"""Bounding a store call in time: the one place that turns "no answer" into a typed error."""

from __future__ import annotations

import asyncio
import sys
import time
import types
from collections.abc import Awaitable, Coroutine, Generator
from typing import Any, TypeVar

from connectstore.errors import StoreUnavailableError

__all__ = ["STEP_FIRST", "first_step", "timed_out", "within", "within_rest"]

T = TypeVar("T")


async def within(seconds: float | None, operation: Awaitable[T], what: str) -> T:
    """Await ``operation``, cancelling it after ``seconds`` (None: no bound).

    Past the bound it raises :class:`StoreUnavailableError` ("``what`` did not answer
    within N s"), so a hung backend never hangs its caller. With no time left at all the
    call is not started.

    Cheap on Python 3.11+: a coroutine's first step runs at once, and a call that answers
    in it (an in-process store) costs no timer at all; one that has to wait gets one timer
    on the caller's own task (``asyncio.timeout``) for the time left: no task is created
    and no extra loop turn is spent, where ``asyncio.wait_for`` made a task per call.
    """
    if seconds is None:
        return await operation
    if seconds <= 0 and isinstance(operation, Coroutine):
        operation.close()  # it will never run: no "never awaited" warning
        raise timed_out(what, seconds)
    if STEP_FIRST and seconds > 0 and type(operation) is types.CoroutineType:
        started = time.monotonic()
        finished, value = first_step(operation, seconds, what)
        if finished:
            return value  # type: ignore[no-any-return]
        return await within_rest(seconds, started, operation, value, what)  # type: ignore[no-any-return]
    try:
        if STEP_FIRST and seconds > 0:
            async with asyncio.timeout(seconds):  # type: ignore[attr-defined,unused-ignore]
                return await operation
        return await asyncio.wait_for(operation, seconds)
    except asyncio.TimeoutError:
        raise timed_out(what, seconds) from None


def first_step(operation: Coroutine[Any, Any, Any], seconds: float, what: str) -> tuple[bool, Any]:
    """Run ``operation``'s first step now, before any timer: ``(True, its result)`` when it
    ended in it (an in-process store), else ``(False, what it yielded)`` for
    :func:`within_rest` to go on from. Only where :data:`STEP_FIRST`.
    """
    try:
        return False, operation.send(None)
    except StopIteration as done:
        return True, done.value
    except asyncio.TimeoutError:
        raise timed_out(what, seconds) from None


async def within_rest(
    seconds: float, started: float, operation: Coroutine[Any, Any, Any], first: Any, what: str
) -> Any:
    """The rest of :func:`within` for a coroutine whose first step the caller already ran
    (at ``time.monotonic()`` ``started``; it yielded ``first``, so it has to wait): one
    ``asyncio.timeout`` for what is left of ``seconds``. Only where :data:`STEP_FIRST`.
    """
    try:
        async with asyncio.timeout(max(seconds - (time.monotonic() - started), 0.0)):  # type: ignore[attr-defined,unused-ignore]
            return await _resume(operation, first)
    except asyncio.TimeoutError:
        raise timed_out(what, seconds) from None


def timed_out(what: str, seconds: float) -> StoreUnavailableError:
    """The error of a call to ``what`` that did not answer within ``seconds``."""
    return StoreUnavailableError(f"{what} did not answer within {seconds:.3g} s")


@types.coroutine
def _resume(coro: Coroutine[Any, Any, Any], first: Any) -> Generator[Any, Any, Any]:
    """Go on awaiting ``coro``, whose first step already ran and yielded ``first``: what
    ``await coro`` would have done from there (values sent and exceptions thrown in by the
    task, such as the timeout's cancellation, are passed on to ``coro``).
    """
    value = first
    while True:
        try:
            sent = yield value
        except GeneratorExit:
            coro.close()
            raise
        except BaseException as exc:  # every exception goes on to coro, as await does
            try:
                value = coro.throw(exc)
            except StopIteration as done:
                return done.value
        else:
            try:
                value = coro.send(sent)
            except StopIteration as done:
                return done.value


STEP_FIRST = sys.version_info >= (3, 11)
"""Whether a store call's first step may run before its timer starts (``asyncio.timeout``,
Python 3.11+, then bounds the rest on the caller's task); before 3.11, ``asyncio.wait_for``.
"""
