"""How an operations command runs: its stores opened from URLs and closed again, and every
expected failure turned into one line on stderr (exit status 2), never a traceback, never
a credential.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import sys
from collections.abc import Awaitable, Callable, Sequence

from connectstore.errors import StoreError, StoreUnavailableError, StoreURLError, UnsupportedOperationError
from connectstore.redaction import Credentials, redact_url, url_credentials
from connectstore.store import Store
from connectstore.urls import open_store

__all__ = ["CommandFailed", "run_on_stores"]


class CommandFailed(Exception):
    """A command cannot do what it was asked (a non-empty destination...): its message is
    printed as the command's one line, with exit status 2.
    """


def run_on_stores(name: str, urls: Sequence[str], work: Callable[..., Awaitable[int]]) -> int:
    """Open a store per URL, run ``await work(*stores)`` and close them; its exit status.

    A bad URL, an unreachable backend, a missing capability or :class:`CommandFailed` is one
    line ``connectstore NAME: ...`` on stderr and status 2; Ctrl-C is status 130.
    """
    credentials = Credentials()
    for url in urls:
        credentials += url_credentials(url)
    try:
        return asyncio.run(_with_stores(urls, work))
    except KeyboardInterrupt:
        print(f"connectstore {name}: interrupted", file=sys.stderr)
        return 130
    except _Failure as failure:
        print(credentials.scrub(f"connectstore {name}: {failure}"), file=sys.stderr)
        return 2


class _Failure(Exception):
    """An expected failure, already worded for the user."""


async def _with_stores(urls: Sequence[str], work: Callable[..., Awaitable[int]]) -> int:
    stores: list[Store] = []
    try:
        for url in urls:
            stores.append(_open(url))
        try:
            return await work(*stores)
        except CommandFailed as exc:
            raise _Failure(str(exc)) from None
        except UnsupportedOperationError as exc:
            where = redact_url(urls[_index_of(stores, exc.store_name)])
            raise _Failure(f"the {exc.store_name} at {where} does not support {exc.method}()") from None
        except (StoreUnavailableError, OSError) as exc:
            where = " or ".join(
                f"the {type(store).__name__} at {redact_url(url)}"
                for store, url in zip(stores, urls, strict=False)
            )
            raise _Failure(f"cannot reach {where}: {type(exc).__name__}: {exc}") from None
        except StoreError as exc:
            raise _Failure(f"{type(exc).__name__}: {exc}") from None
    finally:
        for store in stores:
            with contextlib.suppress(Exception):  # a failed close must not hide the real outcome
                await store.close()


def _open(url: str) -> Store:
    """The store of ``url``, without a background sweep when its constructor takes
    ``sweep_interval``: a command that reads deletes nothing, and ``prune`` reports every
    session it deletes. (Building a store does no I/O: the first one is just dropped.)
    """
    try:
        store = open_store(url)
        if "sweep_interval" in inspect.signature(type(store)).parameters:
            store = open_store(url, sweep_interval=None)
        return store
    except StoreURLError as exc:
        if "://" not in url:  # maybe a credential pasted in the wrong place: not repeated
            raise _Failure(f"bad store URL: {exc}") from None
        raise _Failure(f"bad store URL {redact_url(url)}: {exc}") from None
    except (StoreError, OSError) as exc:
        raise _Failure(f"cannot open {redact_url(url)}: {type(exc).__name__}: {exc}") from None


def _index_of(stores: Sequence[Store], class_name: str) -> int:
    for index, store in enumerate(stores):
        if type(store).__name__ == class_name:
            return index
    return 0
