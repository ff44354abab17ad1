"""BlockingStore's hand-off to its loop: what a call gives back to the thread that made it
(result, exception, cancellation, timeout), whichever threads call at once.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from connectstore import BlockingStore, MemoryStore, StoreUnavailableError


class Failure(Exception):
    """Raised by a coroutine on the bridge's loop."""


def test_each_thread_gets_its_own_results_back() -> None:
    """Calls from many threads at once, each suspending on the loop, never cross results."""
    with BlockingStore(MemoryStore()) as bridge:

        async def echo(thread: int, i: int) -> tuple[int, int, int]:
            await asyncio.sleep(0)  # other threads' coroutines run meanwhile
            return thread, i, threading.get_ident()

        def work(thread: int) -> set[int]:
            loop_threads = set()
            for i in range(300):
                got_thread, got_i, loop_thread = bridge.run(echo(thread, i))
                assert (got_thread, got_i) == (thread, i)
                loop_threads.add(loop_thread)
            return loop_threads

        with ThreadPoolExecutor(8) as pool:
            seen = set().union(*pool.map(work, range(8)))
        assert len(seen) == 1  # every coroutine ran on the bridge's one loop thread
        assert seen != {threading.get_ident()}


def test_an_exception_reaches_the_caller_as_raised_and_the_bridge_goes_on() -> None:
    with BlockingStore(MemoryStore()) as bridge:

        async def fail() -> None:
            await asyncio.sleep(0)
            raise Failure("on the loop")

        with pytest.raises(Failure, match=r"^on the loop$") as caught:
            bridge.run(fail())
        assert any(frame.name == "fail" for frame in caught.traceback)  # the loop side's frames
        bridge.set("a", {"cookie": {}})
        assert bridge.get("a") == {"cookie": {}}


def test_a_coroutine_cancelled_on_the_loop_raises_a_cancelled_error() -> None:
    """As the future of ``asyncio.run_coroutine_threadsafe`` did: ``concurrent.futures.CancelledError``."""
    with BlockingStore(MemoryStore()) as bridge:

        async def cancelled() -> None:
            raise asyncio.CancelledError

        with pytest.raises(concurrent.futures.CancelledError):
            bridge.run(cancelled())
        assert bridge.length() == 0


def test_a_call_past_the_timeout_is_cancelled_on_the_loop() -> None:
    with BlockingStore(MemoryStore(), timeout=0.1) as bridge:
        ended = threading.Event()
        outcome: list[str] = []

        async def hang() -> None:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                outcome.append("cancelled")
                raise
            finally:
                ended.set()

        with pytest.raises(StoreUnavailableError, match=r"did not answer within 0\.1 s"):
            bridge.run(hang())
        assert ended.wait(10)
        assert outcome == ["cancelled"]
        assert bridge.run(asyncio.sleep(0, "still answers")) == "still answers"


def test_no_timeout_waits_as_long_as_the_call_takes() -> None:
    with BlockingStore(MemoryStore(), timeout=None) as bridge:
        assert bridge.run(asyncio.sleep(0.05, "done")) == "done"


REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="none")


def test_the_coroutine_runs_in_a_copy_of_the_callers_context() -> None:
    """What the caller's context variables hold is seen on the loop; what the coroutine sets
    stays there.
    """
    with BlockingStore(MemoryStore()) as bridge:

        async def read_and_set() -> str:
            seen = REQUEST_ID.get()
            REQUEST_ID.set("set on the loop")
            return seen

        REQUEST_ID.set("caller's")
        assert bridge.run(read_and_set()) == "caller's"
        assert REQUEST_ID.get() == "caller's"


def test_a_loop_in_debug_mode_gets_its_calls_on_its_own_thread() -> None:
    """asyncio's debug mode refuses a task made from another thread: the call is then handed
    over as a callback, with the same outcomes.
    """
    with BlockingStore(MemoryStore(), timeout=0.2) as bridge:
        bridge.loop.set_debug(True)
        bridge.set("a", {"cookie": {}})
        assert bridge.get("a") == {"cookie": {}}

        async def fail() -> None:
            raise Failure("in debug mode")

        with pytest.raises(Failure, match="in debug mode"):
            bridge.run(fail())
        with pytest.raises(StoreUnavailableError):
            bridge.run(asyncio.sleep(3600))
        assert bridge.run(asyncio.sleep(0, "answers")) == "answers"
