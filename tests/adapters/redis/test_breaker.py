"""Failing fast whatever client the application passes: the circuit breaker.

A ``Redis(port=...)`` built with redis-py's defaults retries with backoff, so each call to
a dead Redis takes the store's whole timeout. Once the store has seen Redis down, calls
fail at once with StoreUnavailableError while one probe at a time checks for recovery;
service resumes once Redis is back and nothing acknowledged is lost. Asserted on
behaviour (which failures ran a Redis call, what is readable afterwards), not on times.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from redis.asyncio import Redis

from connectstore import StoreUnavailableError
from connectstore_conformance import make_session
from connectstore_redis import RedisStore
from tests.adapters.redis.servers import RedisServer

WRITERS = 32
BOUND = 60.0  # seconds for any condition to come true: a hang fails, slowness does not


async def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + BOUND
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


async def test_a_default_user_client_fails_fast_during_an_outage_and_loses_nothing() -> None:
    with tempfile.TemporaryDirectory(prefix="connectstore-redis-breaker-") as folder:
        server = RedisServer(Path(folder), durable=True)  # SIGKILL loses nothing acknowledged
        server.start()
        client = Redis(host="127.0.0.1", port=server.port)  # redis-py's defaults: retries, backoff
        store = RedisStore(client, prefix="breaker:")
        acknowledged: dict[str, int] = {}
        fast: list[StoreUnavailableError] = []  # failed without running a Redis call
        slow: list[StoreUnavailableError] = []  # failed in a Redis call
        phase = {"down": False, "served_after": 0}
        stop = asyncio.Event()

        async def writer(w: int) -> None:
            n = 0
            while not stop.is_set():
                n += 1
                sid = f"w{w}-{n}"
                try:
                    await store.set(sid, make_session(w=w, n=n))
                except StoreUnavailableError as exc:
                    (fast if "failing fast" in str(exc) else slow).append(exc)
                    await asyncio.sleep(0.01)
                else:
                    acknowledged[sid] = n
                    if phase["down"]:
                        phase["served_after"] += 1
                    await asyncio.sleep(0.005)

        try:
            tasks = [asyncio.create_task(writer(w)) for w in range(WRITERS)]
            await wait_until(lambda: len(acknowledged) >= 200, "writes before the outage")
            server.kill()
            phase["down"] = True
            await wait_until(lambda: len(fast) >= 500 and store.breaker.is_open, "calls failing fast")
            assert len(slow) < len(fast), "most failures did not run a Redis call"
            server.start()  # same port, the append-only file brings the data back
            await wait_until(lambda: phase["served_after"] >= WRITERS, "service to resume")
            assert not store.breaker.is_open
            stop.set()
            await asyncio.gather(*tasks)
            for sid, n in acknowledged.items():
                got = await store.get(sid)
                assert got is not None, f"acknowledged write {sid} was lost"
                assert got["n"] == n
            await store.clear()
        finally:
            stop.set()
            await client.aclose()
            server.stop()
