"""Fail fast: once the server is seen down, calls fail at once; one probe at a time checks for its return.

Behaviour, not times: what reaches the server is counted (the loopback server records every
RPC it receives), and recovery is waited for with a generous bound.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from connectstore import StoreUnavailableError, open_store
from connectstore_conformance import make_session
from connectstore_surrealdb import RootAuth, SurrealDBStore
from tests.adapters.surrealdb.helpers import eventually, holds
from tests.adapters.surrealdb.server import ROOT_PASSWORD, ROOT_USER, LoopbackSurreal

AUTH = RootAuth(ROOT_USER, ROOT_PASSWORD)
TIMEOUT = 2.0
BOUND = TIMEOUT + 30.0  # a call that takes longer has hung


async def answers(store: SurrealDBStore) -> bool:
    """Whether a call gets through (the breaker lets a probe through every retry_interval)."""
    try:
        await store.get("probe")
    except StoreUnavailableError:
        return False
    return True


@pytest_asyncio.fixture
async def store(surreal_server: LoopbackSurreal) -> AsyncIterator[SurrealDBStore]:
    store = SurrealDBStore(surreal_server.url, auth=AUTH, timeout=TIMEOUT, retry_interval=0.2)
    await store.open()
    yield store
    surreal_server.hold = False
    await store.close()


def test_only_a_server_has_a_breaker() -> None:
    assert SurrealDBStore("mem://").breaker is None
    for url in ("ws://h/rpc", "wss://h/rpc", "http://h", "https://h"):
        breaker = SurrealDBStore(url, failure_threshold=3, retry_interval=1.5).breaker
        assert breaker is not None
        assert (breaker.failure_threshold, breaker.retry_interval) == (3, 1.5)
    from_url = open_store("surrealdb+ws://h/rpc?failure_threshold=3&retry_interval=1.5")
    assert isinstance(from_url, SurrealDBStore)
    assert from_url.breaker is not None
    assert (from_url.breaker.failure_threshold, from_url.breaker.retry_interval) == (3, 1.5)
    with pytest.raises(ValueError, match="failure_threshold"):
        SurrealDBStore("mem://", failure_threshold=0)
    with pytest.raises(ValueError, match="retry_interval"):
        SurrealDBStore("ws://h/rpc", retry_interval=-1)


async def test_an_open_breaker_fails_fast_without_touching_the_server(
    store: SurrealDBStore, surreal_server: LoopbackSurreal
) -> None:
    assert store.breaker is not None
    store.breaker.retry_interval = 3600  # no probe during this test
    await store.set("kept", make_session(3600, n=1))
    surreal_server.hold = True  # the server takes calls and never answers: each would wait TIMEOUT
    for _ in range(store.breaker.failure_threshold):
        with pytest.raises(StoreUnavailableError, match="did not answer"):
            await asyncio.wait_for(store.get("kept"), BOUND)
    assert store.breaker.is_open
    received = len(surreal_server.methods)
    for call in itertools.islice(
        itertools.cycle([store.get("kept"), store.set("x", make_session(60)), store.length()]), 0, 3
    ):
        with pytest.raises(StoreUnavailableError, match="failing fast"):
            await asyncio.wait_for(call, BOUND)
    calls = [store.get(f"s{i}") for i in range(100)]
    results = await asyncio.wait_for(asyncio.gather(*calls, return_exceptions=True), BOUND)
    assert all(isinstance(r, StoreUnavailableError) and "failing fast" in str(r) for r in results)
    assert len(surreal_server.methods) == received  # none of them reached the server
    surreal_server.hold = False
    store.breaker.reset()
    assert (await store.get("kept") or {}).get("n") == 1


async def test_one_probe_at_a_time_then_service_resumes(
    store: SurrealDBStore, surreal_server: LoopbackSurreal
) -> None:
    assert store.breaker is not None
    await store.set("kept", make_session(3600, n=1))
    surreal_server.hold = True
    for _ in range(store.breaker.failure_threshold):
        with pytest.raises(StoreUnavailableError):
            await asyncio.wait_for(store.get("kept"), BOUND)
    assert store.breaker.is_open
    await asyncio.sleep(store.breaker.retry_interval * 2)  # a probe is due (time only moves forward)
    received = len(surreal_server.methods)
    results = await asyncio.wait_for(
        asyncio.gather(*(store.get(f"s{i}") for i in range(50)), return_exceptions=True), BOUND
    )
    # One call went to the (silent) server and timed out; the 49 others failed at once.
    assert len(surreal_server.methods) == received + 1
    probes = [r for r in results if "failing fast" not in str(r)]
    assert len(probes) == 1
    assert "did not answer" in str(probes[0])
    assert all(isinstance(r, StoreUnavailableError) for r in results)
    assert store.breaker.is_open  # the probe failed: still open
    surreal_server.hold = False
    await eventually(lambda: answers(store), BOUND)
    assert not store.breaker.is_open
    assert (await store.get("kept") or {}).get("n") == 1


async def test_server_killed_and_restarted_under_load_loses_nothing_acknowledged(
    store: SurrealDBStore, surreal_server: LoopbackSurreal
) -> None:
    acknowledged: dict[str, int] = {}
    failures: list[str] = []
    running = True

    async def writer(w: int) -> None:
        for n in itertools.count():
            if not running:
                return
            sid = f"writer-{w}"
            try:
                await asyncio.wait_for(store.set(sid, make_session(3600, n=n)), BOUND)
            except StoreUnavailableError as exc:
                failures.append(str(exc))
                await asyncio.sleep(0.01)
            else:
                acknowledged[sid] = n

    writers = [asyncio.ensure_future(writer(w)) for w in range(8)]
    try:
        await eventually(lambda: holds(lambda: len(acknowledged) == 8), BOUND)
        await surreal_server.stop()  # killed: connections dropped without a closing handshake
        await eventually(lambda: holds(lambda: any("failing fast" in f for f in failures)), BOUND)
        assert store.breaker is not None
        assert store.breaker.is_open
        during = dict(acknowledged)
        await surreal_server.start()  # same port, same data
        await eventually(lambda: holds(lambda: all(acknowledged[s] > during[s] for s in during)), BOUND)
    finally:
        running = False
        await asyncio.wait(writers)
    assert not store.breaker.is_open
    for sid, n in acknowledged.items():  # a failed write may have landed: never older than acknowledged
        assert (await store.get(sid) or {}).get("n", -1) >= n
