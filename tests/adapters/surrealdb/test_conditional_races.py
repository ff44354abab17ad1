"""Real races of SurrealDBStore's set_if and create: one winner, and no lost increment.

On one event loop, and from event loops in several threads sharing the store (one embedded
engine, or one connection per loop to a server): SurrealDB 2.3's in-memory and SurrealKV
storage can let two concurrent transactions that wrote one record both commit (see
:mod:`connectstore_surrealdb.one_writer`), so these checks hold only because the store
sends its writes to one sid one at a time from every loop of the process.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest
import pytest_asyncio

from connectstore import SessionData
from connectstore_conformance import make_session
from connectstore_surrealdb import RootAuth, SurrealDBStore
from tests.adapters.surrealdb.server import ROOT_PASSWORD, ROOT_USER, LoopbackSurreal, ThreadedSurreal

AUTH = RootAuth(ROOT_USER, ROOT_PASSWORD)
RACERS = 20
TASKS, INCREMENTS = 8, 10
THREADS = 4
#: Attempts one increment may take before the test calls it a livelock (each round has a winner).
MAX_ATTEMPTS = 10_000

StoreFactory = Callable[[], SurrealDBStore]
T = TypeVar("T")


@pytest_asyncio.fixture(params=["mem", "surrealkv", "ws"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SurrealDBStore]:
    """A store on the embedded engine in memory, on disk, or on a server on loopback."""
    if request.param == "ws":
        server = LoopbackSurreal()
        await server.open()
        async with SurrealDBStore(server.url, auth=AUTH) as store:
            yield store
        await server.close()
    else:
        url = "mem://" if request.param == "mem" else f"surrealkv://{tmp_path / 'kv'}"
        async with SurrealDBStore(url) as store:
            yield store


@pytest.fixture(params=["mem", "surrealkv", "ws"])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreFactory]:
    """Builds a store that event loops in several threads share (a server in a thread of its own)."""
    if request.param == "ws":
        with ThreadedSurreal() as served:
            yield lambda: SurrealDBStore(served.url, auth=AUTH)
    else:
        url = "mem://" if request.param == "mem" else f"surrealkv://{tmp_path / 'kv'}"
        yield lambda: SurrealDBStore(url)


def counter(n: int, **data: object) -> SessionData:
    return make_session(3600, n=n, **data)


async def increment(store: SurrealDBStore, sid: str) -> int:
    """Add one to the session's ``n`` with get_versioned/set_if, retrying on conflict; returns
    how many attempts lost.
    """
    for attempt in range(MAX_ATTEMPTS):
        current = await store.get_versioned(sid)
        assert current is not None
        if await store.set_if(sid, counter(current.session["n"] + 1), current.version) is not None:
            return attempt
    raise AssertionError(f"no increment of {sid} got through in {MAX_ATTEMPTS} attempts")


async def test_concurrent_set_if_on_one_version_has_one_winner(store: SurrealDBStore) -> None:
    for round_ in range(5):
        sid = f"contested-{round_}"
        await store.set(sid, counter(-1))
        versioned = await store.get_versioned(sid)
        assert versioned is not None
        sessions = [counter(i) for i in range(RACERS)]
        results = await asyncio.gather(
            *(store.set_if(sid, session, versioned.version) for session in sessions)
        )
        winners = [i for i, result in enumerate(results) if result is not None]
        assert len(winners) == 1, results
        assert await store.get_versioned(sid) == (sessions[winners[0]], results[winners[0]])


async def test_concurrent_create_has_one_winner(store: SurrealDBStore) -> None:
    for round_ in range(5):
        sid = f"fresh-{round_}"
        sessions = [counter(i) for i in range(RACERS)]
        results = await asyncio.gather(*(store.create(sid, session) for session in sessions))
        winners = [i for i, result in enumerate(results) if result is not None]
        assert len(winners) == 1, results
        assert await store.get_versioned(sid) == (sessions[winners[0]], results[winners[0]])


async def test_a_counter_incremented_by_many_tasks_loses_nothing(store: SurrealDBStore) -> None:
    await store.set("counter", counter(0))

    async def task() -> int:
        return sum([await increment(store, "counter") for _ in range(INCREMENTS)])

    lost = await asyncio.gather(*(task() for _ in range(TASKS)))
    assert (await store.get("counter") or {})["n"] == TASKS * INCREMENTS
    assert sum(lost) > 0  # the tasks did contend (else this checks nothing)


def in_threads(work: Callable[[int], T]) -> list[T]:
    """Run ``work(i)`` in THREADS threads started together; return what each returned."""
    start = threading.Barrier(THREADS)
    results: dict[int, T] = {}
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            start.wait(timeout=60)
            results[i] = work(i)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
        assert not thread.is_alive(), "a thread hung"
    if errors:
        raise errors[0]
    return [results[i] for i in range(THREADS)]


def test_set_if_from_loops_in_several_threads_has_one_winner(make_store: StoreFactory) -> None:
    store = make_store()
    try:
        for round_ in range(3):
            sid = f"contested-{round_}"
            asyncio.run(store.set(sid, counter(-1)))
            versioned = asyncio.run(store.get_versioned(sid))
            assert versioned is not None

            sessions = [counter(n) for n in range(THREADS * RACERS)]

            async def race(
                i: int,
                sid: str = sid,
                version: str = versioned.version,
                sessions: list[SessionData] = sessions,
            ) -> list[str | None]:
                mine = sessions[i * RACERS : (i + 1) * RACERS]
                return list(await asyncio.gather(*(store.set_if(sid, session, version) for session in mine)))

            results = [r for each in in_threads(lambda i: asyncio.run(race(i))) for r in each]
            winners = [n for n, result in enumerate(results) if result is not None]
            assert len(winners) == 1, results
            assert asyncio.run(store.get_versioned(sid)) == (sessions[winners[0]], results[winners[0]])
    finally:
        asyncio.run(store.close())


def test_a_counter_incremented_from_loops_in_several_threads_loses_nothing(make_store: StoreFactory) -> None:
    store = make_store()
    try:
        asyncio.run(store.set("counter", counter(0)))

        async def tasks() -> int:
            async def task() -> int:
                return sum([await increment(store, "counter") for _ in range(INCREMENTS)])

            return sum(await asyncio.gather(*(task() for _ in range(TASKS // 2))))

        in_threads(lambda _: asyncio.run(tasks()))
        assert (asyncio.run(store.get("counter")) or {})["n"] == THREADS * TASKS // 2 * INCREMENTS
    finally:
        asyncio.run(store.close())
