"""How a SurrealDB call fails: per-call deadlines, and every failure sorted into one of three.

:func:`bounded` runs one SDK call (connect or query) under the store's deadline and, with
its :class:`CallFailure`, turns whatever goes wrong into the store's error model:

* :class:`~connectstore.StoreUnavailableError`: SurrealDB cannot be reached, did not answer
  in time, or the connection dropped during the call (the caller throws the SDK connection
  away and the next call opens a new one);
* :class:`ConflictError`: a write conflicted with a concurrent one and SurrealDB says to
  retry it (the connection retries, with jitter, until the deadline);
* :class:`~connectstore.StoreError`: SurrealDB refused the statement.

No message carries a secret of the store's auth (:func:`secrets_of`): a message that held
one is scrubbed, and the original exception is then not chained.
"""

from __future__ import annotations

import asyncio
import functools
import sys
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from connectstore import Credentials, StoreError, StoreUnavailableError
from connectstore.deadlines import Deadlines
from connectstore_surrealdb.auth import Auth, TokenAuth

__all__ = ["CallFailure", "ConflictError", "bounded", "secrets_of", "transport_errors"]

T = TypeVar("T")

#: Whether calls can be bounded in the caller's task (``asyncio.timeout``, ``Task.cancelling``).
_INLINE = sys.version_info >= (3, 11)

_RETRYABLE = "can be retried"  # how SurrealDB 2.x ends a transaction-conflict message


@functools.cache
def transport_errors() -> tuple[type[BaseException], ...]:
    """Exceptions of the SDK's transports that mean "SurrealDB is unreachable", never "refused".

    (Its transports' packages are imported on the first failure, not with the store.)
    """
    import aiohttp
    from websockets.exceptions import WebSocketException

    return (OSError, EOFError, WebSocketException, aiohttp.ClientError, asyncio.TimeoutError)


class ConflictError(StoreError):
    """A write conflicted with a concurrent one; SurrealDB says to retry it."""


def secrets_of(auth: Auth | None) -> Credentials:
    """The texts of ``auth`` that no message may show (its password, or its token)."""
    if isinstance(auth, TokenAuth):
        return Credentials([auth.token])
    return Credentials([] if auth is None else [auth.password])


class CallFailure:
    """What the failures of one SDK call are reported with, and what they do to its connection.

    ``what`` names the call in messages ("connect", "query"); ``timeout`` is the store's
    per-call bound, as messages report it; ``alive()`` says whether the SDK connection
    still works after a failure; ``drop()`` throws it away (called whenever the next call
    must open a new one: a transport failure, a deadline, a lost call, a refused connect).
    """

    __slots__ = ("alive", "drop", "secrets", "timeout", "url", "what")

    def __init__(
        self,
        *,
        url: str,
        what: str,
        timeout: float,
        secrets: Credentials,
        alive: Callable[[], bool],
        drop: Callable[[], None],
    ) -> None:
        self.url = url
        self.what = what
        self.timeout = timeout
        self.secrets = secrets
        self.alive = alive
        self.drop = drop

    def late(self) -> StoreUnavailableError:
        """The call did not end in time: the connection is dropped."""
        self.drop()
        return StoreUnavailableError(
            f"SurrealDB at {self.url} did not answer the {self.what} within {self.timeout}s"
        )

    def lost(self) -> StoreUnavailableError:
        """The SDK gave up on the call (its socket dropped): the connection is dropped."""
        self.drop()
        return StoreUnavailableError(
            f"the connection to SurrealDB at {self.url} was lost during the {self.what}"
        )

    def sorted(self, exc: BaseException) -> tuple[StoreError, BaseException | None]:
        """The store's error for the call's ``exc``, and the cause to chain (None if it held a secret)."""
        detail, cause = _scrubbed(exc, self.secrets)
        error: StoreError
        if isinstance(exc, transport_errors()) or not self.alive():
            self.drop()
            error = StoreUnavailableError(f"SurrealDB at {self.url} is unavailable ({self.what}): {detail}")
        else:
            if self.what == "connect":
                self.drop()
            if _RETRYABLE in detail:
                error = ConflictError(
                    f"SurrealDB kept refusing the {self.what} for {self.timeout}s: {detail}"
                )
            else:
                error = StoreError(f"SurrealDB refused the {self.what}: {detail}")
        return error, cause


