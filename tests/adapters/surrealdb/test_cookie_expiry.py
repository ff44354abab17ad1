"""A session whose own cookie.expires is past is expired, whatever the record's expires says.

Records are written through the SDK behind the store's back, as a hand-written record or
another program (connect-surreal, a migration) may leave them: the record's ``expires``
field missing, or saying "alive for a day" while the cookie says the session is over.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from connectstore import SessionDecodeError, now_ms
from connectstore.cookie import format_expires
from connectstore_conformance import make_session
from connectstore_surrealdb import SurrealDBStore
from tests.adapters.surrealdb.helpers import HOUR_MS, everywhere, listed, raw_query, rid, write_behind

DAY_MS = 24 * HOUR_MS


@pytest_asyncio.fixture
async def store() -> AsyncIterator[SurrealDBStore]:
    async with SurrealDBStore("mem://", batch_size=2) as store:
        yield store


async def test_a_past_cookie_expiry_wins_over_a_future_record_expiry(store: SurrealDBStore) -> None:
    now = now_ms()
    await write_behind(store, "stale", expires=now + DAY_MS, cookie_expires=now - HOUR_MS, n=1)
    await write_behind(store, "fresh", expires=now + DAY_MS, cookie_expires=now + HOUR_MS, n=2)
    await store.set("mine", make_session(3600, n=3))
    assert await store.get("stale") is None
    assert (await store.get("fresh") or {}).get("n") == 2
    assert await listed(store) == everywhere("fresh", "mine")


async def test_a_past_cookie_expiry_without_a_record_expiry(store: SurrealDBStore) -> None:
    now = now_ms()
    await write_behind(store, "stale", expires=None, cookie_expires=now - HOUR_MS, n=1)
    assert await store.get("stale") is None
    assert await listed(store) == everywhere()


async def test_touch_never_revives_a_session_its_cookie_calls_expired(store: SurrealDBStore) -> None:
    now = now_ms()
    await write_behind(store, "stale", expires=now + DAY_MS, cookie_expires=now - HOUR_MS, n=1)
    await store.touch("stale", make_session(3600, n=1))
    assert await store.get("stale") is None
    assert await listed(store) == everywhere()


@pytest.mark.parametrize(
    "expires",
    [
        pytest.param(lambda past: past, id="epoch-ms"),
        pytest.param(lambda past: "Thu, 01 Jan 1970 00:00:01 GMT", id="rfc1123"),
        pytest.param(lambda past: format_expires(past).replace("Z", "+00:00"), id="offset"),
    ],
)
async def test_every_form_of_a_past_cookie_expiry(store: SurrealDBStore, expires: object) -> None:
    past = now_ms() - HOUR_MS
    cookie = store.serializer.dumps({"cookie": {"expires": expires(past), "path": "/"}})  # type: ignore[operator]
    await raw_query(
        store,
        "UPSERT $r CONTENT {cookie: $cookie, sess: '{\"n\":1}', expires: time::now() + 1d} RETURN NONE",
        {"r": rid(store, "stale"), "cookie": cookie},
    )
    assert await store.get("stale") is None
    assert await listed(store) == everywhere()


async def test_an_unreadable_cookie_expiry_is_corrupt_get_reports_it_listings_skip_it(
    store: SurrealDBStore, caplog: pytest.LogCaptureFixture
) -> None:
    cookie = store.serializer.dumps({"cookie": {"expires": "not a date", "path": "/"}})
    await raw_query(
        store,
        "UPSERT $r CONTENT {cookie: $cookie, sess: '{}', expires: time::now() + 1d} RETURN NONE",
        {"r": rid(store, "odd"), "cookie": cookie},
    )
    await store.set("mine", make_session(3600, n=3))
    with pytest.raises(SessionDecodeError) as info:
        await store.get("odd")
    assert info.value.sid == "odd"
    with caplog.at_level(logging.WARNING, logger="connectstore"):
        assert await listed(store) == everywhere("mine")
    warned = [r.getMessage() for r in caplog.records if r.name == "connectstore"]
    assert len(warned) == 4  # once per listing that met it
    assert all("'odd'" in message and "not a date" not in message for message in warned)
