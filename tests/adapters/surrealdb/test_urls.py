"""Store URLs: open_store("surrealdb+...") builds the store with the URL's options."""

from __future__ import annotations

import pytest

from connectstore import StoreURLError, installed_schemes, open_store
from connectstore_conformance import make_session
from connectstore_surrealdb import (
    DatabaseAuth,
    NamespaceAuth,
    RootAuth,
    SurrealDBStore,
    TokenAuth,
    options_from_url,
)


def test_schemes_are_registered() -> None:
    schemes = installed_schemes()
    for scheme in (
        "surrealdb",
        "surrealdb+ws",
        "surrealdb+wss",
        "surrealdb+http",
        "surrealdb+https",
        "surrealdb+mem",
        "surrealdb+surrealkv",
    ):
        assert schemes[scheme] == "connectstore_surrealdb.url:open_from_url"


async def test_open_store_mem_with_options() -> None:
    store = open_store("surrealdb+mem://?namespace=n1&db=d1&table=web_sessions&ttl=30&batch_size=7&timeout=2")
    assert isinstance(store, SurrealDBStore)
    assert (store.url, store.namespace, store.database, store.table) == ("mem://", "n1", "d1", "web_sessions")
    assert (store.ttl, store.batch_size, store.timeout) == (30.0, 7, 2.0)
    async with store:
        await store.set("a", make_session(3600, n=1))
        assert (await store.get("a") or {}).get("n") == 1


def test_credentials_and_levels() -> None:
    url, options = options_from_url(
        "surrealdb+wss://ro%40ot:p%3Ass@db.example:8000/rpc?auto_sweep_expired=true"
    )
    assert url == "wss://db.example:8000/rpc"
    assert options == {"auth": RootAuth("ro@ot", "p:ss"), "auto_sweep_expired": True}
    assert options_from_url("surrealdb://u:p@h?auth=namespace")[1]["auth"] == NamespaceAuth("u", "p")
    assert options_from_url("surrealdb+http://u:p@h?auth=database")[1]["auth"] == DatabaseAuth("u", "p")
    assert options_from_url("surrealdb+ws://h?token=abc.def.ghi")[1]["auth"] == TokenAuth("abc.def.ghi")
    assert options_from_url("surrealdb://h:8000")[0] == "ws://h:8000"
    assert options_from_url("surrealdb+surrealkv:///var/lib/sessions")[0] == "surrealkv:///var/lib/sessions"


def test_sweep_options_in_the_url() -> None:
    assert options_from_url("surrealdb+mem://?sweep_interval=30")[1] == {"sweep_interval": 30.0}
    assert options_from_url("surrealdb+mem://?sweep_interval=none")[1] == {"sweep_interval": None}
    assert options_from_url("surrealdb+mem://?auto_sweep_expired=on")[1] == {"auto_sweep_expired": True}
    store = open_store("surrealdb+mem://?auto_sweep_expired=true")
    assert isinstance(store, SurrealDBStore)
    assert store.sweep_interval == 600.0
    store = open_store("surrealdb+mem://?auto_sweep_expired=true&sweep_interval=5")
    assert isinstance(store, SurrealDBStore)
    assert store.sweep_interval == 5.0


def test_unknown_and_repeated_options_are_refused() -> None:
    with pytest.raises(StoreURLError, match=r"known: .*batch_size.*sweep_interval") as info:
        open_store("surrealdb+mem://?page_size=7")  # the old name of batch_size
    assert "page_size" in str(info.value)
    with pytest.raises(StoreURLError, match="twice"):
        open_store("surrealdb+mem://?ns=a&namespace=b")


def test_a_value_the_store_refuses_is_a_url_error() -> None:
    with pytest.raises(StoreURLError, match="table"):
        open_store("surrealdb+mem://?table=no%20spaces")
    with pytest.raises(StoreURLError, match="failure_threshold"):
        open_store("surrealdb+mem://?failure_threshold=0")


def test_explicit_options_win() -> None:
    store = open_store("surrealdb+mem://?table=a", table="b")
    assert isinstance(store, SurrealDBStore)
    assert store.table == "b"


def test_password_is_not_in_repr() -> None:
    store = open_store("surrealdb+ws://root:hunter2@127.0.0.1:1/rpc")
    assert "hunter2" not in repr(store)
    assert "hunter2" not in repr(options_from_url("surrealdb+ws://root:hunter2@h")[1])


@pytest.mark.parametrize(
    "url",
    [
        "surrealdb+ftp://h",
        "surrealdb+mem://?colour=blue",
        "surrealdb+mem://?ttl=soon",
        "surrealdb+mem://?auto_sweep_expired=maybe",
        "surrealdb+ws://u:p@h?auth=admin",
        "surrealdb+ws://u:p@h?token=t",
    ],
)
def test_bad_urls(url: str) -> None:
    with pytest.raises(StoreURLError):
        open_store(url)
