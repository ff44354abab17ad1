"""SurrealDBStore's conditional writes: get_versioned, set_if and create, on the real engine.

The version is a hash SurrealDB computes of the whole stored record, so what changes it is
checked here with writes the store did not make: raw statements through the SDK (another
program's, a Node app's), a touch, the sweep, a record whose JSON differs only in key
order or number form. (Concurrency: ``test_conditional_races.py``.)
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from connectstore import NO_VERSION, SerializationError, SessionDecodeError, Versioned, now_ms, supports
from connectstore_conformance import make_session
from connectstore_surrealdb import RootAuth, SurrealDBStore
from tests.adapters.surrealdb.helpers import (
    HOUR_MS,
    eventually,
    holds,
    raw_query,
    rid,
    write_behind,
    write_expired,
)
from tests.adapters.surrealdb.server import ROOT_PASSWORD, ROOT_USER, LoopbackSurreal


@pytest_asyncio.fixture
async def store() -> AsyncIterator[SurrealDBStore]:
    async with SurrealDBStore("mem://") as store:
        yield store


#: Milliseconds a session written to expire "soon" lives: long enough to be read back on a
#: slow machine.
EXPIRING_MS = 2500


async def past(deadline_ms: int) -> None:
    """Wait until the application's clock is past ``deadline_ms``."""
    await eventually(lambda: holds(lambda: now_ms() > deadline_ms))


async def version_of(store: SurrealDBStore, sid: str) -> str:
    versioned = await store.get_versioned(sid)
    assert versioned is not None, f"{sid} is not live"
    return versioned.version


async def raw_set(store: SurrealDBStore, sid: str, assignments: str, **params: Any) -> None:
    """``UPDATE`` the record of ``sid`` through the SDK, behind the store's back."""
    await raw_query(store, f"UPDATE $r SET {assignments} RETURN NONE", {"r": rid(store, sid), **params})


def test_the_store_declares_the_conditional_writes() -> None:
    store = SurrealDBStore("mem://")
    for capability in ("get_versioned", "set_if", "create"):
        assert supports(store, capability)


async def test_get_versioned_is_get_with_the_version_every_write_returns(store: SurrealDBStore) -> None:
    session = make_session(3600, user="alice", cart=[1, 2], nothing=None)
    created = await store.create("s", session)
    assert created
    assert await store.get_versioned("s") == Versioned(session, created)
    assert await store.get("s") == session
    changed = await store.set_if("s", {**session, "user": "bob"}, created)
    assert changed
    assert changed != created
    assert await store.get_versioned("s") == Versioned({**session, "user": "bob"}, changed)
    assert await version_of(store, "s") == changed  # unchanged record, unchanged version


async def test_get_versioned_of_missing_expired_or_foreign_records_is_none(store: SurrealDBStore) -> None:
    await write_expired(store, "expired", n=1)
    past = now_ms() - HOUR_MS
    await write_behind(store, "cookie-past", expires=now_ms() + HOUR_MS, cookie_expires=past, n=2)
    await raw_query(
        store, "UPSERT $r CONTENT {cookie: {originalMaxAge: 1}, views: 1}", {"r": rid(store, "foreign")}
    )
    for sid in ("missing", "expired", "cookie-past", "foreign"):
        assert await store.get_versioned(sid) is None, sid


async def test_get_versioned_of_a_corrupt_record_raises_like_get(store: SurrealDBStore) -> None:
    await store.set("s", make_session(3600, n=1))
    await raw_set(store, "s", "sess = $garbage", garbage="{not json")
    with pytest.raises(SessionDecodeError) as raised:
        await store.get_versioned("s")
    assert raised.value.sid == "s"
    with pytest.raises(TypeError, match="a session id is a str, not int"):
        await store.get_versioned(1)  # type: ignore[arg-type]


