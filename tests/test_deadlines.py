"""connectstore.deadlines: one sweep per loop bounds every watched call."""

from __future__ import annotations

import asyncio
import sys

import pytest

from connectstore.deadlines import Deadlines

pytestmark = pytest.mark.skipif(sys.version_info < (3, 11), reason="Task.uncancel is Python 3.11+")


async def _watched(deadlines: Deadlines, seconds: float, work: asyncio.Future[None] | float) -> str:
    """Run ``work`` (a future to wait for, or a sleep) under a deadline ``seconds`` away;
    "late" when the sweep cancelled it, "done" when it finished.
    """
    task = asyncio.current_task()
    assert task is not None
    token = deadlines.start(task, task.get_loop().time() + seconds)
    try:
        if isinstance(work, asyncio.Future):
            await work
        else:
            await asyncio.sleep(work)
    except asyncio.CancelledError:
        if deadlines.finish(token):
            # nothing is left of the sweep's cancellation: the task may go on awaiting
            assert task.cancelling() == 0  # type: ignore[attr-defined,unused-ignore]
            await asyncio.sleep(0)
            return "late"
        raise
    deadlines.finish(token)
    return "done"


async def test_a_call_past_its_deadline_is_cancelled_and_told_apart() -> None:
    deadlines = Deadlines(0.01)
    never: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    assert await asyncio.wait_for(_watched(deadlines, 0.05, never), 30) == "late"


async def test_a_call_within_its_deadline_is_left_alone() -> None:
    deadlines = Deadlines(0.01)
    assert await _watched(deadlines, 30, 0.05) == "done"


async def test_a_cancellation_from_elsewhere_goes_through() -> None:
    deadlines = Deadlines(0.01)
    never: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    task = asyncio.ensure_future(_watched(deadlines, 30, never))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_only_overdue_calls_are_cancelled_among_many() -> None:
    deadlines = Deadlines(0.01)
    loop = asyncio.get_running_loop()
    never = [loop.create_future() for _ in range(5)]
    late = [asyncio.ensure_future(_watched(deadlines, 0.05, future)) for future in never]
    slow_but_in_time = [asyncio.ensure_future(_watched(deadlines, 30, 0.2)) for _ in range(5)]
    results = await asyncio.wait_for(asyncio.gather(*late, *slow_but_in_time), 30)
    assert results == ["late"] * 5 + ["done"] * 5


async def test_the_sweep_stops_when_no_call_is_in_flight() -> None:
    deadlines = Deadlines(0.01)
    assert await _watched(deadlines, 30, 0) == "done"
    loop = asyncio.get_running_loop()
    for _ in range(100):  # the sweep that was armed runs once more, finds nothing, and stops
        if deadlines._timer is None:
            break
        await asyncio.sleep(0.01)
    assert deadlines._timer is None
    assert not loop.is_closed()


async def test_close_stops_the_sweep() -> None:
    deadlines = Deadlines(10)
    never: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    task = asyncio.ensure_future(_watched(deadlines, 30, never))
    await asyncio.sleep(0)
    assert deadlines._timer is not None
    deadlines.close()
    assert deadlines._timer is None
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


def test_the_tick_must_be_positive() -> None:
    with pytest.raises(ValueError, match="tick"):
        Deadlines(0)


def test_a_deadlines_object_outliving_its_loop_sweeps_on_the_next() -> None:
    deadlines = Deadlines(0.01)

    async def leave_a_sweep_armed() -> None:
        task = asyncio.current_task()
        assert task is not None
        deadlines.start(task, task.get_loop().time() + 30)  # never finished: the loop just ends

    first = asyncio.new_event_loop()
    first.run_until_complete(leave_a_sweep_armed())
    first.close()  # its armed sweep will never run

    async def stalled() -> str:
        never: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        return await asyncio.wait_for(_watched(deadlines, 0.05, never), 30)

    assert asyncio.run(stalled()) == "late"
