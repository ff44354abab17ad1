"""Telling "the store is not there" from "the store is wrong" before running the checks.

A store that cannot reach its backend fails every clause with the same
``StoreUnavailableError``; reported as 45 contract failures, that hides the real cause. One
read of a sid nobody uses (harmless on any store, shared or not) tells them apart first.
"""

from __future__ import annotations

import uuid

from connectstore import Store, within

#: Seconds the probe waits for the store's first answer (times the suite's time scale).
PROBE_TIMEOUT = 30.0


def unreachable_cause(exc: BaseException) -> str:
    """How an error that means "the backend is not there" is shown: ``Class: message``."""
    message = str(exc)
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


async def probe_store(store: Store, timeout: float = PROBE_TIMEOUT) -> str | None:
    """Read one unused sid from ``store``; the cause when the backend cannot be reached
    (``StoreUnavailableError``, a timeout or any other ``OSError``), else None.

    Any other exception is the store's own behaviour and propagates: the checks report it.
    """
    sid = f"connectstore-check-probe-{uuid.uuid4().hex}"
    try:
        await within(timeout, store.get(sid), f"{type(store).__name__}.get()")
    except OSError as exc:  # StoreUnavailableError, ConnectionError, TimeoutError...
        return unreachable_cause(exc)
    return None
