"""SQLiteStore and event loops: any loop may call it, and no store keeps a process alive."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from connectstore import StoreError
from connectstore_sqlite import SQLiteStore
from tests.counter_app import counter_app

from .helpers import T0, FakeClock, raw_rows, session_at

with warnings.catch_warnings():
    # Starlette >= 1.x prefers httpx2 for its test client and warns when it falls back to
    # httpx (what uv.lock installs); the client works the same with either.
    warnings.filterwarnings("ignore", "Using `httpx` with `starlette.testclient`", UserWarning)
    from starlette.testclient import TestClient

REPO = Path(__file__).resolve().parents[2]
BOUND = 60.0  # seconds: generous, a hang fails the test, slowness does not


def test_starlette_test_client_without_with_runs_each_request_on_a_new_loop(db_path: Path) -> None:
    store = SQLiteStore(db_path)
    client = TestClient(counter_app(store))  # no `with`: every request runs on a new event loop
    try:
        assert [client.get("/").json()["views"] for _ in range(3)] == [1, 2, 3]
    finally:
        asyncio.run(store.close())
    assert raw_rows(db_path, "SELECT count(*) FROM sessions") == [(1,)]


def test_asyncio_run_twice_on_one_store_and_the_sweep_runs_on_the_new_loop(db_path: Path) -> None:
    clock = FakeClock()
    store = SQLiteStore(db_path, clock=clock, sweep_interval=0.05)
    asyncio.run(store.set("a", session_at(T0 + 1000, n=1)))

    async def second_run() -> None:
        assert (await store.get("a") or {})["n"] == 1
        await store.set("b", session_at(T0 + 60_000, n=2))
        clock.now = T0 + 1000  # "a" expires: the sweep of this loop deletes it
        await wait_for(lambda: raw_rows(db_path, "SELECT sid FROM sessions") == [("b",)], "the sweep")
        await store.close()

    asyncio.run(second_run())


def test_new_loop_after_a_loop_closed_without_running_its_tasks(db_path: Path) -> None:
    """What pytest-asyncio does between tests: the first loop is closed with the store's task pending."""
    store = SQLiteStore(db_path)
    first = asyncio.new_event_loop()
    try:
        first.run_until_complete(store.set("a", session_at(None, n=1)))
    finally:
        first.close()

    async def use_and_close() -> None:
        assert (await store.get("a") or {})["n"] == 1
        await store.set("a", session_at(None, n=2))
        await store.close()

    asyncio.run(use_and_close())
    assert 'n":2' in raw_rows(db_path, "SELECT sess FROM sessions")[0][0]


@pytest.fixture
def loop_in_another_thread() -> Iterator[asyncio.AbstractEventLoop]:
    """An event loop running in a thread of its own until the test ends."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield loop
    loop.call_soon_threadsafe(loop.stop)
    thread.join(BOUND)
    loop.close()


async def test_a_loop_still_running_elsewhere_makes_another_loop_fail_at_once(
    db_path: Path, loop_in_another_thread: asyncio.AbstractEventLoop
) -> None:
    store = SQLiteStore(db_path, sweep_interval=None)
    there = asyncio.run_coroutine_threadsafe(store.set("a", session_at(None, n=1)), loop_in_another_thread)
    await asyncio.wrap_future(there)
    with pytest.raises(StoreError, match="another event loop, still running in another thread"):
        await store.get("a")
    await store.close()  # close works from any loop, and stops the other loop's task
    assert (await store.get("a") or {})["n"] == 1, "the next call reopens, on this loop"
    await store.close()


async def wait_for(condition: object, what: str) -> None:
    """Poll ``condition()`` until it is true; fail after :data:`BOUND` seconds (a hang, not speed)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + BOUND
    while not condition():  # type: ignore[operator]
        if loop.time() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


# -- no store keeps a process alive: each scenario runs in a child process ------------------

