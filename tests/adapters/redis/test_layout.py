"""What RedisStore writes and reads on a real Redis: connect-redis 9's layout, byte for byte.

Key ``prefix + sid``; value the express-session JSON; ``SET ... EX ceil(seconds left)``,
86400 s without an expiry, ``DEL`` for an expiry already past; ``touch`` replaces only the
stored cookie (compare-and-set) and sets the new TTL.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from redis.asyncio import Redis

from connectstore import SessionData, SessionDecodeError, now_ms, ttl_seconds
from connectstore.cookie import format_expires, parse_expires
from connectstore_conformance import make_session
from connectstore_redis import RedisStore
from tests.adapters.redis.conftest import unique_prefix
from tests.conftest import load_vectors


@pytest_asyncio.fixture
async def raw(shared_redis: str) -> AsyncIterator[Redis]:
    """A plain redis-py client on the same Redis, to look at what the store wrote."""
    client = Redis.from_url(shared_redis)
    yield client
    await client.aclose()


def cookie(expires_in_ms: int | None) -> dict[str, Any]:
    """An express-session cookie object expiring ``expires_in_ms`` from now (None: no expiry)."""
    if expires_in_ms is None:
        return {"originalMaxAge": None, "expires": None, "httpOnly": True, "path": "/"}
    return {
        "originalMaxAge": expires_in_ms,
        "expires": format_expires(now_ms() + expires_in_ms),
        "httpOnly": True,
        "path": "/",
    }


def expires_of(session: SessionData | None) -> int:
    assert session is not None
    expires = parse_expires(session["cookie"]["expires"])
    assert expires is not None
    return expires


@pytest.mark.parametrize("vector", load_vectors("session-json.json")["sessions"], ids=lambda v: v["name"])
async def test_set_writes_the_bytes_express_session_stores(
    store: RedisStore, raw: Redis, vector: dict[str, Any]
) -> None:
    """The stored value is exactly JSON.stringify(session); the TTL is connect-redis's."""
    expected_ttl = ttl_seconds(vector["parsed"])
    await store.set("abc", vector["parsed"])
    key = store.prefix + "abc"
    assert await raw.get(key) == vector["json"].encode("utf-8")
    assert await raw.type(key) == b"string"
    assert expected_ttl - 2 <= await raw.ttl(key) <= expected_ttl
    assert await store.get("abc") == vector["parsed"]


async def test_ttl_is_whole_seconds_rounded_up(store: RedisStore, raw: Redis) -> None:
    """1.5 s left -> EX 2 (connect-redis's ceil), and a key of its own for each sid."""
    await store.set("soon", {"cookie": cookie(1500)})
    assert 1500 < await raw.pttl(store.prefix + "soon") <= 2000


async def test_default_ttl_applies_without_expires(shared_redis: str, raw: Redis) -> None:
    """expires: null -> EX 86400 by default, or the ttl option."""
    async with RedisStore.from_url(shared_redis, prefix=unique_prefix()) as default:
        await default.set("a", {"cookie": cookie(None)})
        assert 86398 <= await raw.ttl(default.prefix + "a") <= 86400
        await default.clear()
    async with RedisStore.from_url(shared_redis, prefix=unique_prefix(), ttl=3600) as custom:
        await custom.set("a", {"cookie": cookie(None)})
        assert 3598 <= await raw.ttl(custom.prefix + "a") <= 3600
        await custom.clear()


async def test_set_with_past_expiry_deletes_the_key(store: RedisStore, raw: Redis) -> None:
    await store.set("gone", {"cookie": cookie(60_000), "v": 1})
    await store.set("gone", {"cookie": cookie(-1000), "v": 2})
    assert await raw.exists(store.prefix + "gone") == 0


async def test_ttl_function_decides_every_lifetime(shared_redis: str, raw: Redis) -> None:
    """A callable ttl overrides cookie.expires (connect-redis); <= 0 deletes."""
    lifetimes = {"short": 42, "none": 0, "fraction": 1.2}
    async with RedisStore.from_url(
        shared_redis, prefix=unique_prefix(), ttl=lambda session: lifetimes[session["kind"]]
    ) as store:
        await store.set("a", {"cookie": cookie(3_600_000), "kind": "short"})
        assert 40 <= await raw.ttl(store.prefix + "a") <= 42
        await store.set("b", {"cookie": cookie(3_600_000), "kind": "fraction"})
        assert await raw.ttl(store.prefix + "b") == 2
        await store.set("a", {"cookie": cookie(3_600_000), "kind": "none"})
        assert await raw.exists(store.prefix + "a") == 0
        await store.clear()


