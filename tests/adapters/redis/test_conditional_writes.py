"""RedisStore's conditional writes (``get_versioned``, ``set_if``, ``create``): what they do.

On a real Redis in all three ways a store talks to it: the shared server through the
automatic pipeline, the same without it, and a real 3-primary Cluster. The stored bytes are
checked with a raw redis-py client: a conditional write stores exactly what ``set`` does.
Races, outages and round-trip counts are in ``test_conditional_races.py``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from redis.asyncio import Redis, RedisCluster

from connectstore import NO_VERSION, SerializationError, SessionDecodeError, now_ms, supports
from connectstore.cookie import format_expires
from connectstore_conformance import make_session
from connectstore_redis import RedisStore
from tests.adapters.redis.conftest import unique_prefix

CALM = 30.0
"""Seconds a call may take here: a loaded 2-core machine is slow, not down."""
DEPLOYMENTS = ("pipelined", "plain", "cluster")


def deployment_url(request: pytest.FixtureRequest, kind: str) -> str:
    """The URL of the Redis a ``kind`` store uses (the cluster is started on first use)."""
    if kind == "cluster":
        return str(request.getfixturevalue("cluster_url"))
    return str(request.getfixturevalue("shared_redis"))


@pytest_asyncio.fixture(params=DEPLOYMENTS)
async def store(request: pytest.FixtureRequest) -> AsyncIterator[RedisStore]:
    """A store on the shared Redis (pipelined or not) or on the test Cluster, fresh prefix."""
    kind: str = request.param
    url = deployment_url(request, kind)
    async with RedisStore.from_url(
        url, prefix=unique_prefix(kind), auto_pipeline=kind != "plain", timeout=CALM
    ) as store:
        yield store
        await store.clear()


def raw_client(store: RedisStore) -> Redis | RedisCluster:
    """The store's own redis-py client, used directly: writes behind the store's back."""
    return store.client


async def stored(store: RedisStore, sid: str) -> bytes | None:
    value = await raw_client(store).get(store.prefix + sid)
    assert value is None or isinstance(value, bytes)
    return value


async def test_capabilities_are_declared(store: RedisStore) -> None:
    assert all(supports(store, name) for name in ("get_versioned", "set_if", "create"))


async def test_create_then_set_if_follow_versions(store: RedisStore) -> None:
    assert await store.get_versioned("s") is None
    first = make_session(v=1)
    version = await store.create("s", first)
    assert version
    assert await store.create("s", make_session(v=99)) is None, "a live session is there"
    read = await store.get_versioned("s")
    assert read is not None
    assert read.session == first
    assert read.version == version, "create returns what get_versioned reports next"
    second = make_session(v=2)
    new_version = await store.set_if("s", second, read.version)
    assert new_version
    assert new_version != version
    assert await store.set_if("s", make_session(v=3), read.version) is None, "a stale version"
    assert await store.get("s") == second
    again = await store.get_versioned("s")
    assert again is not None
    assert again.version == new_version, "set_if returns what get_versioned reports next"


async def test_conditional_writes_store_what_set_stores(store: RedisStore) -> None:
    """Same bytes, same TTL as ``set``: a Node reader cannot tell them apart."""
    session = make_session(60, user={"id": 7, "name": "Zoë"}, cart=[1, 2.5])
    await store.set("by-set", session)
    assert await store.create("by-create", session)
    read = await store.get_versioned("by-create")
    assert read is not None
    assert await store.set_if("by-create", session, read.version) == read.version, "same bytes, same version"
    expected = await stored(store, "by-set")
    assert expected is not None
    assert await stored(store, "by-create") == expected
    ttl = await raw_client(store).ttl(store.prefix + "by-create")
    assert 55 <= ttl <= 60


async def test_a_destroyed_session_is_never_brought_back(store: RedisStore) -> None:
    await store.set("s", make_session(v=1))
    read = await store.get_versioned("s")
    assert read is not None
    await store.destroy("s")
    assert await store.set_if("s", make_session(v=2), read.version) is None
    assert await stored(store, "s") is None


@pytest.mark.parametrize("version", [NO_VERSION, "nonsense", "0" * 40, "0" * 40 + ":x", "a" * 40 + ": 1"])
async def test_a_version_no_record_has_never_matches(store: RedisStore, version: str) -> None:
    await store.set("s", make_session(v=1))
    assert await store.set_if("s", make_session(v=2), version) is None
    assert (await store.get("s") or {}).get("v") == 1


async def test_an_expiry_already_past_deletes_the_matching_record_only(store: RedisStore) -> None:
    await store.set("s", make_session(v=1))
    read = await store.get_versioned("s")
    assert read is not None
    await store.set("s", make_session(v=2))  # someone else's write: the version is stale
    assert await store.set_if("s", make_session(-10, v=3), read.version) is None
    assert (await store.get("s") or {}).get("v") == 2, "a conflict deletes nothing"
    fresh = await store.get_versioned("s")
    assert fresh is not None
    assert await store.set_if("s", make_session(-10, v=3), fresh.version) == NO_VERSION
    assert await stored(store, "s") is None
    assert await store.create("gone", make_session(-10)) == NO_VERSION, "created dead: nothing stored"
    assert await stored(store, "gone") is None


async def test_bad_arguments_raise_before_anything_is_written(store: RedisStore) -> None:
    await store.set("s", make_session(v=1))
    read = await store.get_versioned("s")
    assert read is not None
    with pytest.raises(SerializationError):
        await store.set_if("s", make_session(v=float("nan")), read.version)
    with pytest.raises(SerializationError):
        await store.create("new", make_session(v=float("nan")))
    for call in (
        lambda: store.get_versioned(1),  # type: ignore[arg-type]
        lambda: store.set_if(1, make_session(), read.version),  # type: ignore[arg-type]
        lambda: store.create(b"s", make_session()),  # type: ignore[arg-type]
        lambda: store.set_if("s", make_session(), None),  # type: ignore[arg-type]
    ):
        with pytest.raises(TypeError):
            await call()
    assert await store.get_versioned("s") == read
    assert await stored(store, "new") is None


async def test_any_write_that_changes_the_bytes_changes_the_version(store: RedisStore) -> None:
    raw = raw_client(store)
    key = store.prefix + "s"
    await store.set("s", make_session(v=1))
    read = await store.get_versioned("s")
    assert read is not None
    # another client rewrites the same session with one key more
    data = json.loads(await stored(store, "s") or b"")
    data["other"] = True
    await raw.set(key, json.dumps(data, separators=(",", ":")), keepttl=True)
    changed = await store.get_versioned("s")
    assert changed is not None
    assert changed.version != read.version
    assert await store.set_if("s", make_session(v=2), read.version) is None
    assert (await store.get("s") or {}).get("other") is True, "the other writer's change stands"
    # touch writes a new cookie: a new version
    await store.touch("s", make_session(7200))
    touched = await store.get_versioned("s")
    assert touched is not None
    assert touched.version != changed.version
    assert await store.set_if("s", make_session(v=3), changed.version) is None
    # EXPIRE (connect-redis's touch) leaves the bytes, so the version stays
    await raw.expire(key, 9000)
    assert (await store.get_versioned("s")) == touched
    assert await store.set_if("s", make_session(v=4), touched.version)


async def test_a_corrupt_record_is_present(store: RedisStore) -> None:
    raw = raw_client(store)
    await raw.set(store.prefix + "bad", b"\xff{not json", ex=60)
    await raw.set(store.prefix + "no-cookie-date", json.dumps({"cookie": {"expires": "soon"}}), ex=60)
    for sid in ("bad", "no-cookie-date"):
        with pytest.raises(SessionDecodeError):
            await store.get_versioned(sid)
        assert await store.create(sid, make_session(v=1)) is None
    assert await stored(store, "bad") == b"\xff{not json"


async def test_a_key_of_another_type_reads_as_missing(store: RedisStore) -> None:
    raw = raw_client(store)
    await raw.rpush(store.prefix + "list", b"x")
    assert await store.get_versioned("list") is None
    assert await store.set_if("list", make_session(), "0" * 40) is None
    assert await store.create("list", make_session(v=1)), "as set does, a session replaces it"
    assert (await store.get("list") or {}).get("v") == 1


def raw_session(expires_ms: int | None, **data: Any) -> bytes:
    """A session as a Node app stores it, with its cookie expiring at ``expires_ms``."""
    expires = None if expires_ms is None else format_expires(expires_ms)
    return json.dumps({"cookie": {"originalMaxAge": 1000, "expires": expires}, **data}).encode()


async def test_a_cookie_expired_record_is_absent_for_create_and_a_conflict_for_set_if(
    store: RedisStore,
) -> None:
    """The key lives on (EX 60, a ttl function, disable_ttl...) but the cookie has passed."""
    raw = raw_client(store)
    await raw.set(store.prefix + "old", raw_session(now_ms() - 5000, v=1), ex=60)
    assert await store.get_versioned("old") is None
    assert await store.create("old", make_session(v=2)), "an expired record counts as absent"
    assert (await store.get("old") or {}).get("v") == 2
    # a version read while live, whose cookie expires before the write
    expires = now_ms() + 1500
    await raw.set(store.prefix + "soon", raw_session(expires, v=1), ex=60)
    read = await store.get_versioned("soon")
    assert read is not None
    await asyncio.sleep(max(0.0, (expires - now_ms()) / 1000) + 0.2)
    assert now_ms() > expires
    assert await store.set_if("soon", make_session(v=2), read.version) is None, "expired since read"
    assert await stored(store, "soon") == raw_session(expires, v=1), "nothing written"
    assert await store.create("soon", make_session(v=3))


@pytest.mark.parametrize(
    ("live", "dead"),
    [
        ("Thu, 01 Jan 2037 00:00:00 GMT", "Thu, 01 Jan 2015 00:00:00 GMT"),
        ("2037-01-01T00:00:00Z", "2015-01-01T00:00:00Z"),
        (2114380800000, 1420070400000),
        (None, None),
    ],
    ids=["rfc1123", "iso-seconds", "epoch-ms", "null"],
)
async def test_create_judges_every_cookie_form_node_may_leave(
    store: RedisStore, live: object, dead: object
) -> None:
    """A live session in any form ``parse_expires`` reads blocks create; the same form in the
    past does not (the script hands the unusual forms to Python to judge).
    """
    raw = raw_client(store)
    await raw.set(store.prefix + "live", json.dumps({"cookie": {"expires": live}, "v": 1}), ex=60)
    assert await store.create("live", make_session(v=2)) is None
    assert (await store.get("live") or {}).get("v") == 1
    if dead is not None:
        await raw.set(store.prefix + "dead", json.dumps({"cookie": {"expires": dead}, "v": 1}), ex=60)
        assert await store.create("dead", make_session(v=2))
        assert (await store.get("dead") or {}).get("v") == 2


async def test_trust_key_ttl_keeps_an_extended_key_alive_for_every_operation(
    store: RedisStore, request: pytest.FixtureRequest
) -> None:
    """connect-redis's touch (EXPIRE) left the cookie in the past and the key alive."""
    raw = raw_client(store)
    await raw.set(store.prefix + "ext", raw_session(now_ms() - 5000, v=1), ex=600)
    kind = "cluster" if isinstance(store.client, RedisCluster) else "pipelined"
    url = deployment_url(request, kind)
    async with RedisStore.from_url(url, prefix=store.prefix, trust_key_ttl=True, timeout=CALM) as trusting:
        assert await trusting.create("ext", make_session(v=2)) is None, "alive: trusted"
        read = await trusting.get_versioned("ext")
        assert read is not None
        assert read.session["v"] == 1
        assert await store.get_versioned("ext") is None, "not trusted: expired"
        new = await trusting.set_if("ext", make_session(v=3), read.version)
        assert new
        after = await trusting.get_versioned("ext")
        assert after is not None
        assert (after.session["v"], after.version) == (3, new)
        await raw.set(store.prefix + "ext2", raw_session(now_ms() - 5000, v=1), ex=600)
        read2 = await trusting.get_versioned("ext2")
        assert read2 is not None
        await raw.persist(store.prefix + "ext2")  # no TTL: only the (past) cookie counts
        assert await trusting.set_if("ext2", make_session(v=2), read2.version) is None
        assert await trusting.create("ext2", make_session(v=3)), "dead once its key is not extended"


