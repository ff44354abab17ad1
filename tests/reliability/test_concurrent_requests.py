"""Concurrent requests of one session, end to end, on every store, in process (ASGI) and
through uvicorn, with the engine's default ``on_conflict`` (``"merge"`` on every bundled
store, which has the conditional writes):

* many requests at once, each setting its own key: every key is kept (no lost update), and
  the store saw conflicts (so the requests did race; on a MemoryStore they cannot: its calls
  never suspend, so no request runs between another's load and save);
* a logout while a slow request of the same session is in flight: once the slow one ends,
  the session is still gone and the old cookie is not logged in (a logout stays a logout);
* a regenerate (a login) while a slow request is in flight: the old id never comes back,
  neither in the store nor as a cookie.

The slow request waits on an :class:`~tests.reliability.conflict_app.Gate` the test opens
once the other request is done: the interleaving is exact, no sleep races it. One test
shows the same logout race under ``"overwrite"`` (express-session's last write wins)
bringing the session back, so the race is real and the merge is what prevents it.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from connectstore import MemoryStore, Store
from connectstore.integrations.asgi import SessionMiddleware
from connectstore_redis import RedisStore
from connectstore_sqlite import SQLiteStore
from connectstore_surrealdb import SurrealDBStore
from tests.reliability.conflict_app import (
    VIAS,
    Gate,
    Via,
    client_of,
    conflict_app,
    count_conditional_writes,
    get,
    log_in,
    make_engine,
    session_cookie,
)

REQUESTS = 1000
CONCURRENCY = 32
STORE_KINDS = ("memory", "redis", "sqlite", "surrealdb")


@pytest.fixture(params=STORE_KINDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    """A fresh store of each kind: Redis on 127.0.0.1:6379 under a prefix of its own (cleared
    afterwards), SQLite in a temporary file, SurrealDB's embedded in-memory engine.
    """
    if request.param == "memory":
        async with MemoryStore() as memory:
            yield memory
    elif request.param == "redis":
        url = request.getfixturevalue("shared_redis")
        async with RedisStore.from_url(url, prefix=f"cs-races-{uuid.uuid4().hex[:12]}:") as redis:
            try:
                yield redis
            finally:
                await redis.clear()
    elif request.param == "sqlite":
        async with SQLiteStore(tmp_path / "sessions.db") as sqlite:
            yield sqlite
    else:
        async with SurrealDBStore("mem://") as surreal:
            yield surreal


def merging_app(store: Store, gate: Gate) -> SessionMiddleware:
    """The test app on ``store`` with the engine's default policy, which must be ``"merge"``."""
    engine = make_engine(store)
    assert engine.on_conflict == "merge", (
        f"the default policy on {type(store).__name__} is {engine.on_conflict!r}: "
        "its conditional writes are missing (or inherited past a changed get/set)"
    )
    return conflict_app(engine, gate)


@pytest.mark.parametrize("via", VIAS)
async def test_concurrent_requests_each_setting_a_key_keep_every_key(store: Store, via: Via) -> None:
    counts = count_conditional_writes(store)
    async with client_of(merging_app(store, Gate()), via) as http:
        sid, cookie = await log_in(http)
        keys = iter(range(REQUESTS))
        statuses: list[int] = []

        async def worker() -> None:
            for n in keys:
                reply = await get(http, "/set", cookie, key=f"k{n}")
                statuses.append(reply.status_code)

        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    assert statuses == [200] * REQUESTS
    stored = await store.get(sid)
    assert stored is not None
    lost = [n for n in range(REQUESTS) if stored.get(f"k{n}") != f"k{n}"]
    assert lost == [], f"{len(lost)} of {REQUESTS} updates lost"
    assert stored["user"] == "alice"
    assert counts.calls == REQUESTS + counts.conflicts  # one write each, one more per conflict
    if not isinstance(store, MemoryStore):  # its calls never suspend: no request runs in between
        assert counts.conflicts > 0, "the requests never raced: nothing was tested"


async def slow_request_racing(
    http: httpx.AsyncClient, gate: Gate, cookie: str, path: str
) -> tuple[httpx.Response, httpx.Response]:
    """A ``/slow`` request of ``cookie`` held in its handler while ``path`` runs with the same
    cookie to the end; then the slow one is let go. Both responses.
    """
    slow = asyncio.create_task(get(http, "/slow", cookie))
    try:
        await asyncio.wait_for(gate.entered.wait(), timeout=60)
        other = await get(http, path, cookie)
    finally:
        gate.release.set()
    return await slow, other


@pytest.mark.parametrize("via", VIAS)
async def test_a_logout_during_a_slow_request_stays_a_logout(store: Store, via: Via) -> None:
    gate = Gate()
    async with client_of(merging_app(store, gate), via) as http:
        sid, cookie = await log_in(http)
        slow, logout = await slow_request_racing(http, gate, cookie, "/logout")
        assert logout.status_code == 200
        assert slow.status_code == 200
        assert sid not in "".join(slow.headers.get_list("set-cookie"))
        assert await store.get(sid) is None
        after = await get(http, "/whoami", cookie)
        assert after.json()["user"] is None
        assert after.json()["id"] != sid
    assert await store.get(sid) is None


@pytest.mark.parametrize("via", VIAS)
async def test_a_regenerate_during_a_slow_request_never_brings_the_old_id_back(
    store: Store, via: Via
) -> None:
    gate = Gate()
    async with client_of(merging_app(store, gate), via) as http:
        old_sid, old_cookie = await log_in(http)
        slow, regenerated = await slow_request_racing(http, gate, old_cookie, "/regenerate")
        assert regenerated.status_code == 200
        new_sid = regenerated.json()["id"]
        new_cookie = session_cookie(regenerated)
        assert new_sid != old_sid
        assert slow.status_code == 200
        assert old_sid not in "".join(slow.headers.get_list("set-cookie"))
        assert await store.get(old_sid) is None
        stale = await get(http, "/whoami", old_cookie)
        assert stale.json() == {"id": stale.json()["id"], "user": None}
        assert stale.json()["id"] not in (old_sid, new_sid)
        assert new_cookie is not None
        assert (await get(http, "/whoami", new_cookie)).json() == {"id": new_sid, "user": "alice"}
    assert await store.get(old_sid) is None
    assert (await store.get(new_sid) or {}).get("user") == "alice"


async def test_under_overwrite_the_same_logout_race_brings_the_session_back() -> None:
    """The race of the logout test is real: express-session's last write wins undoes the logout."""
    gate = Gate()
    store = MemoryStore()
    engine = make_engine(store, on_conflict="overwrite")
    async with client_of(conflict_app(engine, gate), "asgi") as http:
        sid, cookie = await log_in(http)
        await slow_request_racing(http, gate, cookie, "/logout")
        assert (await get(http, "/whoami", cookie)).json() == {"id": sid, "user": "alice"}
    assert (await store.get(sid) or {}).get("slow") is True
