"""Redis killed under load: how long failing calls take, and how soon service resumes.

Run by hand from the repository root (it starts its own redis-servers on free ports and
stops them by pid; the shared Redis on 6379 is never touched):

    .venv/bin/python -m bench.redis_outage                  # standalone and Cluster
    .venv/bin/python -m bench.redis_outage --skip-cluster   # standalone only

For each client configuration: 32 concurrent writers call ``store.set()`` in a loop on a
redis-server with an append-only file synced on every write; after 2 s the server (on a
Cluster: one primary) is SIGKILLed, and restarted on the same port 3 s later. Reported:
the failing calls and their median / p99 / max duration, how many failed at once (circuit
breaker open, no Redis call), the recovery time (from the restarted server answering PING
to the first write that succeeds after it), and acknowledged writes lost (read back at the
end; must be 0).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from redis.asyncio import Redis, RedisCluster

from connectstore import StoreUnavailableError, open_store
from connectstore_conformance import make_session
from connectstore_redis import RedisStore
from tests.adapters.redis.servers import RedisServer, command, redis_cluster

WRITERS = 32
WARM_UP = 2.0
OUTAGE = 3.0
AFTER = 2.0


@dataclass
class Run:
    """What one outage run saw."""

    failures: list[float] = field(default_factory=list)
    fast_failures: int = 0
    acknowledged: dict[str, int] = field(default_factory=dict)
    restarted_at: float | None = None
    recovered_at: float | None = None


async def outage(store: RedisStore, kill: Callable[[], None], restart: Callable[[], None]) -> Run:
    """Drive the writers through one outage of ``store``'s Redis."""
    run = Run()
    stop = asyncio.Event()

    async def writer(w: int) -> None:
        n = 0
        while not stop.is_set():
            n += 1
            sid = f"w{w}-{n}"
            started = time.monotonic()
            try:
                await store.set(sid, make_session(w=w, n=n))
            except StoreUnavailableError as exc:
                run.failures.append(time.monotonic() - started)
                run.fast_failures += "failing fast" in str(exc)
                await asyncio.sleep(0.005)
            else:
                run.acknowledged[sid] = n
                if run.restarted_at is not None and run.recovered_at is None:
                    run.recovered_at = time.monotonic()
                await asyncio.sleep(0.005)

    tasks = [asyncio.create_task(writer(w)) for w in range(WRITERS)]
    await asyncio.sleep(WARM_UP)
    kill()
    await asyncio.sleep(OUTAGE)
    await asyncio.to_thread(restart)
    run.restarted_at = time.monotonic()
    await asyncio.sleep(AFTER)
    deadline = time.monotonic() + 30
    while run.recovered_at is None and time.monotonic() < deadline:  # noqa: ASYNC110 - a bench poll
        await asyncio.sleep(0.05)
    stop.set()
    await asyncio.gather(*tasks)
    return run


async def lost(store: RedisStore, run: Run) -> int:
    """Acknowledged writes that cannot be read back (retrying while the store recovers)."""
    missing = 0
    for sid, n in run.acknowledged.items():
        for _ in range(200):
            try:
                got = await store.get(sid)
                break
            except StoreUnavailableError:
                await asyncio.sleep(0.05)
        missing += got is None or got.get("n") != n
    return missing


def report(label: str, run: Run, missing: int) -> None:
    failures = sorted(run.failures)
    recovery = (
        f"{(run.recovered_at - run.restarted_at) * 1000:,.0f}"
        if run.recovered_at is not None and run.restarted_at is not None
        else "never"
    )
    if failures:
        median = statistics.median(failures) * 1000
        p99 = failures[min(len(failures) - 1, int(len(failures) * 0.99))] * 1000
        durations = f"{median:,.1f} / {p99:,.0f} / {failures[-1] * 1000:,.0f}"
    else:
        durations = "-"
    print(
        f"| {label} | {len(run.acknowledged):,} | {len(failures):,} | {run.fast_failures:,} "
        f"| {durations} | {recovery} | {missing} |",
        flush=True,
    )


Maker = Callable[[str, int], tuple[RedisStore, Redis | None]]
"""(url, port) -> the store, and the client the bench built for it (None: the store owns it)."""


async def standalone(label: str, make: Maker) -> None:
    with tempfile.TemporaryDirectory(prefix="connectstore-outage-") as folder:
        server = RedisServer(Path(folder), durable=True)
        server.start()
        try:
            store, client = make(server.url, server.port)
            async with store:
                run = await outage(store, server.kill, server.start)
                missing = await lost(store, run)
                await store.clear()
            if client is not None:
                await client.aclose()  # the store leaves a client passed in open
            report(label, run, missing)
        finally:
            server.stop()


def user_store(url: str, port: int, failure_threshold: int = 2) -> tuple[RedisStore, Redis | None]:
    client = Redis(host="127.0.0.1", port=port)  # redis-py's defaults: retries with backoff
    return RedisStore(client, prefix="outage:", failure_threshold=failure_threshold), client


def url_store(url: str, port: int) -> tuple[RedisStore, Redis | None]:
    store = open_store(f"{url}?prefix=outage%3A")
    assert isinstance(store, RedisStore)
    return store, None


async def cluster(label: str, user_client: bool) -> None:
    with redis_cluster(primaries=3) as nodes:
        for node in nodes:  # durable from here on: a SIGKILLed primary comes back with its data
            command(node.port, "CONFIG", "SET", "appendonly", "yes")
            command(node.port, "CONFIG", "SET", "appendfsync", "always")
            node.durable = True
        victim = nodes[1]
        if user_client:
            store = RedisStore(RedisCluster(host="127.0.0.1", port=nodes[0].port), prefix="outage:")
        else:
            made = open_store(f"redis+cluster://127.0.0.1:{nodes[0].port}?prefix=outage%3A")
            assert isinstance(made, RedisStore)
            store = made

        def restart() -> None:
            victim.start()
            deadline = time.monotonic() + 60
            while not all("cluster_state:ok" in command(n.port, "CLUSTER", "INFO") for n in nodes):
                if time.monotonic() > deadline:
                    raise RuntimeError("the cluster did not heal")
                time.sleep(0.02)

        async with store:
            run = await outage(store, victim.kill, restart)
            missing = await lost(store, run)
            await store.clear()
        if user_client:
            await store.client.aclose()
        report(label, run, missing)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-cluster", action="store_true")
    parser.add_argument("--only-cluster", action="store_true")
    args = parser.parse_args()
    print(
        "| client | acknowledged writes | failed calls | failed at once (no Redis call) "
        "| failing call median / p99 / max ms | recovery ms | acknowledged lost |"
    )
    print("|---|---|---|---|---|---|---|")
    if args.only_cluster:
        args.skip_standalone = True
    else:
        args.skip_standalone = False
    if not args.skip_standalone:
        await standalones()
    if not args.skip_cluster:
        await cluster("Cluster (one of 3 primaries killed), `RedisStore(RedisCluster(...))`", True)
        await cluster('Cluster (one of 3 primaries killed), `open_store("redis+cluster://...")`', False)


async def standalones() -> None:
    await standalone("standalone, `RedisStore(Redis(port=...))` (redis-py defaults)", user_store)
    await standalone(
        "standalone, the same without the breaker (`failure_threshold=10**9`)",
        lambda url, port: user_store(url, port, failure_threshold=10**9),
    )
    await standalone('standalone, `open_store("redis://...")`', url_store)


if __name__ == "__main__":
    asyncio.run(main())
