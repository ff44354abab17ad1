"""CircuitBreaker: fail fast while the backend is down, one probe at a time, close on an answer."""

from __future__ import annotations

import asyncio

import pytest

from connectstore import CircuitBreaker, StoreError, StoreUnavailableError

FOREVER = 3600.0
"""A retry interval no test outlives: the breaker stays open without a probe."""


class Backend:
    """A backend stand-in that is up or down and counts the calls that reached it."""

    def __init__(self) -> None:
        self.up = True
        self.calls = 0

    async def answer(self) -> str:
        self.calls += 1
        if not self.up:
            raise StoreUnavailableError("connection refused")
        return "answer"


async def fail(breaker: CircuitBreaker, backend: Backend, times: int) -> None:
    for _ in range(times):
        with pytest.raises(StoreUnavailableError):
            await breaker.call(backend.answer)


async def test_it_opens_after_the_threshold_and_then_spares_the_backend() -> None:
    backend = Backend()
    breaker = CircuitBreaker("Redis at 127.0.0.1:1", failure_threshold=3, retry_interval=FOREVER)
    backend.up = False
    await fail(breaker, backend, 2)
    assert not breaker.is_open
    await fail(breaker, backend, 1)
    assert breaker.is_open
    assert backend.calls == 3
    with pytest.raises(StoreUnavailableError) as caught:
        await breaker.call(backend.answer)
    assert backend.calls == 3  # failed fast: the backend was not asked
    message = str(caught.value)
    assert "Redis at 127.0.0.1:1 is unavailable" in message
    assert "connection refused" in message
    assert "open" in repr(breaker)


async def test_a_success_or_an_answer_with_another_error_resets_the_count() -> None:
    backend = Backend()
    breaker = CircuitBreaker(failure_threshold=2, retry_interval=FOREVER)
    backend.up = False
    await fail(breaker, backend, 1)
    backend.up = True
    assert await breaker.call(backend.answer) == "answer"
    backend.up = False
    await fail(breaker, backend, 1)

    async def refuses() -> None:
        raise StoreError("the backend answered: no")

    with pytest.raises(StoreError, match="answered"):
        await breaker.call(refuses)
    await fail(breaker, backend, 1)
    assert not breaker.is_open


async def test_a_probe_closes_it_when_the_backend_is_back() -> None:
    backend = Backend()
    breaker = CircuitBreaker(failure_threshold=1, retry_interval=0)
    backend.up = False
    await fail(breaker, backend, 1)
    assert breaker.is_open
    await fail(breaker, backend, 1)  # with no interval, this call is the probe and fails
    assert backend.calls == 2
    backend.up = True
    assert await breaker.call(backend.answer) == "answer"
    assert not breaker.is_open


async def test_only_one_probe_at_a_time() -> None:
    breaker = CircuitBreaker(failure_threshold=1, retry_interval=0)
    backend = Backend()
    backend.up = False
    await fail(breaker, backend, 1)
    release = asyncio.Event()
    started = asyncio.Event()

    async def slow_probe() -> str:
        started.set()
        await release.wait()
        return "back"

    probe = asyncio.create_task(breaker.call(slow_probe))
    await started.wait()
    backend.up = True
    with pytest.raises(StoreUnavailableError):
        await breaker.call(backend.answer)  # a probe is in flight: fail fast
    assert backend.calls == 1
    release.set()
    assert await probe == "back"
    assert await breaker.call(backend.answer) == "answer"


async def test_a_cancelled_probe_frees_the_slot_and_changes_nothing() -> None:
    breaker = CircuitBreaker(failure_threshold=1, retry_interval=0)
    backend = Backend()
    backend.up = False
    await fail(breaker, backend, 1)
    started = asyncio.Event()

    async def hangs() -> str:
        started.set()
        await asyncio.Event().wait()
        return "never"

    probe = asyncio.create_task(breaker.call(hangs))
    await started.wait()
    probe.cancel()
    with pytest.raises(asyncio.CancelledError):
        await probe
    assert breaker.is_open
    backend.up = True
    assert await breaker.call(backend.answer) == "answer"  # the next call may probe


async def test_no_factory_runs_while_it_fails_fast() -> None:
    breaker = CircuitBreaker(failure_threshold=1, retry_interval=FOREVER)
    backend = Backend()
    backend.up = False
    await fail(breaker, backend, 1)
    made: list[int] = []

    def factory() -> asyncio.Future[str]:
        made.append(1)
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        future.set_result("x")
        return future

    with pytest.raises(StoreUnavailableError):
        await breaker.call(factory)
    assert made == []
    breaker.reset()
    assert await breaker.call(factory) == "x"


def test_one_breaker_serves_several_event_loops() -> None:
    breaker = CircuitBreaker(failure_threshold=1, retry_interval=FOREVER)
    backend = Backend()
    backend.up = False
    with pytest.raises(StoreUnavailableError):
        asyncio.run(breaker.call(backend.answer))
    with pytest.raises(StoreUnavailableError):
        asyncio.run(breaker.call(backend.answer))
    assert backend.calls == 1


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"failure_threshold": 0}, ValueError),
        ({"failure_threshold": True}, TypeError),
        ({"failure_threshold": 1.5}, TypeError),
        ({"retry_interval": -1}, ValueError),
        ({"retry_interval": float("nan")}, ValueError),
        ({"retry_interval": float("inf")}, ValueError),
        ({"retry_interval": "1"}, TypeError),
    ],
)
def test_bad_options_are_refused(options: dict[str, object], error: type[Exception]) -> None:
    with pytest.raises(error):
        CircuitBreaker(**options)  # type: ignore[arg-type]
