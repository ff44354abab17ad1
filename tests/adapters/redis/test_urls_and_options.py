"""Store URLs (``redis://``, ``rediss://``, ``redis+cluster://``) and option validation."""

from __future__ import annotations

from typing import Any

import pytest
from redis.asyncio import Redis, RedisCluster

from connectstore import StoreURLError, installed_schemes, open_store
from connectstore_conformance import make_session
from connectstore_redis import DEFAULT_BATCH_SIZE, DEFAULT_TIMEOUT, RedisStore
from tests.adapters.redis.conftest import unique_prefix
from tests.tools import free_port


def test_every_scheme_is_registered() -> None:
    schemes = installed_schemes()
    for scheme in ("redis", "rediss", "redis+cluster", "rediss+cluster"):
        assert schemes[scheme] == "connectstore_redis.url:open_from_url"


async def test_url_options_and_keywords() -> None:
    """Query arguments set store options; keywords win; nothing connects yet."""
    port = free_port()  # nothing listens there: building the store must not connect
    store = open_store(
        f"redis://127.0.0.1:{port}/3?prefix=app%3A&ttl=3600&batch_size=50&timeout=1.5"
        "&disable_touch=true&client_name=cs-url-test",
        batch_size=25,
    )
    assert isinstance(store, RedisStore)
    try:
        assert store.prefix == "app:"
        assert store.ttl == 3600
        assert store.batch_size == 25
        assert store.timeout == 1.5
        assert store.disable_touch is True
        assert store.disable_ttl is False
        assert isinstance(store.client, Redis)
        kwargs = store.client.connection_pool.connection_kwargs
        assert kwargs["db"] == 3
        assert kwargs["client_name"] == "cs-url-test"
        assert kwargs["socket_timeout"] == 1.5
    finally:
        await store.close()


async def test_defaults() -> None:
    store = open_store(f"redis://127.0.0.1:{free_port()}")
    assert isinstance(store, RedisStore)
    try:
        assert (store.prefix, store.ttl, store.batch_size, store.timeout) == (
            "sess:",
            86400,
            DEFAULT_BATCH_SIZE,
            DEFAULT_TIMEOUT,
        )
        assert not store.disable_ttl
        assert not store.disable_touch
        assert not store.allow_empty_prefix_clear
    finally:
        await store.close()


async def test_tls_and_cluster_schemes() -> None:
    tls = open_store(f"rediss://127.0.0.1:{free_port()}/0")
    assert isinstance(tls, RedisStore)
    assert isinstance(tls.client, Redis)
    assert tls.client.connection_pool.connection_class.__name__ == "SSLConnection"
    await tls.close()
    cluster = open_store(f"redis+cluster://127.0.0.1:{free_port()}?prefix=c%3A")
    assert isinstance(cluster, RedisStore)
    assert isinstance(cluster.client, RedisCluster)
    assert cluster.prefix == "c:"
    await cluster.close()


@pytest.mark.parametrize(
    "url",
    [
        "redis://127.0.0.1:1/0?ttl=abc",
        "redis://127.0.0.1:1/0?ttl=0",
        "redis://127.0.0.1:1/0?scan_count=-1",
        "redis://127.0.0.1:1/0?batch_size=0",
        "redis://127.0.0.1:1/0?batch_size=5&scan_count=5",
        "redis://127.0.0.1:1/0?timeout=soon",
        "redis://127.0.0.1:1/0?disable_ttl=maybe",
        "redis+cluster://127.0.0.1:1/3",
        "redis+unknown://127.0.0.1:1",
    ],
)
def test_bad_urls_raise_store_url_error(url: str) -> None:
    with pytest.raises(StoreURLError):
        open_store(url)


def test_url_error_does_not_show_the_password() -> None:
    with pytest.raises(StoreURLError) as error:
        open_store("redis://user:s3cret@127.0.0.1:1/0?ttl=-1")
    assert "s3cret" not in str(error.value)