async def test_touch_replaces_only_the_cookie_and_sets_the_new_ttl(store: RedisStore, raw: Redis) -> None:
    """touch() writes the new cookie into the stored value (so the stored cookie stays true)
    and the key's new TTL; the application data stays as set() wrote it.
    """
    await store.set("s", {"cookie": cookie(60_000), "views": 1})
    key = store.prefix + "s"
    touched = {"cookie": cookie(600_000), "views": 999}
    await store.touch("s", touched)
    assert await raw.get(key) == store.serializer.dumps({"cookie": touched["cookie"], "views": 1}).encode()
    assert 598 <= await raw.ttl(key) <= 600
    got = await store.get("s")
    assert got == {"cookie": touched["cookie"], "views": 1}


async def test_touch_never_overwrites_a_write_made_since_it_read(store: RedisStore, raw: Redis) -> None:
    """The compare-and-set: when the value changed between touch's read and its write, the
    other write wins (here simulated by changing the key while touch is the only writer).
    """
    await store.set("s", {"cookie": cookie(60_000), "views": 1})
    key = store.prefix + "s"
    value = await raw.get(key)
    assert value is not None
    newer = store.serializer.dumps({"cookie": cookie(60_000), "views": 2}).encode()
    await raw.set(key, newer, ex=60)
    binding = await store._loops.current()
    written = await binding.topology.replace(key.encode(), value, b'{"cookie":{}}', 600)
    assert written is False
    assert await raw.get(key) == newer
    assert await raw.ttl(key) <= 60


async def test_touch_of_a_missing_sid_creates_nothing(store: RedisStore, raw: Redis) -> None:
    await store.touch("ghost", {"cookie": cookie(60_000)})
    assert await raw.exists(store.prefix + "ghost") == 0


async def test_a_key_another_writer_extended_keeps_a_past_cookie_expired(
    store: RedisStore, raw: Redis, shared_redis: str
) -> None:
    """connect-redis's touch (EXPIRE) leaves a stale cookie.expires behind: once that has
    passed, the session is expired here whatever the TTL (the rule of every store); with
    trust_key_ttl=True it lives until the key's TTL ends, as connect-redis reads it.
    """
    key = store.prefix + "node-touched"
    stale = {"cookie": {**cookie(-30_000)}, "views": 3}
    await raw.set(key, store.serializer.dumps(stale).encode(), ex=120)
    assert await store.get("node-touched") is None
    assert await store.all() == {}
    assert await store.length() == 0
    async with RedisStore.from_url(shared_redis, prefix=store.prefix, trust_key_ttl=True) as trusting:
        before = now_ms()
        got = await trusting.get("node-touched")
        assert got is not None
        assert got["views"] == 3
        assert before + 118_000 <= expires_of(got) <= now_ms() + 120_000
        assert [sid async for sid, _ in trusting.items()] == ["node-touched"]
        assert await trusting.length() == 1


async def test_get_reports_a_ttl_another_writer_shortened(store: RedisStore, raw: Redis) -> None:
    await store.set("s", {"cookie": cookie(3_600_000)})
    await raw.expire(store.prefix + "s", 30)
    assert now_ms() + 28_000 <= expires_of(await store.get("s")) <= now_ms() + 30_000


async def test_session_is_gone_at_its_cookie_expiry_while_the_key_lingers(
    store: RedisStore, raw: Redis
) -> None:
    """EX rounds up, so a key outlives its cookie by < 1 s: get(), the listings and length()
    follow the cookie. (A key that outlives its cookie for longer is the same case; no
    sub-second timing is needed to see it.)
    """
    key = store.prefix + "rounded"
    session = {"cookie": cookie(-300), "v": 1}
    await raw.set(key, store.serializer.dumps(session).encode(), ex=60)
    assert await store.get("rounded") is None
    assert await store.all() == {}
    assert [sid async for sid in store.ids()] == []
    assert await store.length() == 0
    assert await raw.exists(key) == 1, "the key is still there: get() followed the cookie"


async def test_browser_session_cookie_keeps_a_null_expires(store: RedisStore) -> None:
    """A session without expiry lives for the default TTL but is never given an expires."""
    session = {"cookie": cookie(None), "v": 1}
    await store.set("s", session)
    await store.touch("s", session)
    assert await store.get("s") == session


async def test_disable_ttl_writes_keys_without_expiry(shared_redis: str, raw: Redis) -> None:
    """disable_ttl: plain SET, touch is a no-op, and a session whose cookie expired is
    hidden from get and from every listing (its key stays until destroyed or cleared).
    """
    async with RedisStore.from_url(shared_redis, prefix=unique_prefix(), disable_ttl=True) as store:
        await store.set("live", {"cookie": cookie(60_000)})
        await store.set("old", {"cookie": cookie(60_000)})
        key = store.prefix + "old"
        assert await raw.ttl(key) == -1
        await store.touch("old", {"cookie": cookie(600_000)})
        assert await raw.ttl(key) == -1
        await raw.set(key, store.serializer.dumps({"cookie": cookie(-1000)}).encode())
        assert await store.get("old") is None
        assert await store.length() == 1
        assert [sid async for sid in store.ids()] == ["live"]
        assert list(await store.all()) == ["live"]
        await store.set("gone", {"cookie": cookie(-1000)})
        assert await raw.exists(store.prefix + "gone") == 0
        await store.clear()


