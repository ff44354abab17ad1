"""OneWriterPerSid: one write per sid at a time, across every event loop of the process.

(The store's conditional writes rely on it on SurrealDB's in-memory and SurrealKV storage:
``test_conditional_races.py``.)
"""

from __future__ import annotations

import asyncio
import threading

from connectstore_surrealdb.one_writer import OneWriterPerSid

BOUND = 60.0  # seconds: a hang fails, slowness does not


class Overlap:
    """Counts the writes inside their turn at once (thread-safe), and the most ever seen."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.now = 0
        self.most = 0

    def enter(self) -> None:
        with self._lock:
            self.now += 1
            self.most = max(self.most, self.now)

    def leave(self) -> None:
        with self._lock:
            self.now -= 1


async def write(writers: OneWriterPerSid, sid: str, overlap: Overlap, log: list[str], name: str) -> None:
    async with writers.turn(sid):
        overlap.enter()
        await asyncio.sleep(0.001)  # widens the window an overlap would need; asserts no timing
        log.append(name)
        overlap.leave()


def test_writes_to_one_sid_from_loops_in_several_threads_never_overlap() -> None:
    writers, overlap, log = OneWriterPerSid(), Overlap(), list[str]()

    async def many(thread: int) -> None:
        await asyncio.gather(*(write(writers, "sid", overlap, log, f"{thread}.{i}") for i in range(50)))

    threads = [threading.Thread(target=asyncio.run, args=(many(t),)) for t in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(BOUND)
        assert not thread.is_alive()
    assert len(log) == 200
    assert overlap.most == 1
    assert not writers._waiting  # nothing held once every write is done


async def test_turns_come_in_arrival_order_and_other_sids_do_not_wait() -> None:
    writers, log = OneWriterPerSid(), list[str]()
    holding = asyncio.Event()
    release = asyncio.Event()

    async def holder() -> None:
        async with writers.turn("a"):
            holding.set()
            await release.wait()
            log.append("holder")

    async def follower(name: str) -> None:
        async with writers.turn("a"):
            log.append(name)

    held = asyncio.create_task(holder())
    await holding.wait()
    followers = [asyncio.create_task(follower(f"f{i}")) for i in range(3)]
    async with writers.turn("b"):  # another sid goes at once
        log.append("b")
    release.set()
    await asyncio.wait_for(asyncio.gather(held, *followers), BOUND)
    assert log == ["b", "holder", "f0", "f1", "f2"]


async def test_a_cancelled_waiter_neither_takes_nor_loses_the_turn() -> None:
    writers, log = OneWriterPerSid(), list[str]()
    release = asyncio.Event()

    async def holder() -> None:
        async with writers.turn("a"):
            await release.wait()

    async def follower(name: str) -> None:
        async with writers.turn("a"):
            log.append(name)

    held = asyncio.create_task(holder())
    await asyncio.sleep(0)
    cancelled = asyncio.create_task(follower("cancelled"))
    last = asyncio.create_task(follower("last"))
    await asyncio.sleep(0)
    cancelled.cancel()
    release.set()
    await asyncio.wait_for(asyncio.gather(held, last), BOUND)
    assert cancelled.cancelled()
    assert log == ["last"]
    assert not writers._waiting


async def test_a_waiter_whose_loop_closed_is_skipped() -> None:
    """A write queued from a loop that was then closed without finishing it: the turn goes on."""
    writers, log = OneWriterPerSid(), list[str]()
    release = asyncio.Event()

    async def holder() -> None:
        async with writers.turn("a"):
            await release.wait()

    held = asyncio.create_task(holder())
    await asyncio.sleep(0)

    def abandon() -> None:
        loop = asyncio.new_event_loop()

        async def queued() -> None:
            async with writers.turn("a"):
                log.append("abandoned")

        task = loop.create_task(queued())
        loop.run_until_complete(asyncio.sleep(0))  # the task is now waiting for its turn
        assert not task.done()
        loop.set_exception_handler(lambda _loop, _context: None)  # "Task was destroyed...": the point
        loop.close()  # closed without cancelling it

    thread = threading.Thread(target=abandon)
    thread.start()
    thread.join(BOUND)
    release.set()
    await asyncio.wait_for(held, BOUND)
    async with writers.turn("a"):
        log.append("next")
    assert log == ["next"]
    assert not writers._waiting


async def test_the_turn_of_a_write_whose_loop_closed_goes_to_the_next() -> None:
    """A write that took its turn on a loop then closed mid-write (never cancelled) holds it
    no longer: the next write to come takes it.
    """
    writers = OneWriterPerSid()

    def abandon() -> None:
        loop = asyncio.new_event_loop()

        async def holder() -> None:
            async with writers.turn("a"):
                await asyncio.Event().wait()  # never set: mid-write forever

        task = loop.create_task(holder())
        loop.run_until_complete(asyncio.sleep(0))  # the task now holds the turn
        assert not task.done()
        loop.set_exception_handler(lambda _loop, _context: None)  # "Task was destroyed...": the point
        loop.close()

    thread = threading.Thread(target=abandon)
    thread.start()
    thread.join(BOUND)
    assert "a" in writers._waiting

    async def write() -> None:
        async with writers.turn("a"):
            pass

    await asyncio.wait_for(write(), BOUND)
    assert not writers._waiting
