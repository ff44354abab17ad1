"""The store of a blocking integration (Flask, Django): one rule for what may name it.

A *store source* is one of:

* a :class:`~connectstore.BlockingStore`: used as is, and never closed by the integration;
* a store URL (``"redis://127.0.0.1:6379/0"``): opened by :func:`~connectstore.open_store`
  with ``options`` as its keyword arguments;
* the dotted path of a factory (``"myapp.sessions.make_store"``): imported, then called
  with ``options``;
* a factory, sync or async (called with ``options`` when there are any);
* a :class:`~connectstore.Store` (``options`` are not used).

Everything but a ready bridge gets a new bridge of its own, which calls the factory on its
loop on first use (and again in each forked process; see :mod:`connectstore.blocking`).
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from connectstore.blocking import BlockingStore
from connectstore.errors import StoreURLError
from connectstore.store import Store
from connectstore.urls import open_store

__all__ = ["StoreSource", "open_bridge"]

StoreSource = BlockingStore | Store | str | Callable[..., "Store | Awaitable[Store]"]
"""What an integration accepts as its store (see the module documentation)."""

_DOTTED_PATH = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+")


def open_bridge(
    source: StoreSource, *, options: Mapping[str, Any] | None = None, timeout: float | None = 30.0
) -> tuple[BlockingStore, bool]:
    """The bridge for ``source`` and whether it was made here (its owner then closes it);
    ``timeout`` bounds each call of a bridge made here.

    A string that is neither a URL nor a dotted path raises :class:`~connectstore.StoreURLError`
    (without repeating it: it may be a credential put in the wrong place); a dotted path
    that cannot be imported raises :class:`ImportError`.
    """
    if isinstance(source, BlockingStore):
        return source, False
    return BlockingStore(_store_or_factory(source, dict(options or {})), timeout=timeout), True


def _store_or_factory(
    source: Store | str | Callable[..., Store | Awaitable[Store]], options: dict[str, Any]
) -> Store | Callable[[], Store | Awaitable[Store]]:
    if isinstance(source, Store):
        return source
    if isinstance(source, str):
        if "://" in source:
            url = source
            return lambda: open_store(url, **options)
        factory = _import_dotted(source)
        return lambda: factory(**options)
    if options:
        made_by = source
        return lambda: made_by(**options)
    return source


def _import_dotted(path: str) -> Any:
    """The object a dotted path (``package.module.name``) names."""
    if not _DOTTED_PATH.fullmatch(path):
        raise StoreURLError(
            "the store is neither a store URL (scheme://..., e.g. redis://localhost/0) nor the "
            "dotted path of a factory (package.module.name)"
        )
    module_name, _, name = path.rpartition(".")
    module = importlib.import_module(module_name)
    try:
        return getattr(module, name)
    except AttributeError:
        raise ImportError(f"module {module_name!r} does not define {name!r}") from None