async def bounded(
    call: Coroutine[Any, Any, T],
    failure: CallFailure,
    *,
    remaining: float,
    running: set[asyncio.Future[Any]] | None = None,
    deadlines: Deadlines | None = None,
) -> T:
    """Await ``call`` for at most ``remaining`` seconds; sort its failure into unavailable or refused.

    ``failure`` reports the call's failures (and drops its connection when it must).
    ``running``, when given, holds the call while it runs (for a ``close()`` to await it).

    By default the call runs as its own task, so a cancellation coming from the SDK (it
    cancels the calls in flight when the socket drops) is told apart from our caller's
    own, and our caller's cancellation never tears a frame in half. With ``deadlines`` (for
    the embedded engine, which has no frame to tear; Python 3.11+) the call is awaited in
    the caller's own task instead, its deadline kept by that :class:`Deadlines` (one sweep
    of the loop's calls, no timer per call): no task, no extra loop turn. A cancellation
    neither our caller nor the deadline asked for is then the SDK's, told apart by the
    task's count of cancellation requests.
    """
    if deadlines is not None and _INLINE:
        return await _inline(call, failure, remaining, deadlines)
    task = asyncio.ensure_future(call)
    task.add_done_callback(_mark_seen)
    if running is not None:
        running.add(task)
        task.add_done_callback(running.discard)
    # If our caller is cancelled, the call itself runs on: cancelling a WebSocket send
    # halfway would close the connection every other call shares.
    await asyncio.wait({task}, timeout=max(0.0, remaining))
    if not task.done():
        task.cancel()
        await asyncio.wait({task})  # let it unwind
        raise failure.late()
    if task.cancelled():
        raise failure.lost()
    exc = task.exception()
    if exc is None:
        return task.result()
    error, cause = failure.sorted(exc)
    raise error from cause


async def _inline(
    call: Coroutine[Any, Any, T], failure: CallFailure, remaining: float, deadlines: Deadlines
) -> T:
    """:func:`bounded` in the caller's task, its deadline kept by ``deadlines`` (the loop's
    sweep, no timer per call); cancellations told apart by count.
    """
    task = asyncio.current_task()
    assert task is not None  # an SDK call runs in a task
    requested = task.cancelling()  # type: ignore[attr-defined,unused-ignore]
    if remaining <= 0:
        call.close()  # never started: no "never awaited" warning
        raise failure.late()
    token = deadlines.start(task, task.get_loop().time() + remaining)
    try:
        result = await call
    except BaseException as exc:
        late = deadlines.finish(token)
        if late and isinstance(exc, (Exception, asyncio.CancelledError)):
            raise failure.late() from None
        if isinstance(exc, asyncio.CancelledError):
            if task.cancelling() > requested:  # type: ignore[attr-defined,unused-ignore]
                raise  # our caller's: let it through
            raise failure.lost() from None  # neither ours nor our caller's: the SDK gave up on the call
        if isinstance(exc, Exception):
            error, cause = failure.sorted(exc)
            raise error from cause
        raise
    deadlines.finish(token)
    return result


def _scrubbed(exc: BaseException, secrets: Credentials) -> tuple[str, BaseException | None]:
    """``exc`` as text without any secret, and the cause to chain (None if it held one)."""
    text = f"{type(exc).__name__}: {exc}"
    scrubbed = secrets.scrub(text)
    return scrubbed, (exc if scrubbed == text else None)


def _mark_seen(task: asyncio.Future[Any]) -> None:
    """Retrieve a finished call's exception, so a call abandoned by its caller logs nothing."""
    if not task.cancelled():
        task.exception()