async def test_disable_ttl_and_ttl_functions_apply(request: pytest.FixtureRequest) -> None:
    url = str(request.getfixturevalue("shared_redis"))
    prefix = unique_prefix("ttl")
    async with RedisStore.from_url(url, prefix=prefix, disable_ttl=True, timeout=CALM) as keep:
        assert await keep.create("a", make_session(60, v=1))
        assert await keep.client.pttl(prefix + "a") == -1
        read = await keep.get_versioned("a")
        assert read is not None
        assert await keep.set_if("a", make_session(60, v=2), read.version)
        assert await keep.client.pttl(prefix + "a") == -1
        current = await keep.get_versioned("a")
        assert current is not None
        assert await keep.set_if("a", make_session(-1), current.version) == NO_VERSION
        assert await keep.client.exists(prefix + "a") == 0
    async with RedisStore.from_url(url, prefix=prefix, ttl=lambda session: 300, timeout=CALM) as fixed:
        assert await fixed.create("b", make_session(60, v=1))
        assert 295 <= await fixed.client.ttl(prefix + "b") <= 300
        read = await fixed.get_versioned("b")
        assert read is not None
        assert await fixed.set_if("b", make_session(60, v=2), read.version)
        assert 295 <= await fixed.client.ttl(prefix + "b") <= 300
        await fixed.clear()


async def test_a_client_that_decodes_responses_gets_the_same_versions(shared_redis: str) -> None:
    prefix = unique_prefix("decoded")
    client = Redis.from_url(shared_redis, decode_responses=True)
    try:
        async with (
            RedisStore(client, prefix=prefix, timeout=CALM) as decoding,
            RedisStore.from_url(shared_redis, prefix=prefix, timeout=CALM) as plain,
        ):
            version = await decoding.create("sid-✓", make_session(name="ünïcødé ✓"))
            assert version
            assert await plain.get_versioned("sid-✓") == await decoding.get_versioned("sid-✓")
            assert (await plain.get_versioned("sid-✓") or (None, None))[1] == version
            assert await decoding.set_if("sid-✓", make_session(v=2), version)
            await client.set(
                prefix + "odd", json.dumps({"cookie": {"expires": "Thu, 01 Jan 2015 00:00:00 GMT"}})
            )
            assert await decoding.create("odd", make_session(v=3)), "judged in Python from a str reply"
            await plain.clear()
    finally:
        await client.aclose()
