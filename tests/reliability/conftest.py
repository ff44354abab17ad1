"""Fixtures of the hostile-input tests: each store behind the test app, and the served site."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis
from surrealdb import RecordID

from connectstore_redis import RedisStore
from connectstore_sqlite import SQLiteStore
from connectstore_surrealdb import SurrealDBStore
from tests.adapters.redis.conftest import shared_redis  # noqa: F401 (fixture)
from tests.adapters.surrealdb.helpers import raw_query
from tests.reliability.app import make_app, make_engine
from tests.reliability.hostile_site import COOKIE_JSON, Site, Target, User
from tests.reliability.services import served


@pytest.fixture(params=["redis", "sqlite", "surrealdb"])
async def target(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Target]:
    if request.param == "redis":
        url = request.getfixturevalue("shared_redis")
        prefix = f"cs-hostile-{uuid.uuid4().hex[:10]}:"
        raw = Redis.from_url(url)

        async def write_redis(sid: str, text: str) -> None:
            await raw.set(prefix + sid, text, ex=600)

        async with RedisStore.from_url(url, prefix=prefix) as redis_store:
            yield Target("redis", redis_store, write_redis)
            await redis_store.clear()
        await raw.aclose()
    elif request.param == "sqlite":
        db = tmp_path / "sessions.db"

        async def write_sqlite(sid: str, text: str) -> None:
            with sqlite3.connect(db) as conn:
                conn.execute(
                    "INSERT OR REPLACE INTO sessions VALUES (?, ?, ?)", (sid, 4_102_444_800_000, text)
                )
            conn.close()

        async with SQLiteStore(db, sweep_interval=None) as sqlite_store:
            await sqlite_store.length()
            yield Target("sqlite", sqlite_store, write_sqlite)
    else:
        async with SurrealDBStore("mem://") as surreal_store:

            async def write_surreal(sid: str, text: str) -> None:
                await raw_query(
                    surreal_store,
                    "UPSERT $rid CONTENT {cookie: $cookie, sess: $sess, expires: time::now() + 1h}",
                    {"rid": RecordID(surreal_store.table, sid), "cookie": COOKIE_JSON, "sess": text},
                )

            yield Target("surrealdb", surreal_store, write_surreal)


@pytest.fixture
async def site(target: Target) -> AsyncIterator[Site]:
    app = make_app(make_engine(target.store, store_timeout=5.0))
    async with served(app) as base, httpx.AsyncClient(base_url=base, timeout=10.0) as http:
        victim = User(http, "victim")
        reply = await victim.get("/login", client="victim")
        assert reply.status_code == 200
        yield Site(base, http, victim, reply.json()["id"])
