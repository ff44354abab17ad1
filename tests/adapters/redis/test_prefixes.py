"""Hostile prefixes: glob characters are matched literally, and an empty prefix cannot wipe Redis.

connect-redis passes its prefix to SCAN MATCH unescaped: ``a?:`` also counts and clears
``ab:...``, and ``prefix=""`` makes ``clear()`` delete the whole database. These tests run
on a redis-server of their own, holding foreign keys that an unescaped pattern would match.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio
from redis.asyncio import Redis

from connectstore import StoreError
from connectstore_conformance import make_session
from connectstore_redis import RedisStore, escape_glob
from tests.adapters.redis.servers import RedisServer, redis_server

# prefix -> foreign keys that the unescaped pattern ``prefix + "*"`` would match
HOSTILE_PREFIXES: dict[str, list[str]] = {
    "a?:": ["ab:foreign", "a-:x"],
    "[x]": ["x-foreign", "xx"],
    "*": ["anything", "sess:other-app"],
    "[a-z]*:": ["q:foreign", "b-anything"],
    "\\": ["*literal-star"],
    "a\\*b:": ["a*b:x"],
    "sess:": ["sess", "sesS:x", "other:sess:x"],
}


@pytest.fixture(scope="module")
def server() -> Iterator[RedisServer]:
    with redis_server() as server:
        yield server


@pytest_asyncio.fixture
async def raw(server: RedisServer) -> AsyncIterator[Redis]:
    client = Redis.from_url(server.url)
    await client.flushdb()  # our own server: nothing else lives here
    yield client
    await client.aclose()


def test_escape_glob_escapes_every_glob_character() -> None:
    assert escape_glob("a?b*c[d]e\\f") == "a\\?b\\*c\\[d\\]e\\\\f"
    assert escape_glob("sess:") == "sess:"


@pytest.mark.parametrize("prefix", list(HOSTILE_PREFIXES))
async def test_listings_and_clear_see_only_the_prefix(server: RedisServer, raw: Redis, prefix: str) -> None:
    foreign = HOSTILE_PREFIXES[prefix]
    for key in foreign:
        await raw.set(key, "foreign")
    async with RedisStore.from_url(server.url, prefix=prefix) as store:
        sessions = {"one": make_session(n=1), "*": make_session(n=2), "?": make_session(n=3)}
        for sid, session in sessions.items():
            await store.set(sid, session)
        assert await store.length() == 3
        assert sorted([sid async for sid in store.ids()]) == sorted(sessions)
        assert await store.all() == sessions
        await store.clear()
        assert await store.length() == 0
    for key in foreign:
        assert await raw.get(key) == b"foreign", f"prefix {prefix!r} reached the foreign key {key!r}"


async def test_empty_prefix_clear_is_refused(server: RedisServer, raw: Redis) -> None:
    """prefix="": every string key is "a session", so clear() refuses unless forced."""
    await raw.set("foreign", "keep me")
    async with RedisStore.from_url(server.url, prefix="") as store:
        await store.set("sid", make_session())
        assert await store.get("sid") is not None
        assert await raw.exists("sid") == 1, "with an empty prefix the key is the sid itself"
        with pytest.raises(StoreError, match="allow_empty_prefix_clear"):
            await store.clear()
    assert await raw.get("foreign") == b"keep me"
    assert await raw.exists("sid") == 1


async def test_empty_prefix_clear_when_forced_leaves_other_types(server: RedisServer, raw: Redis) -> None:
    await raw.hset("a-hash", "f", "v")
    await raw.set("a-string", "gone with the sessions")
    async with RedisStore.from_url(server.url, prefix="", allow_empty_prefix_clear=True) as store:
        await store.set("sid", make_session())
        await store.clear()
    assert await raw.exists("sid", "a-string") == 0
    assert await raw.hget("a-hash", "f") == b"v"
