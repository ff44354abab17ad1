"""Every part of a Redis store URL is checked at startup, and no message carries a credential.

redis-py reads ``/9x``, ``/9/extra`` or ``/nine`` as database 0 (data lands in the wrong
place) and an unknown query argument fails only at the first command; here each is a
StoreURLError before anything is built. Error messages, reprs and the errors of calls
(unreachable server, authentication failure, timeouts, Cluster errors) never show a
password, from the URL, from ``?password=`` or from a client passed in.
"""

from __future__ import annotations

import asyncio
import logging
import traceback

import pytest
from redis.asyncio import Redis

from connectstore import StoreError, StoreURLError, open_store
from connectstore_conformance import make_session
from connectstore_redis import RedisStore
from tests.adapters.redis.servers import RedisServer, command
from tests.tools import free_port

SECRET = "hunter2"


@pytest.mark.parametrize(
    "url",
    [
        "redis://127.0.0.1:6379/9x",
        "redis://127.0.0.1:6379/9/extra",
        "redis://127.0.0.1:6379/nine",
        "redis://127.0.0.1:6379/-1",
        "redis://127.0.0.1:6379/1.5",
        "redis://127.0.0.1:6379/99999999999",
        "redis://127.0.0.1:6379/0?db=x",
        "redis://127.0.0.1:6379/1?db=2",
        "redis://127.0.0.1:notaport/0",
        "redis://127.0.0.1:0/0",
        "redis://127.0.0.1:70000/0",
        "redis://127.0.0.1:6379/0?frobnicate=1",
        "redis://127.0.0.1:6379/0?ttl=1&ttl=2",
        "redis://127.0.0.1:6379/0?disable_touch=maybe",
        "redis://127.0.0.1:6379/0?trust_key_ttl=2",
        "redis://127.0.0.1:6379/0?disable_touch=",
        "redis://127.0.0.1:6379/0?socket_keepalive=",
        "redis://127.0.0.1:6379/0?batch_size=1.5",
        "redis://127.0.0.1:6379/0?timeout=inf",
        "redis://127.0.0.1:6379/0?timeout=-1",
        "redis://127.0.0.1:6379/0?failure_threshold=0",
        "redis://127.0.0.1:6379/0?retry_interval=soon",
        "redis://127.0.0.1:6379/0?socket_keepalive=perhaps",
        "redis://127.0.0.1:6379/0?socket_timeout=abc",
        "redis://127.0.0.1:6379/0?max_connections=-3",
        "redis://127.0.0.1:6379/0?protocol=4",
        "redis://127.0.0.1:6379/0?ssl_cert_reqs=sometimes",
        "redis://127.0.0.1:6379/0#fragment",
        "redis://[::1/0",
        "redis+cluster://127.0.0.1:7000/1",
        "redis+cluster://127.0.0.1:7000?db=2",
        "redis-cluster://127.0.0.1:7000",
    ],
)
def test_a_bad_url_part_is_refused(url: str) -> None:
    with pytest.raises(StoreURLError):
        open_store(url)


@pytest.mark.parametrize(
    ("url", "db"),
    [("redis://h/7", 7), ("redis://h/7/", 7), ("redis://h", 0), ("redis://h/", 0), ("redis://h?db=3", 3)],
)
async def test_good_databases(url: str, db: int) -> None:
    store = open_store(url)
    assert isinstance(store, RedisStore)
    assert isinstance(store.client, Redis)
    assert store.client.connection_pool.connection_kwargs["db"] == db
    await store.close()


@pytest.mark.parametrize(
    "options",
    [
        {"disable_ttl": "yes"},
        {"trust_key_ttl": 1},
        {"timeout": float("nan")},
        {"timeout": "2"},
        {"max_concurrency": 2.5},
        {"failure_threshold": 0},
        {"retry_interval": -1},
        {"no_such_option": 1},
    ],
)
def test_bad_keyword_options_are_refused_by_open_store(options: dict[str, object]) -> None:
    with pytest.raises(StoreURLError):
        open_store("redis://127.0.0.1:1/0", **options)


