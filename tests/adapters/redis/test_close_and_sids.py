"""Two edges of the contract on Redis: every call after ``close()`` works, and a sid that is
no ``str`` is a TypeError before any I/O.

A store built from a URL owns its clients: ``close()`` closes their connections and the next
call opens new ones (Redis keeps the data). A client passed in is the application's: never
closed by the store, which goes on using it.
"""

from __future__ import annotations

from typing import Any

import pytest
from redis.asyncio import Redis

from connectstore_conformance import make_session
from connectstore_redis import RedisStore
from tests.adapters.redis.conftest import unique_prefix
from tests.adapters.redis.servers import command
from tests.tools import free_port


def connections_named(name: str) -> int:
    """How many connections the shared Redis has from clients called ``name``."""
    return command(6379, "CLIENT", "LIST").count(f" name={name} ")


async def test_a_store_built_from_a_url_reopens_after_close(shared_redis: str) -> None:
    name = unique_prefix("reopen", glob=False).strip(":")
    store = RedisStore.from_url(shared_redis, prefix=name + ":", client_options={"client_name": name})
    try:
        await store.set("s", make_session(n=1))
        assert connections_named(name) >= 1
        await store.close()
        assert connections_named(name) == 0, "close() closed the connections the store opened"
        got = await store.get("s")
        assert got is not None
        assert got["n"] == 1, "the next call reopened, and Redis kept the data"
        assert connections_named(name) >= 1
        await store.set("t", make_session(n=2))
        assert await store.length() == 2
        await store.close()
        await store.close()
        assert connections_named(name) == 0, "a later close() closes the reopened client too"
    finally:
        await store.clear()
        await store.close()


async def test_a_client_passed_in_is_never_closed_and_keeps_serving(shared_redis: str) -> None:
    name = unique_prefix("theirs", glob=False).strip(":")
    client = Redis.from_url(shared_redis, client_name=name)
    store = RedisStore(client, prefix=name + ":")
    try:
        await store.set("s", make_session(n=1))
        await store.close()
        await store.close()
        assert await client.ping(), "close() left the application's client open"
        assert connections_named(name) >= 1
        assert store.client is client
        got = await store.get("s")
        assert got is not None
        assert got["n"] == 1
        await store.set("t", make_session(n=2))
        assert sorted(await store.all()) == ["s", "t"]
        await store.clear()
        await store.close()
        assert await client.ping()
    finally:
        await client.aclose()


NOT_STR_SIDS: list[Any] = [1, b"s", None, 1.5]


@pytest.mark.parametrize("sid", NOT_STR_SIDS, ids=lambda sid: type(sid).__name__)
@pytest.mark.parametrize("disable_touch", [False, True])
async def test_a_sid_that_is_not_a_str_is_a_type_error_before_any_io(sid: Any, disable_touch: bool) -> None:
    """Nothing listens on the store's port: any I/O would fail with StoreUnavailableError,
    so a TypeError shows the sid was refused first (redis-py is never reached).
    """
    store = RedisStore.from_url(
        f"redis://127.0.0.1:{free_port()}/0", disable_touch=disable_touch, failure_threshold=1
    )
    expected = f"a session id is a str, not {type(sid).__name__}"
    try:
        with pytest.raises(TypeError, match=expected):
            await store.get(sid)
        with pytest.raises(TypeError, match=expected):
            await store.set(sid, make_session())
        with pytest.raises(TypeError, match=expected):
            await store.destroy(sid)
        with pytest.raises(TypeError, match=expected):
            await store.touch(sid, make_session())
        assert not store.breaker.is_open, "no call reached Redis (one failed call opens it)"
    finally:
        await store.close()
