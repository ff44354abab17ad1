"""Small helpers shared by the SurrealDB store tests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from surrealdb import RecordID

from connectstore import JSONSerializer, now_ms
from connectstore.cookie import format_expires
from connectstore_surrealdb import SurrealDBStore

HOUR_MS = 3_600_000


async def raw_query(store: SurrealDBStore, sql: str, params: dict[str, Any] | None = None) -> Any:
    """Run a statement on the store's own SDK connection, bypassing the store."""
    await store.open()
    client = store.client
    assert client is not None
    return await client.query(sql, params or {})


async def raw_ids(store: SurrealDBStore) -> set[str]:
    """Every record id in the store's table, live, expired or foreign."""
    ids = await raw_query(store, "SELECT VALUE record::id(id) FROM type::table($t)", {"t": store.table})
    return {str(sid) for sid in ids}


def rid(store: SurrealDBStore, sid: str) -> RecordID:
    """The record id of ``sid`` in the store's table."""
    return RecordID(store.table, sid)


async def eventually(check: Callable[[], Awaitable[bool]], within: float = 60.0) -> None:
    """Wait until ``check()`` is true; fail after ``within`` seconds (generous: a hang, not slowness)."""
    deadline = time.monotonic() + within
    while not await check():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)


async def holds(check: Callable[[], bool]) -> bool:
    """``check()`` as an awaitable, for :func:`eventually`."""
    return check()


async def write_behind(
    store: SurrealDBStore,
    sid: str,
    *,
    expires: int | None,
    cookie_expires: int | None,
    **data: Any,
) -> None:
    """Write a session record in the store's shape through the SDK, behind the store's back.

    ``expires`` is the record's own field (epoch ms; None leaves it out), ``cookie_expires``
    the session's ``cookie.expires`` (None: a cookie without expiry). They may disagree, as
    in a record written by hand or by another program.
    """
    dumps = JSONSerializer().dumps
    cookie = {
        "originalMaxAge": HOUR_MS,
        "expires": None if cookie_expires is None else format_expires(cookie_expires),
        "httpOnly": True,
        "path": "/",
    }
    content = "cookie: $cookie, sess: $sess" + (
        "" if expires is None else ", expires: time::from::millis($e)"
    )
    await raw_query(
        store,
        f"UPSERT $r CONTENT {{{content}}} RETURN NONE",
        {"r": rid(store, sid), "cookie": dumps({"cookie": cookie}), "sess": dumps(data), "e": expires},
    )


async def write_expired(store: SurrealDBStore, sid: str, **data: Any) -> None:
    """An expired session (record and cookie agree: an hour ago), written behind the store's back."""
    past = now_ms() - HOUR_MS
    await write_behind(store, sid, expires=past, cookie_expires=past, **data)


async def listed(store: SurrealDBStore) -> dict[str, object]:
    """What every listing says, side by side: the sorted sids of all/ids/items, and length."""
    return {
        "all": sorted(await store.all()),
        "ids": sorted([sid async for sid in store.ids()]),
        "items": sorted([sid async for sid, _ in store.items()]),
        "length": await store.length(),
    }


def everywhere(*sids: str) -> dict[str, object]:
    """What :func:`listed` says of a store whose live sessions are exactly ``sids``."""
    return {"all": sorted(sids), "ids": sorted(sids), "items": sorted(sids), "length": len(sids)}