async def test_close_closes_the_client_the_store_built(shared_redis: str) -> None:
    name = f"cs-close-{unique_prefix(glob=False).strip(':')}"
    observer = Redis.from_url(shared_redis)
    store = RedisStore.from_url(shared_redis, client_options={"client_name": name})
    try:
        await store.get("anything")
        assert name in [client["name"] for client in await observer.client_list()]
        await store.close()
        await store.close()  # twice is fine
        assert name not in [client["name"] for client in await observer.client_list()]
    finally:
        await observer.aclose()


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"ttl": 0}, ValueError),
        ({"ttl": -5}, ValueError),
        ({"ttl": True}, ValueError),
        ({"ttl": 1.5}, ValueError),
        ({"scan_count": 0}, ValueError),
        ({"batch_size": 0}, ValueError),
        ({"batch_size": True}, ValueError),
        ({"batch_size": 10, "scan_count": 10}, ValueError),
        ({"timeout": 0}, ValueError),
        ({"max_concurrency": 0}, ValueError),
        ({"prefix": b"sess:"}, TypeError),
        ({"serializer": object()}, TypeError),
    ],
)
async def test_bad_options_are_refused(options: dict[str, Any], error: type[Exception]) -> None:
    client = Redis(port=free_port())
    try:
        with pytest.raises(error):
            RedisStore(client, **options)
    finally:
        await client.aclose()


async def test_client_must_be_a_redis_py_asyncio_client() -> None:
    with pytest.raises(TypeError, match=r"redis\.asyncio"):
        RedisStore(object())  # type: ignore[arg-type]


async def test_ttl_function_must_return_a_number(shared_redis: str) -> None:
    async with RedisStore.from_url(
        shared_redis, prefix=unique_prefix(), ttl=lambda session: float("nan")
    ) as store:
        with pytest.raises(ValueError, match="ttl function"):
            await store.set("s", make_session())
        assert await store.length() == 0


@pytest.mark.parametrize(
    ("url", "keywords", "expected"),
    [
        ("?scan_count=7", {}, 7),
        ("?batch_size=7", {"scan_count": 9}, 9),
        ("?scan_count=7", {"batch_size": 9}, 9),
        ("", {"scan_count": 9}, 9),
    ],
)
async def test_scan_count_is_an_alias_of_batch_size(
    url: str, keywords: dict[str, Any], expected: int
) -> None:
    """connect-redis's scanCount, as scan_count, in the URL and as a keyword; keywords win."""
    store = open_store(f"redis://127.0.0.1:{free_port()}/0{url}", **keywords)
    assert isinstance(store, RedisStore)
    assert store.batch_size == expected
    await store.close()
    client = Redis(port=free_port())
    try:
        assert RedisStore(client, scan_count=expected).batch_size == expected
    finally:
        await client.aclose()


@pytest.mark.parametrize(
    ("value", "expected"), [("off", False), ("no", False), ("0", False), ("on", True), ("yes", True)]
)
async def test_redis_py_switches_are_read_as_the_store_reads_them(value: str, expected: bool) -> None:
    """A yes/no option passed on to redis-py means for redis-py what it means for the store
    (redis-py alone reads ``socket_keepalive=off`` as true).
    """
    store = open_store(f"redis://127.0.0.1:{free_port()}/0?socket_keepalive={value}")
    assert isinstance(store, RedisStore)
    assert isinstance(store.client, Redis)
    try:
        assert store.client.connection_pool.connection_kwargs["socket_keepalive"] is expected
    finally:
        await store.close()


def test_an_unknown_option_is_named_with_the_known_ones_and_its_value_hidden() -> None:
    with pytest.raises(StoreURLError) as error:
        open_store("redis://127.0.0.1:1/0?pasword=hunter2")
    message = str(error.value)
    assert "'pasword'" in message
    assert "hunter2" not in message
    for known in ("batch_size", "scan_count", "prefix", "client_name", "password", "db"):
        assert known in message
