"""``connectstore.integrations.store_source``: the one rule Flask and Django use to turn their
``store`` setting into a bridge.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from connectstore import BlockingStore, MemoryStore, Store, StoreURLError
from connectstore.integrations.store_source import StoreSource, open_bridge

MADE: list[dict[str, Any]] = []


def make_store(**options: Any) -> MemoryStore:
    """A factory named by its dotted path below; records the options it was called with."""
    MADE.append(options)
    return MemoryStore(**options)


def store_of(source: StoreSource, **options: Any) -> Store:
    bridge, owned = open_bridge(source, options=options, timeout=60.0)
    assert owned
    try:
        return bridge.store
    finally:
        bridge.close()


def test_a_bridge_is_used_as_is_and_left_to_its_owner() -> None:
    with BlockingStore(MemoryStore()) as given:
        bridge, owned = open_bridge(given, options={"ttl": 5}, timeout=1.0)
        assert bridge is given
        assert not owned
        assert bridge.timeout == 30.0  # the given bridge keeps its own settings


def test_a_url_is_opened_with_the_options() -> None:
    store = store_of("memory://", ttl=5)
    assert isinstance(store, MemoryStore)
    assert store.ttl == 5


def test_a_dotted_path_names_a_factory_called_with_the_options() -> None:
    MADE.clear()
    store = store_of(f"{__name__}.make_store", ttl=7)
    assert isinstance(store, MemoryStore)
    assert store.ttl == 7
    assert MADE == [{"ttl": 7}]


def test_a_factory_gets_the_options_and_a_store_is_used_as_is() -> None:
    factory: Callable[..., Store | Awaitable[Store]] = make_store
    assert isinstance(store_of(factory, ttl=9), MemoryStore)
    ready = MemoryStore()
    assert store_of(ready, ttl=9) is ready


def test_the_bridge_made_here_has_the_timeout() -> None:
    bridge, owned = open_bridge("memory://", timeout=12.5)
    assert owned
    assert bridge.timeout == 12.5
    bridge.close()


def test_a_string_that_is_no_url_nor_dotted_path_is_refused_without_being_repeated() -> None:
    with pytest.raises(StoreURLError, match="neither a store URL") as info:
        open_bridge("redis:/user:hunter2@localhost")
    assert "hunter2" not in str(info.value)


def test_a_dotted_path_that_names_nothing_is_an_import_error() -> None:
    with pytest.raises(ImportError, match="does not define 'no_such_factory'"):
        open_bridge(f"{__name__}.no_such_factory")
    with pytest.raises(ImportError):
        open_bridge("no_such_package_anywhere.make_store")