async def test_set_if_writes_only_over_the_version_it_was_given(store: SurrealDBStore) -> None:
    await store.set("s", make_session(3600, n=0))
    first = await version_of(store, "s")
    second = await store.set_if("s", make_session(3600, n=1), first)
    assert second
    assert second != first
    assert await store.set_if("s", make_session(3600, n=2), first) is None  # stale: nothing written
    assert (await store.get("s") or {})["n"] == 1
    assert await version_of(store, "s") == second


async def test_a_raw_write_through_the_sdk_changes_the_version(store: SurrealDBStore) -> None:
    """Another program rewrites the session (same keys, other values), the cookie, or only
    ``expires``: each is a new version, and a set_if with the old one writes nothing.
    """
    session = make_session(3600, n=1)
    for assignments, params in (
        ("sess = $sess", {"sess": '{"n":2}'}),
        ("cookie = $cookie", {"cookie": store.serializer.dumps({"cookie": make_session(7200)["cookie"]})}),
        ("expires = expires + 1ms", {}),
        ("note = 'a field of its own'", {}),
    ):
        await store.set("s", session)
        before = await version_of(store, "s")
        await raw_set(store, "s", assignments, **params)
        assert await version_of(store, "s") != before, assignments
        assert await store.set_if("s", make_session(3600, n=3), before) is None, assignments
        assert (await store.get("s") or {}).get("n") != 3


async def test_the_same_json_in_another_form_is_another_version(store: SurrealDBStore) -> None:
    """A Node app may write the session with its keys in another order, or ``1.0`` for ``1``:
    the same session to ``get``, other bytes, so another version (never a false match, and
    never a comparison of two hashes made by different hands: SurrealDB makes both).
    """
    await store.set("s", make_session(3600, a=1, b=2))
    for text in ('{"b":2,"a":1}', '{"a":1.0,"b":2}', '{"a":1, "b":2}'):
        before = await version_of(store, "s")
        await raw_set(store, "s", "sess = $sess", sess=text)
        after = await store.get_versioned("s")
        assert after is not None
        assert (after.session["a"], after.session["b"]) == (1, 2)
        assert after.version != before, text
        assert await store.set_if("s", make_session(3600, a=9, b=9), before) is None
    assert await store.set_if("s", make_session(3600, a=9, b=9), await version_of(store, "s"))


async def test_rewriting_identical_bytes_keeps_the_version(store: SurrealDBStore) -> None:
    """The version is a function of the record: the very same record written again is the same."""
    await store.set("s", make_session(3600, n=1))
    before = await version_of(store, "s")
    row = await raw_query(store, "SELECT * OMIT id FROM ONLY $r", {"r": rid(store, "s")})
    await raw_query(store, "UPSERT $r CONTENT $row RETURN NONE", {"r": rid(store, "s"), "row": row})
    assert await version_of(store, "s") == before


async def test_touch_changes_the_version_and_keeps_the_data(store: SurrealDBStore) -> None:
    await store.set("s", make_session(3600, n=1))
    before = await version_of(store, "s")
    await store.touch("s", make_session(7200))
    touched = await store.get_versioned("s")
    assert touched is not None
    assert touched.version != before
    assert touched.session["n"] == 1
    assert await store.set_if("s", make_session(3600, n=2), before) is None
    assert await store.set_if("s", make_session(3600, n=2), touched.version)


async def test_set_if_never_brings_back_a_destroyed_session(store: SurrealDBStore) -> None:
    await store.set("s", make_session(3600, n=1))
    version = await version_of(store, "s")
    await store.destroy("s")
    assert await store.set_if("s", make_session(3600, n=2), version) is None
    assert await raw_query(store, "SELECT * FROM ONLY $r", {"r": rid(store, "s")}) is None


async def test_set_if_over_a_session_that_expired_since_it_was_read_writes_nothing(
    store: SurrealDBStore,
) -> None:
    """Expired by time alone (no write in between: the version still matches the bytes)."""
    soon = now_ms() + EXPIRING_MS
    await store.set("s", make_session(EXPIRING_MS / 1000, n=1))
    version = await version_of(store, "s")
    await past(soon)
    assert await store.set_if("s", make_session(3600, n=2), version) is None
    assert await store.get("s") is None
    assert await store.create("s", make_session(3600, n=3))  # and it counts as absent