CREDENTIAL_URLS = [
    f"redis://:{SECRET}@127.0.0.1:{{port}}/0",
    f"redis://user:{SECRET}@127.0.0.1:{{port}}/0",
    f"redis://127.0.0.1:{{port}}/0?password={SECRET}",
    f"redis+cluster://user:{SECRET}@127.0.0.1:{{port}}",
]


def shows_no_secret(*texts: str) -> None:
    for text in texts:
        assert SECRET not in text


BAD_URLS_WITH_CREDENTIALS = [
    *(
        f"redis://{userinfo}127.0.0.1{rest}"
        for userinfo in (f":{SECRET}@", f"user:{SECRET}@", f"user:{SECRET}@@")
        for rest in (
            ":6379/0?ttl=-1",
            ":6379/9x",
            ":6379/0?frobnicate=1",
            ":6379/0#frag",
            ":bad/0",
            ":6379/0?ttl=1&ttl=2",
        )
    ),
    *(
        f"redis://127.0.0.1:6379{rest}"
        for rest in (
            f"/0?password={SECRET}&ttl=-1",
            f"/9x?password={SECRET}",
            f"/0?password={SECRET}&frobnicate=1",
            f"/0?password={SECRET}&password={SECRET}",
            f"/0?ssl_password={SECRET}&ssl_cert_reqs=sometimes",
        )
    ),
    f"redis+cluster://user:{SECRET}@127.0.0.1:7000/3",
    f"redis+cluster://user:{SECRET}@127.0.0.1:7000?frobnicate=1",
    f"rediss://:{SECRET}@127.0.0.1:6379/0?ssl_cert_reqs=sometimes",
    f"redis://:{SECRET}@[::1/0",
]


@pytest.mark.parametrize("url", BAD_URLS_WITH_CREDENTIALS)
def test_url_errors_never_show_the_password(url: str) -> None:
    with pytest.raises(StoreURLError) as error:
        open_store(url)
    shows_no_secret(str(error.value), repr(error.value), "".join(traceback.format_exception(error.value)))


@pytest.mark.parametrize("template", CREDENTIAL_URLS)
async def test_unreachable_server_errors_and_reprs_never_show_the_password(
    template: str, caplog: pytest.LogCaptureFixture
) -> None:
    store = open_store(template.format(port=free_port()) + ("&" if "?" in template else "?") + "timeout=0.5")
    assert isinstance(store, RedisStore)
    shows_no_secret(repr(store), str(store.breaker))
    with caplog.at_level(logging.DEBUG):
        for _ in range(4):  # fails in a Redis call, then fast (breaker open): both messages
            with pytest.raises(StoreError) as error:
                await store.set("s", make_session())
            shows_no_secret(str(error.value), "".join(traceback.format_exception(error.value)))
    shows_no_secret(caplog.text)
    await store.close()


async def test_authentication_failure_never_shows_the_password(own_redis: RedisServer) -> None:
    command(own_redis.port, "CONFIG", "SET", "requirepass", "the-real-one")
    try:
        for store in (
            RedisStore.from_url(f"redis://:{SECRET}@127.0.0.1:{own_redis.port}/0"),
            RedisStore.from_url(f"redis://default:{SECRET}@127.0.0.1:{own_redis.port}/0"),
            RedisStore.from_url(f"redis://127.0.0.1:{own_redis.port}/0?password={SECRET}"),
            RedisStore(Redis(port=own_redis.port, password=SECRET)),
        ):
            with pytest.raises(StoreError) as error:
                await store.get("s")
            shows_no_secret(str(error.value), repr(store), "".join(traceback.format_exception(error.value)))
            await store.close()
            await store.client.aclose()
    finally:
        command(own_redis.port, "-a", "the-real-one", "CONFIG", "SET", "requirepass", "")


async def test_a_timeout_never_shows_the_password() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(-1)
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with RedisStore.from_url(f"redis://u:{SECRET}@127.0.0.1:{port}/0?timeout=0.3") as store:
            with pytest.raises(StoreError) as error:
                await store.get("s")
            shows_no_secret(str(error.value), repr(store), "".join(traceback.format_exception(error.value)))
    finally:
        server.close()
        await server.wait_closed()
