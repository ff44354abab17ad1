"""The sweep deletes exactly the expired sessions, keeps running through failures, and stops on close."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from connectstore import StoreUnavailableError
from connectstore_conformance import make_session
from connectstore_surrealdb import RootAuth, SurrealDBStore
from tests.adapters.surrealdb.helpers import eventually, holds, raw_ids, raw_query, rid, write_expired
from tests.adapters.surrealdb.server import ROOT_PASSWORD, ROOT_USER, LoopbackSurreal


@pytest_asyncio.fixture
async def store() -> AsyncIterator[SurrealDBStore]:
    async with SurrealDBStore("mem://") as store:
        yield store


async def fill_mix(store: SurrealDBStore) -> set[str]:
    """Expired, live, no-expiry and foreign records; returns the ids that must survive a sweep."""
    await write_expired(store, "expired-1", n=1)
    await write_expired(store, "expired-2", n=2)
    await store.set("live", make_session(3600, n=3))
    await store.set("no-cookie-expiry", make_session(None, n=4))
    # Written by someone else: connect-surreal's shape (no top-level expires), a string
    # expires, a numeric record id, a future datetime without our fields.
    await raw_query(
        store, "UPSERT $r CONTENT {cookie: {originalMaxAge: 1}, views: 1}", {"r": rid(store, "foreign")}
    )
    await raw_query(store, "UPSERT $r CONTENT {expires: 'yesterday'}", {"r": rid(store, "string-expires")})
    await raw_query(
        store, "UPSERT $r CONTENT {expires: time::now() + 1h}", {"r": rid(store, "future-foreign")}
    )
    return {"live", "no-cookie-expiry", "foreign", "string-expires", "future-foreign"}


async def test_sweep_removes_exactly_the_expired_records(store: SurrealDBStore) -> None:
    survivors = await fill_mix(store)
    assert await raw_ids(store) == survivors | {"expired-1", "expired-2"}
    assert await store.sweep() == 2
    assert await raw_ids(store) == survivors
    assert await store.sweep() == 0
    assert (await store.get("live") or {}).get("n") == 3
    assert (await store.get("no-cookie-expiry") or {}).get("n") == 4


async def test_sweeps_of_several_instances_at_once(store: SurrealDBStore) -> None:
    survivors = await fill_mix(store)
    others = [SurrealDBStore(store.url, client=store.client) for _ in range(3)]
    removed = await asyncio.gather(store.sweep(), *(other.sweep() for other in others))
    # Overlapping sweeps may each count the same deleted records; none deletes more.
    assert max(removed) == 2
    assert await raw_ids(store) == survivors


async def test_background_sweep_runs_every_interval() -> None:
    async with SurrealDBStore("mem://", sweep_interval=0.2) as store:
        assert store.sweeping
        survivors = await fill_mix(store)

        async def swept() -> bool:
            return await raw_ids(store) == survivors

        await eventually(swept)
        await write_expired(store, "expired-later")
        assert "expired-later" in await raw_ids(store)
        await eventually(swept)


async def test_sweep_is_off_by_default(store: SurrealDBStore) -> None:
    await store.set("a", make_session(3600))
    assert not store.sweeping
    assert store.sweep_interval is None


async def test_auto_sweep_expired_means_every_600_seconds_unless_sweep_interval_says_otherwise() -> None:
    """connect-surreal's ``autoSweepExpired``: an alias that turns on the sweep with its own period."""
    async with SurrealDBStore("mem://", auto_sweep_expired=True) as store:
        assert store.sweeping
        assert store.sweep_interval == 600.0
    async with SurrealDBStore("mem://", auto_sweep_expired=True, sweep_interval=30) as store:
        assert store.sweeping
        assert store.sweep_interval == 30.0
    async with SurrealDBStore("mem://", auto_sweep_expired=False, sweep_interval=30) as store:
        assert store.sweeping  # sweep_interval alone turns it on
    async with SurrealDBStore("mem://", auto_sweep_expired=False) as store:
        assert not store.sweeping


