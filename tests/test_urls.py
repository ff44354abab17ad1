"""Store URLs."""

from __future__ import annotations

import pytest

from connectstore import MemoryStore, StoreURLError, installed_schemes, open_store


async def test_memory_url_builds_a_fresh_store() -> None:
    store = open_store("memory://")
    assert isinstance(store, MemoryStore)
    assert store is not open_store("memory://")
    assert open_store("memory://?ttl=5").ttl == 5  # type: ignore[attr-defined]
    assert open_store("MEMORY://", ttl=7).ttl == 7  # type: ignore[attr-defined]


def test_unknown_scheme_lists_installed_schemes() -> None:
    with pytest.raises(
        StoreURLError, match=r"no store is installed for nope://; installed schemes: .*memory://"
    ):
        open_store("nope://x")


@pytest.mark.parametrize("url", ["", "memory", "://x", "/tmp/file.db"])
def test_malformed_urls(url: str) -> None:
    with pytest.raises(StoreURLError, match="not a store URL"):
        open_store(url)


def test_unknown_memory_option() -> None:
    with pytest.raises(StoreURLError, match="takes no option"):
        open_store("memory://?size=3")


def test_installed_schemes_includes_entry_points() -> None:
    assert installed_schemes()["memory"] == "connectstore.urls:open_memory_store"


@pytest.mark.parametrize("url", ["root:hunter2@db:6379", "redis//:hunter2@db", "re dis://:hunter2@db"])
def test_a_malformed_url_is_not_repeated_in_the_error(url: str) -> None:
    with pytest.raises(StoreURLError) as caught:
        open_store(url)
    assert "hunter2" not in str(caught.value)


@pytest.mark.parametrize("ttl", ["abc", "-5", "0", "nan", "inf"])
def test_a_bad_memory_ttl_is_a_store_url_error(ttl: str) -> None:
    with pytest.raises(StoreURLError, match="ttl must be a positive number"):
        open_store(f"memory://?ttl={ttl}")


def test_a_value_error_of_a_store_constructor_becomes_a_store_url_error() -> None:
    with pytest.raises(StoreURLError, match=r"memory:// refused its URL or options") as caught:
        open_store("memory://", ttl=-1)
    assert isinstance(caught.value.__cause__, ValueError)


def test_a_store_url_is_a_string() -> None:
    with pytest.raises(TypeError, match="str"):
        open_store(b"memory://")  # type: ignore[arg-type]