async def test_set_if_over_a_record_whose_cookie_expired_since_writes_nothing(store: SurrealDBStore) -> None:
    """A record written by another program whose ``expires`` is an hour ahead: its own cookie's
    expiry, passed since the version was read, makes it expired all the same.
    """
    soon = now_ms() + EXPIRING_MS
    await write_behind(store, "s", expires=now_ms() + HOUR_MS, cookie_expires=soon, n=1)
    version = await version_of(store, "s")
    await past(soon)
    assert await store.set_if("s", make_session(3600, n=2), version) is None
    assert await store.get("s") is None


async def test_set_if_with_a_past_expiry_deletes_only_the_matching_record(store: SurrealDBStore) -> None:
    past = make_session(-60, n=2)
    await store.set("s", make_session(3600, n=1))
    stale = await version_of(store, "s")
    current = await store.set_if("s", make_session(3600, n=1.5), stale)
    assert current
    assert await store.set_if("s", past, stale) is None  # not the version: the record stays
    assert (await store.get("s") or {})["n"] == 1.5
    assert await store.set_if("s", past, current) == NO_VERSION
    assert await raw_query(store, "SELECT * FROM ONLY $r", {"r": rid(store, "s")}) is None


async def test_set_if_refuses_bad_input_before_writing(store: SurrealDBStore) -> None:
    await store.set("s", make_session(3600, n=1))
    version = await version_of(store, "s")
    with pytest.raises(SerializationError):
        await store.set_if("s", make_session(3600, n=float("nan")), version)
    with pytest.raises(SerializationError):
        await store.set_if("s", ["not", "a", "mapping"], version)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="a session id is a str, not bytes"):
        await store.set_if(b"s", make_session(3600), version)  # type: ignore[arg-type]
    with pytest.raises(SerializationError):
        await store.create("new", make_session(3600, n=float("inf")))
    with pytest.raises(TypeError, match="a session id is a str, not int"):
        await store.create(7, make_session(3600))  # type: ignore[arg-type]
    assert await version_of(store, "s") == version
    assert await store.get("new") is None


async def test_create_writes_only_where_no_live_session_is(store: SurrealDBStore) -> None:
    session = make_session(3600, n=1)
    created = await store.create("s", session)
    assert created
    assert await version_of(store, "s") == created
    assert await store.create("s", make_session(3600, n=2)) is None
    assert await store.get_versioned("s") == Versioned(session, created)


async def test_create_replaces_expired_and_foreign_records(store: SurrealDBStore) -> None:
    """An expired record counts as absent (record ``expires`` past, or only its cookie past),
    and so does another writer's record without ``sess`` (get says None to it; set replaces it).
    """
    await write_expired(store, "expired", n=1)
    past = now_ms() - HOUR_MS
    await write_behind(store, "cookie-past", expires=now_ms() + HOUR_MS, cookie_expires=past, n=1)
    await raw_query(
        store, "UPSERT $r CONTENT {cookie: {originalMaxAge: 1}, views: 1}", {"r": rid(store, "foreign")}
    )
    for sid in ("expired", "cookie-past", "foreign"):
        session = make_session(3600, n=2)
        created = await store.create(sid, session)
        assert created, sid
        assert await store.get_versioned(sid) == Versioned(session, created)


async def test_create_over_a_corrupt_record_writes_nothing(store: SurrealDBStore) -> None:
    await store.set("s", make_session(3600, n=1))
    await raw_set(store, "s", "sess = $garbage", garbage="{not json")
    assert await store.create("s", make_session(3600, n=2)) is None
    row = await raw_query(store, "SELECT VALUE sess FROM ONLY $r", {"r": rid(store, "s")})
    assert row == "{not json"