async def test_background_sweep_survives_a_query_error(caplog: pytest.LogCaptureFixture) -> None:
    async with SurrealDBStore("mem://", auto_sweep_expired=True, sweep_interval=0.1) as store:
        # A real failure from the engine: every DELETE on the table throws.
        await raw_query(
            store,
            "DEFINE EVENT refuse ON TABLE user_session WHEN $event = 'DELETE' THEN { THROW 'injected' }",
        )
        survivors = await fill_mix(store)
        with caplog.at_level(logging.WARNING, logger="connectstore"):

            async def failed_twice() -> bool:
                return (
                    sum("injected" in r.getMessage() or "injected" in str(r.exc_info) for r in caplog.records)
                    >= 2
                )

            await eventually(failed_twice)
        assert store.sweeping
        assert "expired-1" in await raw_ids(store)
        await raw_query(store, "REMOVE EVENT refuse ON TABLE user_session")

        async def swept() -> bool:
            return await raw_ids(store) == survivors

        await eventually(swept)


async def test_background_sweep_survives_the_server_going_away(
    surreal_server: LoopbackSurreal, caplog: pytest.LogCaptureFixture
) -> None:
    auth = RootAuth(ROOT_USER, ROOT_PASSWORD)
    async with SurrealDBStore(
        surreal_server.url, auth=auth, auto_sweep_expired=True, sweep_interval=0.1
    ) as store:
        await store.set("live", make_session(3600))
        with caplog.at_level(logging.WARNING, logger="connectstore"):
            await surreal_server.stop()
            # ticks fail while it is away
            await eventually(
                lambda: holds(lambda: sum("sweeping" in r.getMessage() for r in caplog.records) >= 2)
            )
        assert store.sweeping
        await surreal_server.start()

        async def written() -> bool:
            try:
                await write_expired(store, "expired")
            except StoreUnavailableError:  # until the breaker's probe finds the server back
                return False
            return True

        await eventually(written)

        async def swept() -> bool:
            return await raw_ids(store) == {"live"}

        await eventually(swept)  # by the task that ran through the outage


async def test_close_leaves_no_task_behind() -> None:
    before = asyncio.all_tasks()
    store = SurrealDBStore("mem://", auto_sweep_expired=True, sweep_interval=0.05)
    await store.set("a", make_session(3600))
    assert store.sweeping
    await asyncio.sleep(0.2)
    await store.close()
    assert not store.sweeping
    assert asyncio.all_tasks() - before == set()
    await store.close()  # twice is fine


async def test_close_of_a_remote_store_leaves_no_task_behind(surreal_server: LoopbackSurreal) -> None:
    before = asyncio.all_tasks()
    store = SurrealDBStore(surreal_server.url, auto_sweep_expired=True, sweep_interval=0.05)
    await store.set("a", make_session(3600))
    await surreal_server.stop()
    await asyncio.sleep(0.2)
    await store.close()
    assert asyncio.all_tasks() - before == set()


def test_sweep_interval_must_be_positive() -> None:
    with pytest.raises(ValueError, match="sweep_interval"):
        SurrealDBStore("mem://", sweep_interval=0)
    with pytest.raises(ValueError, match="sweep_interval"):
        SurrealDBStore("mem://", auto_sweep_expired=True, sweep_interval=-1)


async def test_the_sweep_starts_again_after_close() -> None:
    store = SurrealDBStore("mem://", sweep_interval=0.1)
    await store.set("a", make_session(3600))
    assert store.sweeping
    await store.close()
    assert not store.sweeping
    await store.set("a", make_session(3600))  # close() left the store usable, sweep included
    assert store.sweeping
    await write_expired(store, "gone")

    async def swept() -> bool:
        return await raw_ids(store) == {"a"}

    await eventually(swept)
    await store.close()
    assert not store.sweeping
