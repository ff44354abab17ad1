"""The shared background sweep: runs on the store's loop, survives errors, stops, restarts on a new loop."""

from __future__ import annotations

import asyncio
import logging
import math

import pytest

from connectstore.sweep import Sweep, check_sweep_interval


class Counter:
    """A prune coroutine that counts its calls and fails when told to."""

    def __init__(self, fail_first: int = 0) -> None:
        self.calls = 0
        self.fail_first = fail_first
        self.called = asyncio.Event()

    async def __call__(self) -> int:
        self.calls += 1
        self.called.set()
        if self.calls <= self.fail_first:
            raise OSError("disk on fire")
        return 1


async def wait_for_calls(counter: Counter, calls: int) -> None:
    while counter.calls < calls:
        counter.called.clear()
        await asyncio.wait_for(counter.called.wait(), timeout=30)


def test_the_interval_is_checked() -> None:
    assert check_sweep_interval(None) is None
    assert check_sweep_interval(5) == 5.0
    for bad in (0, -1, math.inf, math.nan):
        with pytest.raises(ValueError, match="sweep_interval must be a positive number"):
            check_sweep_interval(bad)
    with pytest.raises(TypeError, match="cleanup must be a number"):
        check_sweep_interval("5", name="cleanup")
    with pytest.raises(TypeError):
        check_sweep_interval(True)
    with pytest.raises(ValueError, match="jitter"):
        Sweep(Counter(), 1.0, name="x", jitter=1.0)


async def test_no_interval_means_no_task() -> None:
    sweep = Sweep(Counter(), None, name="x")
    sweep.ensure_started()
    assert not sweep.running
    await sweep.stop()


async def test_it_sweeps_again_and_again_and_an_error_costs_one_tick(
    caplog: pytest.LogCaptureFixture,
) -> None:
    counter = Counter(fail_first=1)
    sweep = Sweep(counter, 0.01, name="Store(x)", immediately=True)
    with caplog.at_level(logging.WARNING, logger="connectstore"):
        sweep.ensure_started()
        sweep.ensure_started()  # already running: no second task
        await wait_for_calls(counter, 3)
    assert sweep.running
    assert "Store(x): sweeping expired sessions failed" in caplog.text
    await sweep.stop()
    assert not sweep.running
    calls = counter.calls
    await asyncio.sleep(0.05)
    assert counter.calls == calls


async def test_without_immediately_it_waits_one_interval_first() -> None:
    counter = Counter()
    sweep = Sweep(counter, 3600, name="x")
    sweep.ensure_started()
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert sweep.running
    assert counter.calls == 0
    await sweep.stop()


def test_a_new_loop_gets_a_new_task() -> None:
    counter = Counter()
    sweep = Sweep(counter, 3600, name="x", immediately=True)

    async def start() -> None:
        counter.called = asyncio.Event()
        sweep.ensure_started()
        await wait_for_calls(counter, counter.calls + 1)

    asyncio.run(start())
    assert not sweep.running  # its loop has ended
    asyncio.run(start())
    assert counter.calls == 2
