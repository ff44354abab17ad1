"""Store URLs: ``open_store("redis://localhost/0")`` builds the right store.

A URL's scheme names an entry point in the group ``connectstore.stores``; its value is a
factory ``factory(url, **options) -> Store``. Adapters (and third-party stores) register
their schemes there; ``memory://`` is built in.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from connectstore.errors import StoreError, StoreURLError
from connectstore.memory import MemoryStore
from connectstore.store import Store

__all__ = ["ENTRY_POINT_GROUP", "StoreFactory", "installed_schemes", "open_store"]

ENTRY_POINT_GROUP = "connectstore.stores"
StoreFactory = Callable[..., Store]
"""``factory(url, **options) -> Store``: what an entry point in the group names."""


def open_memory_store(url: str, **options: Any) -> MemoryStore:
    """``memory://`` (optionally ``memory://?ttl=SECONDS``): a new, empty :class:`MemoryStore`."""
    query = dict(parse_qsl(urlsplit(url).query))
    unknown = set(query) - {"ttl"}
    if unknown:
        raise StoreURLError(f"memory:// takes no option {sorted(unknown)}")
    if "ttl" in query and "ttl" not in options:
        options["ttl"] = _positive_seconds(query["ttl"])
    return MemoryStore(**options)


def _positive_seconds(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not (0 < seconds < math.inf):
        raise StoreURLError(f"memory:// option ttl must be a positive number of seconds, not {text!r}")
    return seconds


_BUILT_IN: dict[str, StoreFactory] = {"memory": open_memory_store}


def installed_schemes() -> dict[str, str]:
    """Every scheme ``open_store`` knows, mapped to where its factory lives."""
    found = {name: f"{factory.__module__}:{factory.__qualname__}" for name, factory in _BUILT_IN.items()}
    for point in entry_points(group=ENTRY_POINT_GROUP):
        found.setdefault(point.name, point.value)
    return dict(sorted(found.items()))


def open_store(url: str, **options: Any) -> Store:
    """Build the store a URL names; ``options`` go to the store's constructor.

    Raises :class:`~connectstore.StoreURLError` for a URL without a scheme, with a scheme
    no installed distribution registers (the message lists the installed ones), or that
    its store refuses (a ``ValueError`` of the factory becomes a ``StoreURLError``). No
    message repeats the URL's credentials.
    """
    if not isinstance(url, str):
        raise TypeError(f"a store URL is a str, not {type(url).__name__}")
    scheme, sep, _ = url.partition("://")
    if not sep or not scheme or not scheme.replace("+", "").replace("-", "").replace(".", "").isalnum():
        # The text may be a credential pasted in the wrong place: it is not repeated.
        raise StoreURLError("not a store URL: expected scheme://... (e.g. redis://localhost/0, memory://)")
    scheme = scheme.lower()
    factory = _BUILT_IN.get(scheme)
    if factory is None:
        matches = [point for point in entry_points(group=ENTRY_POINT_GROUP) if point.name == scheme]
        if not matches:
            known = ", ".join(f"{name}://" for name in installed_schemes())
            raise StoreURLError(f"no store is installed for {scheme}://; installed schemes: {known}")
        factory = matches[0].load()
    try:
        store = factory(url, **options)
    except StoreError:
        raise
    except ValueError as exc:
        raise StoreURLError(f"{scheme}:// refused its URL or options: {exc}") from exc
    if not isinstance(store, Store):
        raise StoreURLError(f"the factory for {scheme}:// returned {type(store).__name__}, not a Store")
    return store
