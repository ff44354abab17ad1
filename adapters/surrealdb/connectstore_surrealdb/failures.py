"""How a SurrealDB call fails: per-call deadlines, and every failure sorted into one of three.

:func:`bounded` runs one SDK call (connect or query) under the store's deadline and turns
whatever goes wrong into the store's error model:

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
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import aiohttp
from websockets.exceptions import WebSocketException

from connectstore import Credentials, StoreError, StoreUnavailableError
from connectstore_surrealdb.auth import Auth, TokenAuth

__all__ = ["TRANSPORT_ERRORS", "ConflictError", "bounded", "secrets_of"]

T = TypeVar("T")

_RETRYABLE = "can be retried"  # how SurrealDB 2.x ends a transaction-conflict message

#: Exceptions of the SDK's transports that mean "SurrealDB is unreachable", never "refused".
TRANSPORT_ERRORS = (OSError, EOFError, WebSocketException, aiohttp.ClientError, asyncio.TimeoutError)


class ConflictError(StoreError):
    """A write conflicted with a concurrent one; SurrealDB says to retry it."""


def secrets_of(auth: Auth | None) -> Credentials:
    """The texts of ``auth`` that no message may show (its password, or its token)."""
    if isinstance(auth, TokenAuth):
        return Credentials([auth.token])
    return Credentials([] if auth is None else [auth.password])


async def bounded(
    call: Coroutine[Any, Any, T],
    *,
    remaining: float,
    timeout: float,
    url: str,
    what: str,
    secrets: Credentials,
    alive: Callable[[], bool],
    drop: Callable[[], None],
    running: set[asyncio.Future[Any]] | None = None,
) -> T:
    """Await ``call`` for at most ``remaining`` seconds; sort its failure into unavailable or refused.

    ``what`` names the call in messages ("connect", "query"); ``timeout`` is the store's
    per-call bound, as messages report it; ``alive()`` says whether the SDK connection
    still works after a failure; ``drop()`` throws it away (called whenever the next call
    must open a new one: a transport failure, a deadline, a lost call, a refused connect).
    ``running``, when given, holds the call while it runs (for a ``close()`` to await it).

    The call runs as its own task, so a cancellation coming from the SDK (it cancels the
    calls in flight when the socket drops) is told apart from our caller's own, and our
    caller's cancellation never tears a frame in half.
    """
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
        drop()
        raise StoreUnavailableError(f"SurrealDB at {url} did not answer the {what} within {timeout}s")
    if task.cancelled():
        drop()
        raise StoreUnavailableError(f"the connection to SurrealDB at {url} was lost during the {what}")
    exc = task.exception()
    if exc is None:
        return task.result()
    detail, cause = _scrubbed(exc, secrets)
    if isinstance(exc, TRANSPORT_ERRORS) or not alive():
        drop()
        raise StoreUnavailableError(f"SurrealDB at {url} is unavailable ({what}): {detail}") from cause
    if what == "connect":
        drop()
    if _RETRYABLE in detail:
        raise ConflictError(f"SurrealDB kept refusing the {what} for {timeout}s: {detail}") from cause
    raise StoreError(f"SurrealDB refused the {what}: {detail}") from cause


def _scrubbed(exc: BaseException, secrets: Credentials) -> tuple[str, BaseException | None]:
    """``exc`` as text without any secret, and the cause to chain (None if it held one)."""
    text = f"{type(exc).__name__}: {exc}"
    scrubbed = secrets.scrub(text)
    return scrubbed, (exc if scrubbed == text else None)


def _mark_seen(task: asyncio.Future[Any]) -> None:
    """Retrieve a finished call's exception, so a call abandoned by its caller logs nothing."""
    if not task.cancelled():
        task.exception()
