"""What SurrealDBStore adds to the contract: its record shape, touch, foreign records, options."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime

import pytest
import pytest_asyncio

from connectstore import SerializationError, SessionDecodeError, now_ms
from connectstore.cookie import parse_expires
from connectstore_conformance import make_session
from connectstore_surrealdb import SurrealDBStore
from tests.adapters.surrealdb.helpers import raw_query, rid, write_expired


@pytest_asyncio.fixture
async def store() -> AsyncIterator[SurrealDBStore]:
    async with SurrealDBStore("mem://", batch_size=3) as store:
        yield store


async def record(store: SurrealDBStore, sid: str) -> dict[str, object]:
    row = await raw_query(store, "SELECT * FROM ONLY $r", {"r": rid(store, sid)})
    assert isinstance(row, dict)
    return row


def ms(when: object) -> int:
    assert isinstance(when, datetime)
    return round(when.timestamp() * 1000)


async def test_record_holds_json_text_and_a_real_expires(store: SurrealDBStore) -> None:
    session = make_session(3600, views=1, expires="app's own", id="app's id")
    await store.set("s", session)
    row = await record(store, "s")
    assert ms(row["expires"]) == parse_expires(session["cookie"]["expires"])
    assert row["cookie"] == '{"cookie":' + store.serializer.dumps(session["cookie"]) + "}"
    assert row["sess"] == '{"views":1,"expires":"app\'s own","id":"app\'s id"}'
    assert await store.get("s") == session


async def test_no_cookie_expiry_lives_for_the_default_ttl() -> None:
    async with SurrealDBStore("mem://", ttl=120) as store:
        before = now_ms()
        await store.set("s", make_session(None, n=1))
        after = now_ms()
        # The store's clock read falls between ours, however slow the machine is.
        assert before + 120_000 <= ms((await record(store, "s"))["expires"]) <= after + 120_000


async def test_far_future_expiry_is_kept(store: SurrealDBStore) -> None:
    session = make_session(3600)
    session["cookie"]["expires"] = 8_640_000_000_000_000  # JavaScript's last date, in epoch ms
    await store.set("s", session)
    assert await store.get("s") == session


async def test_touch_moves_expires_and_cookie_but_never_data(store: SurrealDBStore) -> None:
    await store.set("s", make_session(60, views=1))
    newer = make_session(7200, views=999)
    await store.touch("s", newer)
    row = await record(store, "s")
    assert ms(row["expires"]) == parse_expires(newer["cookie"]["expires"])
    assert await store.get("s") == {"cookie": newer["cookie"], "views": 1}


async def test_touch_never_creates(store: SurrealDBStore) -> None:
    await store.touch("missing", make_session(60))
    assert await raw_query(store, "SELECT * FROM $r", {"r": rid(store, "missing")}) == []


async def test_foreign_records_are_invisible(store: SurrealDBStore) -> None:
    # connect-surreal's shape: the session as the record, no top-level expires.
    await raw_query(store, "UPSERT $r CONTENT {cookie: {path: '/'}, views: 1}", {"r": rid(store, "node")})
    await raw_query(store, "UPSERT $r CONTENT {expires: time::now() + 1h}", {"r": rid(store, "odd")})
    await raw_query(
        store,
        "CREATE type::thing($t, 7) CONTENT {sess: '{}', cookie: '{}', expires: time::now() + 1h}",
        {"t": store.table},
    )
    await store.set("mine", make_session(3600))
    assert await store.get("node") is None
    assert await store.get("odd") is None
    assert list(await store.all()) == ["mine"]
    assert await store.length() == 1


async def test_corrupt_record_names_its_sid_and_spares_the_others(store: SurrealDBStore) -> None:
    await store.set("good", make_session(3600, n=1))
    await store.set("bad", make_session(3600))
    await raw_query(store, "UPDATE $r SET sess = '{not json'", {"r": rid(store, "bad")})
    with pytest.raises(SessionDecodeError) as info:
        await store.get("bad")
    assert info.value.sid == "bad"
    assert (await store.get("good") or {}).get("n") == 1


async def test_listings_page_through_many_sessions(store: SurrealDBStore) -> None:
    sids = {f"sid-{i:02d}" for i in range(20)}
    for sid in sids:
        await store.set(sid, make_session(3600, sid=sid))
    await write_expired(store, "dead")
    assert {sid async for sid in store.ids()} == sids
    assert {sid: s["sid"] async for sid, s in store.items()} == {sid: sid for sid in sids}
    assert await store.length() == 20


async def test_unstorable_session_writes_nothing(store: SurrealDBStore) -> None:
    await store.set("s", make_session(3600, n=1))
    with pytest.raises(SerializationError):
        await store.set("s", make_session(3600, n=float("nan")))
    with pytest.raises(SerializationError):
        await store.touch("s", {"cookie": {"expires": True}})
    assert (await store.get("s") or {}).get("n") == 1


@pytest.mark.parametrize("table", ["", "user session", "a;DELETE b", "t:x", "9lives", "⟨t⟩", "x" * 200])
def test_table_must_be_an_identifier(table: str) -> None:
    with pytest.raises(ValueError, match="table"):
        SurrealDBStore("mem://", table=table)


@pytest.mark.parametrize("url", ["redis://x", "mem:/", "ftp://host", "surrealkv"])
def test_url_scheme_is_checked(url: str) -> None:
    with pytest.raises(ValueError, match="SurrealDB URL"):
        SurrealDBStore(url)
