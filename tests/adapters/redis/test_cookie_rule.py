"""The rule of every store: a session whose own ``cookie.expires`` has passed is expired,
whatever its key's TTL says.

The keys are written behind the store's back (raw redis-py, as a Node app with connect-redis
would write them: with a ``ttl`` function, with ``disableTTL``, touched by ``EXPIRE``) and
through the store's own options (``ttl`` function, ``disable_ttl``). ``get`` gives None and
``all``/``items``/``ids``/``length`` leave the session out, while the key is still there.
No test waits for anything to expire: the cookies are written already past.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from redis.asyncio import Redis

from connectstore import now_ms
from connectstore.cookie import format_expires
from connectstore_redis import RedisStore
from tests.adapters.redis.conftest import unique_prefix


@pytest_asyncio.fixture
async def raw(shared_redis: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(shared_redis)
    yield client
    await client.aclose()


def session(expires_in_ms: int, **data: Any) -> dict[str, Any]:
    """An express-session session whose cookie expires ``expires_in_ms`` from now."""
    return {
        "cookie": {
            "originalMaxAge": 60_000,
            "expires": format_expires(now_ms() + expires_in_ms),
            "httpOnly": True,
            "path": "/",
        },
        **data,
    }


async def assert_only_live_is_seen(store: RedisStore) -> None:
    """``dead`` is invisible everywhere; ``live`` is seen everywhere."""
    assert await store.get("dead") is None
    assert await store.get("live") is not None
    assert list(await store.all()) == ["live"]
    assert [sid async for sid, _ in store.items()] == ["live"]
    assert [sid async for sid in store.ids()] == ["live"]
    assert await store.length() == 1


@pytest.mark.parametrize(
    "ttl_seconds",
    [
        pytest.param(86_400, id="a ttl function's day"),
        pytest.param(120, id="extended by EXPIRE (connect-redis touch)"),
        pytest.param(None, id="no TTL (disableTTL)"),
    ],
)
async def test_keys_written_behind_the_stores_back(
    shared_redis: str, raw: Redis, ttl_seconds: int | None
) -> None:
    async with RedisStore.from_url(shared_redis, prefix=unique_prefix("rule")) as store:
        await store.set("live", session(60_000))
        dead = store.serializer.dumps(session(-5_000, views=1)).encode()
        await raw.set(store.prefix + "dead", dead, ex=ttl_seconds)
        await assert_only_live_is_seen(store)
        assert await raw.get(store.prefix + "dead") == dead, "the key is still there"
        await store.clear()


async def test_a_ttl_function_never_keeps_a_past_cookie_alive(shared_redis: str, raw: Redis) -> None:
    """connect-redis's rule: a ttl function decides the key's life and ignores the cookie;
    the session still ends with its cookie.
    """
    async with RedisStore.from_url(shared_redis, prefix=unique_prefix("fn"), ttl=lambda s: 3600) as store:
        await store.set("live", session(60_000))
        await store.set("dead", session(-5_000))
        assert 3598 <= await raw.ttl(store.prefix + "dead") <= 3600
        await assert_only_live_is_seen(store)
        await store.touch("dead", session(60_000))
        assert await store.get("dead") is None, "touch never revives an expired session"
        await store.clear()


async def test_disable_ttl_with_a_ttl_function(shared_redis: str, raw: Redis) -> None:
    async with RedisStore.from_url(
        shared_redis, prefix=unique_prefix("nottl"), ttl=lambda s: 3600, disable_ttl=True
    ) as store:
        await store.set("live", session(60_000))
        await store.set("dead", session(-5_000))
        assert await raw.ttl(store.prefix + "dead") == -1
        await assert_only_live_is_seen(store)
        await store.clear()


async def test_touch_keeps_the_stored_cookie_true(shared_redis: str, raw: Redis) -> None:
    """Our touch writes the new cookie, so a session touched past its first expiry lives on:
    shown here with a stored cookie already past and a key extended by a touch with a
    live cookie (the touch happened in time; the clock is not waited for).
    """
    async with RedisStore.from_url(shared_redis, prefix=unique_prefix("touch")) as store:
        await store.set("s", session(60_000, views=1))
        await store.touch("s", session(3_600_000, views=99))
        got = await store.get("s")
        assert got is not None
        assert got["views"] == 1
        assert got["cookie"]["expires"] > session(3_000_000)["cookie"]["expires"]
        stored = await raw.get(store.prefix + "s")
        assert isinstance(stored, bytes)
        assert store.serializer.loads(stored.decode()) == got
        await store.clear()
