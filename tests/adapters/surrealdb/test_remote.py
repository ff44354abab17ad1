"""Over ws://: signin, fail-fast while the server is away, reconnection when it is back."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from connectstore import StoreError, StoreUnavailableError
from connectstore_conformance import make_session
from connectstore_surrealdb import RootAuth, SurrealDBStore, TokenAuth
from tests.adapters.surrealdb.helpers import eventually, holds
from tests.adapters.surrealdb.server import ROOT_PASSWORD, ROOT_USER, LoopbackSurreal

AUTH = RootAuth(ROOT_USER, ROOT_PASSWORD)
TIMEOUT = 2.0  # long enough for any call on a loaded machine; the tests that hit it wait this long
BOUND = TIMEOUT + 30.0  # a call that takes longer than this has hung


@pytest_asyncio.fixture
async def store(surreal_server: LoopbackSurreal) -> AsyncIterator[SurrealDBStore]:
    async with SurrealDBStore(
        surreal_server.url, auth=AUTH, namespace="app", database="web", timeout=TIMEOUT
    ) as s:
        yield s


async def test_signs_in_and_selects_namespace(store: SurrealDBStore, surreal_server: LoopbackSurreal) -> None:
    assert surreal_server.methods[:2] == ["signin", "use"]
    await store.set("a", make_session(3600, n=1))
    rows = await surreal_server.rpc(
        "query", ["USE NS app DB web; SELECT VALUE record::id(id) FROM user_session", {}]
    )
    assert rows[-1]["result"] == ["a"]


async def test_wrong_password_raises_store_error(surreal_server: LoopbackSurreal) -> None:
    bad = SurrealDBStore(surreal_server.url, auth=RootAuth(ROOT_USER, "wrong"), timeout=TIMEOUT)
    with pytest.raises(StoreError, match="refused") as info:
        await asyncio.wait_for(bad.get("a"), BOUND)
    assert not isinstance(info.value, StoreUnavailableError)
    await bad.close()


async def test_token_auth(surreal_server: LoopbackSurreal) -> None:
    token = await surreal_server.rpc("signin", [{"user": ROOT_USER, "pass": ROOT_PASSWORD}])
    async with SurrealDBStore(surreal_server.url, auth=TokenAuth(str(token))) as store:
        await store.set("t", make_session(3600, via="token"))
        assert (await store.get("t") or {}).get("via") == "token"
    assert "authenticate" in surreal_server.methods


async def test_no_server_fails_fast(surreal_server: LoopbackSurreal) -> None:
    await surreal_server.stop()
    store = SurrealDBStore(surreal_server.url, auth=AUTH, timeout=TIMEOUT)
    for _ in range(3):
        with pytest.raises(StoreUnavailableError):
            await asyncio.wait_for(store.get("a"), BOUND)
    await store.close()


async def test_reconnects_after_the_server_is_killed_mid_run(
    store: SurrealDBStore, surreal_server: LoopbackSurreal
) -> None:
    await store.set("before", make_session(3600, n=1))
    outcomes: list[str] = []

    async def traffic() -> None:
        for i in range(10_000):
            try:
                await asyncio.wait_for(store.set(f"s{i % 50}", make_session(3600, i=i)), BOUND)
                outcomes.append("ok")
            except StoreUnavailableError:
                outcomes.append("unavailable")
                await asyncio.sleep(0.01)

    runner = asyncio.ensure_future(traffic())
    await eventually(lambda: holds(lambda: "ok" in outcomes))
    await surreal_server.stop()  # kill it mid-run, calls in flight included
    await eventually(lambda: holds(lambda: "unavailable" in outcomes))
    # While it is away, every call fails fast with StoreUnavailableError.
    for call in (store.get("before"), store.length(), store.destroy("x"), store.all()):
        with pytest.raises(StoreUnavailableError):
            await asyncio.wait_for(call, BOUND)
    signins = surreal_server.methods.count("signin")
    failed = len(outcomes)
    await surreal_server.start()  # same port, same data
    await eventually(lambda: holds(lambda: "ok" in outcomes[failed:]))  # it recovered by itself
    runner.cancel()
    await asyncio.wait({runner})
    assert (await store.get("before") or {}).get("n") == 1
    # It signed in and selected the namespace again on the new connection.
    assert surreal_server.methods.count("signin") > signins
    after = surreal_server.methods[
        len(surreal_server.methods) - surreal_server.methods[::-1].index("signin") - 1 :
    ]
    assert after[:2] == ["signin", "use"]


async def test_a_server_that_stops_answering_times_out(
    store: SurrealDBStore, surreal_server: LoopbackSurreal
) -> None:
    await store.set("a", make_session(3600, n=1))
    surreal_server.hold = True
    with pytest.raises(StoreUnavailableError, match="did not answer"):
        await asyncio.wait_for(store.get("a"), BOUND)
    surreal_server.hold = False
    assert (await store.get("a") or {}).get("n") == 1


async def test_hundreds_of_calls_in_flight_when_the_server_dies(
    store: SurrealDBStore, surreal_server: LoopbackSurreal
) -> None:
    surreal_server.hold = True
    sent = len(surreal_server.methods)
    calls = [asyncio.ensure_future(store.get(f"s{i}")) for i in range(200)]
    await eventually(lambda: holds(lambda: len(surreal_server.methods) >= sent + 200))  # all in flight
    await surreal_server.stop()
    results = await asyncio.wait_for(asyncio.gather(*calls, return_exceptions=True), BOUND)
    assert all(isinstance(result, StoreUnavailableError) for result in results), {type(r) for r in results}
    surreal_server.hold = False
    await surreal_server.start()

    async def answers() -> bool:
        try:
            return await store.get("s1") is None
        except StoreUnavailableError:  # the breaker lets a probe through every retry_interval
            return False

    await eventually(answers)