async def test_disable_touch_leaves_the_ttl_alone(shared_redis: str, raw: Redis) -> None:
    async with RedisStore.from_url(shared_redis, prefix=unique_prefix(), disable_touch=True) as store:
        await store.set("s", {"cookie": cookie(60_000)})
        await store.touch("s", {"cookie": cookie(600_000)})
        assert await raw.ttl(store.prefix + "s") <= 60
        await store.clear()


async def test_corrupt_record_is_a_decode_error_for_get_and_skipped_by_listings(
    store: RedisStore, raw: Redis, caplog: pytest.LogCaptureFixture
) -> None:
    """get() of corrupt JSON, or of a cookie.expires that is no date, raises
    SessionDecodeError naming the sid; all()/ids()/items()/length() skip that record
    (one WARNING naming the sid on logger "connectstore", never the content) and still
    report every other session: length() counts what all() lists.
    """
    await store.set("good", make_session(v=1))
    await raw.set(store.prefix + "bad", b'{"cookie":{"expires":', ex=60)
    await raw.set(store.prefix + "bad-expiry", b'{"cookie":{"expires":"not a date"},"v":2}', ex=60)
    with pytest.raises(SessionDecodeError) as error:
        await store.get("bad")
    assert error.value.sid == "bad"
    with pytest.raises(SessionDecodeError) as error:
        await store.get("bad-expiry")
    assert error.value.sid == "bad-expiry"
    with caplog.at_level(logging.WARNING, logger="connectstore"):
        assert list(await store.all()) == ["good"]
        assert [sid async for sid in store.ids()] == ["good"]
        assert [sid async for sid, _ in store.items()] == ["good"]
        assert await store.length() == 1, "length() counts what all() lists: corrupt records are skipped"
    skipped = [record for record in caplog.records if record.name == "connectstore"]
    assert len(skipped) == 8, "one warning per corrupt record and listing"
    assert {record.levelno for record in skipped} == {logging.WARNING}
    assert sum("'bad'" in record.getMessage() for record in skipped) == 4
    assert sum("'bad-expiry'" in record.getMessage() for record in skipped) == 4
    assert "not a date" not in caplog.text, "the content of a corrupt record is never logged"
    await store.set("bad-expiry", make_session(v=3))
    got = await store.get("bad-expiry")
    assert got is not None
    assert got["v"] == 3, "set() replaces a corrupt record"
    await store.clear()
    assert await raw.exists(store.prefix + "bad") == 0


async def test_length_counts_what_all_lists(store: RedisStore, raw: Redis) -> None:
    """Keys that are no live session (a past cookie on a lingering key, a corrupt value, a
    foreign type) are counted by length() exactly as all() lists them: not at all.
    """
    await store.set("live", make_session(v=1))
    await raw.set(store.prefix + "past", store.serializer.dumps({"cookie": cookie(-5_000)}).encode(), ex=60)
    await raw.set(store.prefix + "corrupt", b"\xff{not json", ex=60)
    await raw.hset(store.prefix + "hash", "field", "value")
    try:
        assert await store.length() == len(await store.all()) == 1
    finally:
        await raw.delete(store.prefix + "hash")


async def test_keys_of_other_types_under_the_prefix_are_not_sessions(store: RedisStore, raw: Redis) -> None:
    """A hash under the prefix is not listed, not counted, not cleared; get() says None."""
    hash_key = store.prefix + "a-hash"
    await raw.hset(hash_key, "field", "value")
    try:
        await store.set("s", make_session())
        assert await store.get("a-hash") is None
        assert await store.length() == 1
        assert list(await store.all()) == ["s"]
        await store.clear()
        assert await raw.hget(hash_key, "field") == b"value"
    finally:
        await raw.delete(hash_key)


async def test_works_with_a_client_that_decodes_responses(shared_redis: str) -> None:
    client = Redis.from_url(shared_redis, decode_responses=True)
    store = RedisStore(client, prefix=unique_prefix())
    try:
        session = make_session(name="ünïcødé ✓")
        await store.set("sid-✓", session)
        assert await store.get("sid-✓") == session
        assert await store.all() == {"sid-✓": session}
        assert [sid async for sid in store.ids()] == ["sid-✓"]
        await store.clear()
        assert await store.length() == 0
    finally:
        await store.close()
        assert await client.ping(), "close() must leave a client it did not build open"
        await client.aclose()