async def test_create_of_an_expired_session(store: SurrealDBStore) -> None:
    """Nothing live there: NO_VERSION and nothing stored (an expired record there goes);
    a live session there: None, and it stays.
    """
    await write_expired(store, "old", n=1)
    assert await store.create("old", make_session(-60, n=2)) == NO_VERSION
    assert await store.create("absent", make_session(-60, n=2)) == NO_VERSION
    for sid in ("old", "absent"):
        assert await raw_query(store, "SELECT * FROM ONLY $r", {"r": rid(store, sid)}) is None
    await store.set("live", make_session(3600, n=1))
    assert await store.create("live", make_session(-60, n=2)) is None
    assert (await store.get("live") or {})["n"] == 1


async def test_the_sweep_and_the_versions(store: SurrealDBStore) -> None:
    """A sweep changes no live record's version; a swept session cannot be set_if'd back,
    and can be created again.
    """
    await store.set("live", make_session(3600, n=1))
    await store.set("dying", make_session(3600, n=1))
    live, dying = await version_of(store, "live"), await version_of(store, "dying")
    await raw_set(store, "dying", "expires = time::from::millis($p)", p=now_ms() - HOUR_MS)
    await write_expired(store, "expired", n=1)
    assert await store.sweep() == 2
    assert await version_of(store, "live") == live
    assert await store.set_if("dying", make_session(3600, n=2), dying) is None
    assert await store.get("dying") is None
    assert await store.create("dying", make_session(3600, n=3))


async def test_versions_are_the_records_not_the_store_objects(store: SurrealDBStore) -> None:
    """A second store on the same engine reads the same version, and set_if takes it."""
    await store.set("s", make_session(3600, n=1))
    other = SurrealDBStore(store.url, client=store.client)
    version = await version_of(other, "s")
    assert version == await version_of(store, "s")
    written = await store.set_if("s", make_session(3600, n=2), version)
    assert written == await version_of(other, "s")
    assert await other.set_if("s", make_session(3600, n=3), version) is None


async def test_a_version_outlives_reopening_a_surrealkv_directory(tmp_path: Path) -> None:
    url = f"surrealkv://{tmp_path / 'kv'}"
    async with SurrealDBStore(url) as store:
        created = await store.create("s", make_session(3600, n=1))
    async with SurrealDBStore(url) as store:
        assert created
        assert await version_of(store, "s") == created
        assert await store.set_if("s", make_session(3600, n=2), created)
        assert await store.create("s", make_session(3600, n=3)) is None


async def test_conditional_writes_over_websocket(surreal_server: LoopbackSurreal) -> None:
    """Through a server: the versions, a write by another client, create."""
    auth = RootAuth(ROOT_USER, ROOT_PASSWORD)
    async with SurrealDBStore(surreal_server.url, auth=auth, namespace="app", database="web") as store:
        created = await store.create("s", make_session(3600, n=1))
        assert created
        assert await store.create("s", make_session(3600, n=9)) is None
        written = await store.set_if("s", make_session(3600, n=2), created)
        assert written
        assert await version_of(store, "s") == written
        await surreal_server.rpc(
            "query", ["UPDATE $r SET sess = '{\"n\":3}' RETURN NONE", {"r": rid(store, "s")}]
        )
        assert await store.set_if("s", make_session(3600, n=4), written) is None
        assert (await store.get("s") or {})["n"] == 3


async def test_set_if_with_no_version_of_this_store_writes_nothing(store: SurrealDBStore) -> None:
    """NO_VERSION, a bare hash without the cookie's expiry, text that is no version: None."""
    await store.set("s", make_session(3600, n=1))
    version = await version_of(store, "s")
    digest = version.partition(":")[0]
    for wrong in (NO_VERSION, digest, "nonsense", f"{digest}:soon", f"{digest}x:"):
        assert await store.set_if("s", make_session(3600, n=2), wrong) is None, wrong
    assert await version_of(store, "s") == version
