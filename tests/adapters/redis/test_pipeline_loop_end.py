"""The auto-pipeline's reader task and the end of its event loop, however the loop ends.

An idle pipeline has no task: a loop closed without ``shutdown_asyncgens`` or a loop still
running in a daemon thread when the process exits (Django's and Flask's process-wide
``BlockingStore``) leaves nothing pending. A reader destroyed while a command is in flight,
with no loop running, ends without touching the loop. All on real redis-servers.
"""

from __future__ import annotations

import asyncio
import gc
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from connectstore_conformance import make_session
from connectstore_redis import RedisStore
from tests.adapters.redis.conftest import unique_prefix
from tests.adapters.redis.servers import RedisServer

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def unraisable() -> Iterator[list[Any]]:
    """The exceptions Python reports as "Exception ignored in ..." while the test runs."""
    seen: list[Any] = []
    previous = sys.unraisablehook
    sys.unraisablehook = seen.append
    try:
        yield seen
    finally:
        sys.unraisablehook = previous


@pytest.mark.parametrize("owned", [False, True], ids=["users-client", "own-client"])
def test_a_loop_closed_without_shutdown_is_left_no_pending_task(shared_redis: str, owned: bool) -> None:
    """run_until_complete, then close(): no ``shutdown_asyncgens``, no ``store.close()``."""
    from redis.asyncio import Redis

    loop = asyncio.new_event_loop()
    prefix = unique_prefix()

    async def use() -> None:
        store = (
            RedisStore.from_url(shared_redis, prefix=prefix)
            if owned
            else RedisStore(Redis.from_url(shared_redis), prefix=prefix)
        )
        await asyncio.gather(*(store.set(f"s{i}", make_session(i=i)) for i in range(5)))
        assert (await store.get("s1") or {}).get("i") == 1
        await asyncio.sleep(0.05)  # the pipeline's connection opens in the background
        assert (await store.get("s2") or {}).get("i") == 2
        await store.clear()

    try:
        loop.run_until_complete(use())
        assert not asyncio.all_tasks(loop), "no task of the store's is left pending"
    finally:
        loop.close()


def test_a_daemon_threads_loop_at_process_exit_prints_nothing(shared_redis: str) -> None:
    """A process-wide BlockingStore that is never closed (as Django's bridge): the process
    exits while its loop still runs, and no "Task was destroyed" or traceback is printed.
    """
    script = textwrap.dedent(
        f"""
        import time
        from connectstore import BlockingStore
        from connectstore_conformance import make_session
        from connectstore_redis import RedisStore

        store = BlockingStore(RedisStore.from_url({shared_redis!r}, prefix={unique_prefix()!r}))
        for i in range(20):
            store.set(f"s{{i}}", make_session(i=i))
            assert store.get(f"s{{i}}")["i"] == i
            time.sleep(0.005)  # the pipeline's connection opens meanwhile
        store.clear()
        print("done")
        """
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=env, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "done"
    assert "Task was destroyed" not in done.stderr, done.stderr
    assert "Traceback" not in done.stderr, done.stderr


def test_a_reader_destroyed_mid_command_without_a_loop_reports_nothing(
    own_redis: RedisServer, unraisable: list[Any]
) -> None:
    """The loop is closed while a command waits on a stopped server; when the reader task is
    then collected, its coroutine is closed with no loop running: no error is raised from it.
    """
    assert own_redis.process is not None
    pid = own_redis.process.pid
    loop = asyncio.new_event_loop()
    loop.set_exception_handler(lambda loop, context: None)  # "Task was destroyed": expected here
    held: dict[str, Any] = {"store": RedisStore.from_url(own_redis.url, prefix="p:", timeout=30)}

    async def warm(store: RedisStore) -> None:
        await store.set("s", make_session(v=1))
        await asyncio.sleep(0.05)  # the pipeline's connection opens in the background
        assert await store.get("s") is not None

    loop.run_until_complete(warm(held["store"]))
    os.kill(pid, signal.SIGSTOP)
    try:
        task = held["task"] = loop.create_task(held["store"].get("s"))
        loop.run_until_complete(asyncio.sleep(0.1))  # written; the reader waits for the reply
        assert not task.done()
        assert [t for t in asyncio.all_tasks(loop) if t is not task], "a reader task waits for the reply"
        loop.close()
        del task
        held.clear()  # the store, its pipeline and both pending tasks become garbage
        gc.collect()
    finally:
        os.kill(pid, signal.SIGCONT)
    errors = [hook.exc_value for hook in unraisable if "AutoPipeline" in repr(hook.object)]
    assert not errors, errors
