"""BlockingStore: the async contract as blocking calls, from many threads."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

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
    bridge = BlockingStore(lambda: object())  # type: ignore[arg-type,return-value]
    with pytest.raises(TypeError, match="not a Store"):
        bridge.get("a")  # the factory runs on first use
    assert threading.active_count() == before  # the bridge's thread was stopped
    with pytest.raises(TypeError, match="factory"):
        BlockingStore("memory://")  # type: ignore[arg-type]


def bridge_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == "connectstore-blocking"]


def test_nothing_starts_before_the_first_call() -> None:
    """What a pre-fork server's master does (import the app, make the bridge) starts no
    thread and builds no store; the first call does both.
    """
    built: list[int] = []

    def factory() -> Store:
        built.append(threading.get_ident())
        return MemoryStore()

    before = bridge_threads()
    bridge = BlockingStore(factory)
    assert bridge_threads() == before
    assert built == []
    try:
        assert bridge.length() == 0
        assert len(bridge_threads()) == len(before) + 1
        assert built == [bridge.run(_thread_ident())]
    finally:
        bridge.close()
    assert bridge_threads() == before


async def _thread_ident() -> int:
    return threading.get_ident()


def test_closing_a_bridge_never_used_closes_the_store_it_was_given() -> None:
    closed: list[bool] = []

    class Closing(MemoryStore):
        async def close(self) -> None:
            closed.append(True)

    BlockingStore(Closing()).close()
    assert closed == [True]
    assert bridge_threads() == []


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


def test_a_closed_bridge_works_again_on_the_same_store_and_close_is_idempotent() -> None:
    """close() closes the store once and stops the thread; the next call starts a thread
    again on the same store (its data kept, the factory not called again), and close()
    after that closes it again.
    """
    closes: list[bool] = []
    built: list[Store] = []

    class Closing(MemoryStore):
        async def close(self) -> None:
            closes.append(True)

    def factory() -> Store:
        built.append(Closing())
        return built[-1]

    before = bridge_threads()
    bridge = BlockingStore(factory)
    bridge.set("a", {"cookie": {}, "n": 1})
    bridge.close()
    bridge.close()
    assert closes == [True]
    assert bridge_threads() == before
    assert bridge.get("a") == {"cookie": {}, "n": 1}
    assert len(bridge_threads()) == len(before) + 1
    bridge.set("b", {"cookie": {}, "n": 2})
    assert len(built) == 1
    bridge.close()
    assert closes == [True, True]
    assert bridge_threads() == before
    assert bridge.length() == 2
    bridge.close()


def test_a_store_given_ready_made_is_used_again_after_close() -> None:
    store = MemoryStore()
    with BlockingStore(store) as bridge:
        bridge.set("a", {"cookie": {}})
    with bridge:
        assert bridge.store is store
        assert bridge.all() == {"a": {"cookie": {}}}


def test_run_executes_any_coroutine_on_the_store_loop() -> None:
    with BlockingStore(MemoryStore()) as bridge:

        async def on_loop() -> bool:
            await bridge.store.set("x", {"cookie": {}})
            return asyncio.get_running_loop() is bridge.loop

        assert bridge.run(on_loop()) is True
        assert bridge.get("x") == {"cookie": {}}


async def test_within_bounds_any_awaitable() -> None:
    from connectstore import within

    assert await within(60.0, asyncio.sleep(0, "done"), "quick") == "done"
    assert await within(None, asyncio.sleep(0, "unbounded"), "x") == "unbounded"
    with pytest.raises(StoreUnavailableError, match=r"^slow store did not answer within 0\.05 s$"):
        await within(0.05, asyncio.sleep(10), "slow store")


def redis_answers() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=5.0):
            return True
    except OSError:
        return False


def store_url(kind: str, tmp_path: Path) -> str:
    if kind == "memory":
        return "memory://"
    if kind == "sqlite":
        return f"sqlite:///{tmp_path}/sessions.db"
    if not redis_answers():
        if os.environ.get("CI") == "true":
            pytest.fail("no Redis answers on 127.0.0.1:6379")
        pytest.skip("no Redis answers on 127.0.0.1:6379")
    return f"redis://127.0.0.1:6379/0?prefix=cs-fork-{uuid.uuid4().hex[:12]}:"


def run_fork_script(source: str, url: str, *, warm: bool | str) -> dict[str, Any]:
    """tests/bridge_after_fork.py in a fresh interpreter (``warm``: True, False or
    ``"closed"``); its JSON report.
    """
    mode = warm if isinstance(warm, str) else "1" if warm else "0"
    done = subprocess.run(
        [sys.executable, "-m", "tests.bridge_after_fork", source, url, mode, "30"],
        cwd=Path(__file__).parent.parent,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return report


@pytest.mark.parametrize("kind", ["memory", "sqlite", "redis"])
@pytest.mark.parametrize("warm", [True, False], ids=["used-before-fork", "unused-before-fork"])
def test_a_bridge_built_from_a_factory_works_in_a_forked_child(kind: str, warm: bool, tmp_path: Path) -> None:
    """The child gets a loop, thread and store of its own (the factory is called again);
    the parent's bridge, loop and connections still work after the child is gone.
    """
    report = run_fork_script("factory", store_url(kind, tmp_path), warm=warm)
    child, parent = report["child"], report["parent"]
    assert "error" not in child, child
    assert child["child"] == {"cookie": {"originalMaxAge": None, "expires": None}, "n": 2}
    assert (child["parent"] is not None) is warm  # memory: the child's copy; others: the shared store
    assert parent["exit"] == 0
    assert parent["after"]["n"] == 3
    assert (parent["child"] is not None) is (kind != "memory")  # a memory store is per process


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_a_store_instance_unused_before_the_fork_serves_the_child(kind: str, tmp_path: Path) -> None:
    report = run_fork_script("instance", store_url(kind, tmp_path), warm=False)
    assert report["child"]["child"]["n"] == 2
    assert report["parent"]["after"]["n"] == 3


def test_a_memory_store_instance_used_before_the_fork_goes_on_in_both() -> None:
    report = run_fork_script("instance", "memory://", warm=True)
    assert report["child"]["parent"]["n"] == 1  # the child's copy of the parent's sessions
    assert report["child"]["child"]["n"] == 2
    assert report["parent"]["child"] is None  # the child wrote to its copy only
    assert report["parent"]["after"]["n"] == 3


def test_a_store_instance_used_before_the_fork_is_refused_in_the_child_with_a_clear_error(
    tmp_path: Path,
) -> None:
    report = run_fork_script("instance", store_url("sqlite", tmp_path), warm=True)
    assert report["child"]["error"] == "StoreError"
    assert "forked" in report["child"]["message"]
    assert "factory" in report["child"]["message"]
    assert report["parent"]["after"]["n"] == 3  # the parent's bridge is unaffected


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
def test_a_bridge_closed_before_the_fork_builds_a_store_of_its_own_in_the_child(
    kind: str, tmp_path: Path
) -> None:
    """The parent used the bridge and closed it: the child calls the factory again rather than
    reopening its copy of the parent's store; the parent goes on with its own.
    """
    report = run_fork_script("factory", store_url(kind, tmp_path), warm="closed")
    child, parent = report["child"], report["parent"]
    assert "error" not in child, child
    assert child["built_here"] == 1
    assert child["parent"]["n"] == 1  # the shared backend kept what the parent wrote
    assert parent["after"]["n"] == 3
    assert parent["child"]["n"] == 2
