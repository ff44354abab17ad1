"""BlockingStore: the async contract as blocking calls, from many threads."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from connectstore import BlockingStore, MemoryStore, SessionData, Store, StoreUnavailableError


def test_eight_threads_at_once() -> None:
    with BlockingStore(MemoryStore()) as store:

        def work(thread: int) -> None:
            for i in range(200):
                sid = f"t{thread}-{i}"
                store.set(sid, {"cookie": {"expires": None}, "thread": thread, "i": i})
                assert store.get(sid) == {"cookie": {"expires": None}, "thread": thread, "i": i}
                if i % 2:
                    store.destroy(sid)

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(work, range(8)))
        assert store.length() == 8 * 100
        assert len(store.ids()) == 800
        assert len(store.all()) == 800
        store.clear()
        assert store.length() == 0


def test_store_runs_on_one_loop_thread() -> None:
    seen: set[int] = set()

    class Recording(MemoryStore):
        async def get(self, sid: str) -> SessionData | None:
            seen.add(threading.get_ident())
            return await super().get(sid)

    with BlockingStore(Recording()) as store, ThreadPoolExecutor(8) as pool:
        list(pool.map(store.get, [str(i) for i in range(100)]))
    assert len(seen) == 1


def test_factory_sync_and_async() -> None:
    async def make() -> Store:
        asyncio.get_running_loop()  # built on the bridge's loop
        return MemoryStore()

    for factory in (MemoryStore, make):
        with BlockingStore(factory) as store:
            store.set("a", {"cookie": {}})
            assert store.get("a") == {"cookie": {}}
            assert "touch" in store.capabilities


def test_factory_must_return_a_store() -> None:
    before = threading.active_count()
    with pytest.raises(TypeError, match="not a Store"):
        BlockingStore(lambda: object())  # type: ignore[arg-type,return-value]
    assert threading.active_count() == before  # the bridge's thread was stopped


def test_a_hung_store_fails_fast_with_typed_error() -> None:
    class Hung(MemoryStore):
        async def get(self, sid: str) -> SessionData | None:
            await asyncio.sleep(3600)
            return None

    with BlockingStore(Hung(), timeout=0.2) as store:
        with pytest.raises(StoreUnavailableError, match=r"did not answer within 0\.2 s"):
            store.get("a")
        store.set("b", {"cookie": {}})  # the bridge still works
        assert store.length() == 1


def test_closed_bridge_refuses_calls_and_close_is_idempotent() -> None:
    store = BlockingStore(MemoryStore())
    store.close()
    store.close()
    with pytest.raises(RuntimeError, match="closed"):
        store.get("a")


def test_run_executes_any_coroutine_on_the_store_loop() -> None:
    with BlockingStore(MemoryStore()) as bridge:

        async def on_loop() -> bool:
            await bridge.store.set("x", {"cookie": {}})
            return asyncio.get_running_loop() is bridge.loop

        assert bridge.run(on_loop()) is True
        assert bridge.get("x") == {"cookie": {}}


async def test_within_bounds_any_awaitable() -> None:
    from connectstore import within

    assert await within(1.0, asyncio.sleep(0, "done"), "quick") == "done"
    assert await within(None, asyncio.sleep(0, "unbounded"), "x") == "unbounded"
    with pytest.raises(StoreUnavailableError, match=r"^slow store did not answer within 0\.05 s$"):
        await within(0.05, asyncio.sleep(10), "slow store")