CHILD_PRELUDE = """
import asyncio, gc, sys, threading, time
from connectstore_sqlite import SQLiteStore
from tests.counter_app import counter_app

def store_threads():
    return [t for t in threading.enumerate() if t.name.startswith("connectstore-sqlite")]

def wait_no_store_thread():
    deadline = time.monotonic() + 30
    while store_threads():
        if time.monotonic() > deadline:
            sys.exit("a store thread is still running: " + repr(store_threads()))
        time.sleep(0.01)
        gc.collect()  # whenever the garbage collector runs (a statement may still have been running)

async def use(store):
    await store.set("a", {"cookie": {"expires": None}, "n": 1})
    assert (await store.get("a"))["n"] == 1

store = SQLiteStore(sys.argv[1], sweep_interval=SWEEP_INTERVAL)
"""

CHILD_SCENARIOS = {
    "loop-closed-without-running-tasks-then-close": """
        loop = asyncio.new_event_loop()
        loop.run_until_complete(use(store))
        loop.close()  # the store's task never ran to its end (pytest-asyncio, a plain loop.close())
        asyncio.run(store.close())
        wait_no_store_thread()
    """,
    "loop-closed-without-running-tasks-never-closed": """
        loop = asyncio.new_event_loop()
        loop.run_until_complete(use(store))
        loop.close()
        assert store_threads(), "the connection's thread is still there at exit"
    """,
    "loop-closed-without-running-tasks-garbage-collected": """
        loop = asyncio.new_event_loop()
        loop.run_until_complete(use(store))
        loop.close()
        del store, loop
        gc.collect()
        wait_no_store_thread()
    """,
    "asyncio-run-never-closed": """
        asyncio.run(use(store))
        wait_no_store_thread()  # the loop's end released the connection
        asyncio.run(use(store))  # and the next loop opens it again
    """,
    "close-from-another-loop-while-the-first-is-open": """
        first = asyncio.new_event_loop()
        first.run_until_complete(use(store))
        asyncio.run(store.close())  # another loop; the first is stopped but not closed
        wait_no_store_thread()
        first.close()
    """,
    "close-from-another-thread-while-the-first-loop-runs": """
        first = asyncio.new_event_loop()
        runner = threading.Thread(target=first.run_forever)
        runner.start()
        asyncio.run_coroutine_threadsafe(use(store), first).result(30)
        asyncio.run(store.close())
        wait_no_store_thread()
        first.call_soon_threadsafe(first.stop)
        runner.join(30)
        first.close()
    """,
}


@pytest.mark.parametrize("sweep_interval", [3600, None], ids=["sweep", "no-sweep"])
@pytest.mark.parametrize("scenario", sorted(CHILD_SCENARIOS))
def test_no_store_keeps_its_process_alive(db_path: Path, scenario: str, sweep_interval: float | None) -> None:
    code = (
        textwrap.dedent(CHILD_PRELUDE).replace("SWEEP_INTERVAL", repr(sweep_interval))
        + textwrap.dedent(CHILD_SCENARIOS[scenario])
        + 'print("done")\n'
    )
    result = subprocess.run(  # the timeout catches a process that would not exit
        [sys.executable, "-c", code, str(db_path)],
        capture_output=True,
        text=True,
        timeout=BOUND,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "done"
    assert "Traceback" not in result.stderr, result.stderr
    assert raw_rows(db_path, "SELECT sid FROM sessions") == [("a",)]


def test_a_store_open_when_the_process_forks_opens_its_own_connection_in_the_child(db_path: Path) -> None:
    """gunicorn --preload and the like fork after the app (and its store) ran: the child works."""
    code = textwrap.dedent(CHILD_PRELUDE).replace("SWEEP_INTERVAL", "3600") + textwrap.dedent(
        """
        import os, signal
        first = asyncio.new_event_loop()
        first.run_until_complete(use(store))  # open, with its thread, when the process forks
        pid = os.fork()
        if pid == 0:
            signal.alarm(60)  # a hang in the child ends it (and fails the test)
            async def child():
                await store.set("child", {"cookie": {"expires": None}, "n": 2})
                assert (await store.get("a"))["n"] == 1
                await store.close()
            asyncio.run(child())
            os._exit(0)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0, status
        first.run_until_complete(store.get("child"))  # the parent's connection is untouched
        first.run_until_complete(store.close())
        first.close()
        print("done")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(db_path)], capture_output=True, text=True, timeout=BOUND, cwd=REPO
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "done"
    assert sorted(raw_rows(db_path, "SELECT sid FROM sessions")) == [("a",), ("child",)]
