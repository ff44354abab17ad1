"""Benchmark of connectstore-redis against raw redis-py, on a redis-server of its own.

Run by hand from the repository root (never against the shared Redis on 6379):

    .venv/bin/python bench/redis_bench.py                 # per-operation + 10k/100k/1M bulk
    .venv/bin/python bench/redis_bench.py --sizes 10000   # quicker
    .venv/bin/python bench/redis_bench.py --sizes --per-round 0 --rounds 15   # 1 vs 32 callers only

Part 1 times ``get``/``set``/``touch`` against raw redis-py ``GET``/``SET EX``/``EXPIRE``
(and against raw redis-py plus ``json`` (de)coding, the least a hand-written store does),
and the conditional pair the engine uses by default (``on_conflict="merge"``),
``get_versioned``/``set_if``, against the same raw ``GET``/``SET EX``, in interleaved rounds
of the same run, and reports medians and ratios.

Part 1b runs ``get``/``set`` and ``get_versioned``/``set_if`` from 1 and from 32 concurrent
callers (``--callers``) against raw redis-py + json, with and without auto-pipelining (the
conditional pair with it only), interleaved, and reports the ratios; ``--cluster`` runs it
again on a 3-primary Redis Cluster of its own (auto-pipelining per node) against raw
``RedisCluster`` + json.

Part 2 loads N sessions and times ``length()``, a full ``items()`` iteration and
``clear()`` against the raw-driver equivalents (``scan_iter`` + ``MGET``/``DEL`` batches of
100), and reports each one's peak of Python memory (tracemalloc, in a second, traced run)
to show that it stays flat as N grows.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import redis
from redis.asyncio import Redis

import connectstore_redis
from connectstore import JSONSerializer, now_ms
from connectstore.cookie import format_expires
from connectstore_redis import RedisStore

PREFIX = "bench:"
ROOT = Path(__file__).resolve().parent.parent


@contextmanager
def redis_server() -> Iterator[int]:
    """A redis-server on a free loopback port (no persistence), stopped by pid afterwards."""
    binary = shutil.which("redis-server")
    if binary is None:
        sys.exit("redis-server is not installed")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    with tempfile.TemporaryDirectory(prefix="connectstore-redis-bench-") as folder:
        log = os.path.join(folder, "redis.log")
        args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        process = subprocess.Popen([*args, "--dir", folder, "--logfile", log])
        try:
            deadline = time.monotonic() + 10
            while True:
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=0.5) as conn:
                        conn.sendall(b"PING\r\n")
                        if conn.recv(16).startswith(b"+PONG"):
                            break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    sys.exit("redis-server did not start")
                time.sleep(0.02)
            yield port
        finally:
            os.kill(process.pid, signal.SIGTERM)
            process.wait(timeout=30)


def express_session(max_age_ms: int = 86_400_000) -> dict[str, Any]:
    """A typical express-session session: the cookie plus a few application keys (~190 bytes)."""
    return {
        "cookie": {
            "originalMaxAge": max_age_ms,
            "expires": format_expires(now_ms() + max_age_ms),
            "httpOnly": True,
            "path": "/",
        },
        "views": 12,
        "user": {"id": 4711, "name": "Alice", "roles": ["admin"]},
        "csrf": "b5vcpZlWWHkYPkvZqV6cWXQ5",
    }


async def per_operation(port: int, rounds: int, per_round: int) -> None:
    """Part 1: store vs raw redis-py, interleaved, medians of per-round means."""
    raw = Redis(host="127.0.0.1", port=port)
    store = RedisStore.from_url(f"redis://127.0.0.1:{port}/0", prefix=PREFIX)
    session = express_session()
    data = JSONSerializer().dumps(session)
    key = PREFIX + "sid"
    await store.set("sid", session)

    async def store_get() -> None:
        await store.get("sid")

    async def raw_get() -> None:
        await raw.get(key)

    async def raw_get_json() -> None:
        json.loads(await raw.get(key))  # type: ignore[arg-type]

    async def store_set() -> None:
        await store.set("sid", session)

    async def raw_set() -> None:
        await raw.set(key, data, ex=86400)

    async def raw_set_json() -> None:
        await raw.set(key, json.dumps(session, separators=(",", ":"), ensure_ascii=False), ex=86400)

    async def store_touch() -> None:
        await store.touch("sid", session)

    versioned = await store.get_versioned("sid")
    assert versioned is not None
    version = versioned.version  # every write here stores the same bytes: it stays valid

    async def store_get_versioned() -> None:
        await store.get_versioned("sid")

    async def store_set_if() -> None:
        if await store.set_if("sid", session, version) is None:
            raise RuntimeError("set_if found the record changed")

    async def raw_touch() -> None:
        await raw.expire(key, 86400)

    cases: dict[str, Callable[[], Awaitable[None]]] = {
        "store.get": store_get,
        "raw GET": raw_get,
        "raw GET + json.loads": raw_get_json,
        "store.set": store_set,
        "raw SET EX": raw_set,
        "raw json.dumps + SET EX": raw_set_json,
        "store.touch": store_touch,
        "raw EXPIRE": raw_touch,
        "store.get_versioned": store_get_versioned,
        "store.set_if": store_set_if,
    }
    wall: dict[str, list[float]] = {name: [] for name in cases}
    cpu: dict[str, list[float]] = {name: [] for name in cases}
    for call in cases.values():  # warm up connections and the script cache
        for _ in range(200):
            await call()
    for _ in range(rounds):
        for name, call in cases.items():
            started, started_cpu = time.perf_counter(), time.process_time()
            for _ in range(per_round):
                await call()
            wall[name].append((time.perf_counter() - started) / per_round * 1e6)
            cpu[name].append((time.process_time() - started_cpu) / per_round * 1e6)
    print(f"\n## per operation: {rounds} interleaved rounds x {per_round} calls, us per call\n")
    print("Median round and best (fastest) round; wall time and this process's CPU time.\n")
    print("| operation | clock | store | raw redis-py | store / raw | best: store / raw | vs raw + json |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for op, store_case, raw_case, json_case in (
        ("get", "store.get", "raw GET", "raw GET + json.loads"),
        ("set", "store.set", "raw SET EX", "raw json.dumps + SET EX"),
        ("touch", "store.touch", "raw EXPIRE", None),
        ("get_versioned", "store.get_versioned", "raw GET", "raw GET + json.loads"),
        ("set_if", "store.set_if", "raw SET EX", "raw json.dumps + SET EX"),
    ):
        for label, table in (("wall", wall), ("CPU", cpu)):
            s, r = statistics.median(table[store_case]), statistics.median(table[raw_case])
            best = min(table[store_case]) / min(table[raw_case])
            versus_json = "-" if json_case is None else f"{s / statistics.median(table[json_case]):.2f}"
            print(f"| {op} | {label} | {s:.1f} | {r:.1f} | {s / r:.2f} | {best:.2f} | {versus_json} |")
    await store.close()
    await raw.aclose()


async def concurrent(port: int, rounds: int, calls: int, callers_list: list[int]) -> None:
    """Part 1b on the benchmark's server (see :func:`concurrent_on`)."""
    raw = Redis(host="127.0.0.1", port=port)
    await concurrent_on(f"redis://127.0.0.1:{port}/0", raw, rounds, calls, callers_list)


async def concurrent_cluster(rounds: int, calls: int, callers_list: list[int]) -> None:
    """Part 1b on a 3-primary Redis Cluster of its own (the test suite's cluster helper),
    against raw ``RedisCluster`` + json.
    """
    from redis.asyncio import RedisCluster

    sys.path.insert(0, str(ROOT))
    from tests.adapters.redis.servers import redis_cluster

    with redis_cluster(primaries=3) as nodes:
        print(f"\n# Redis Cluster, {len(nodes)} primaries")
        raw = RedisCluster(host="127.0.0.1", port=nodes[0].port)
        await concurrent_on(f"redis+cluster://127.0.0.1:{nodes[0].port}", raw, rounds, calls, callers_list)


async def concurrent_on(url: str, raw: Any, rounds: int, calls: int, callers_list: list[int]) -> None:
    """Part 1b: throughput of ``callers`` concurrent tasks, store vs raw redis-py + json, interleaved.

    Each round runs every case once with ``calls`` calls in all, split over the callers;
    the store runs with auto-pipelining (the default) and without it. Reports throughput
    and this process's CPU time per call (steadier than wall time on a shared machine).
    """
    piped = RedisStore.from_url(url, prefix=PREFIX)
    plain = RedisStore.from_url(url, prefix=PREFIX, auto_pipeline=False)
    session = express_session()
    key = PREFIX + "sid"
    await piped.set("sid", session)
    versioned = await piped.get_versioned("sid")
    assert versioned is not None
    version = versioned.version  # every write here stores the same bytes: it stays valid

    async def set_if() -> None:
        if await piped.set_if("sid", session, version) is None:
            raise RuntimeError("set_if found the record changed")

    async def raw_get() -> None:
        json.loads(await raw.get(key))

    async def raw_set() -> None:
        await raw.set(key, json.dumps(session, separators=(",", ":"), ensure_ascii=False), ex=86400)

    cases: dict[str, Callable[[], Awaitable[object]]] = {
        "raw GET + json": raw_get,
        "store.get": lambda: piped.get("sid"),
        "store.get (auto_pipeline=False)": lambda: plain.get("sid"),
        "store.get_versioned": lambda: piped.get_versioned("sid"),
        "raw json + SET EX": raw_set,
        "store.set": lambda: piped.set("sid", session),
        "store.set (auto_pipeline=False)": lambda: plain.set("sid", session),
        "store.set_if": set_if,
    }

    async def run(call: Callable[[], Awaitable[object]], callers: int) -> tuple[float, float]:
        """(calls per second, this process's CPU microseconds per call)."""

        async def caller() -> None:
            for _ in range(calls // callers):
                await call()

        started, started_cpu = time.perf_counter(), time.process_time()
        await asyncio.gather(*(caller() for _ in range(callers)))
        done = (calls // callers) * callers
        return done / (time.perf_counter() - started), (time.process_time() - started_cpu) / done * 1e6

    for callers in callers_list:
        binding = piped._loops._last
        pipeline = binding.topology.pipeline if binding is not None else None
        sent, written = (pipeline.commands, pipeline.writes) if pipeline is not None else (0, 0)
        rate: dict[str, list[float]] = {name: [] for name in cases}
        cpu: dict[str, list[float]] = {name: [] for name in cases}
        for call in cases.values():
            await run(call, callers)  # warm up: connections, script cache
        for _ in range(rounds):
            for name, call in cases.items():
                per_second, per_call = await run(call, callers)
                rate[name].append(per_second)
                cpu[name].append(per_call)
        print(f"\n## {callers} concurrent caller(s): median of {rounds} interleaved rounds\n")
        print("| operation | calls/s | throughput vs raw + json | CPU us/call | CPU vs raw + json |")
        print("|---|---:|---:|---:|---:|")
        for name in cases:
            base = "raw GET + json" if "get" in name.lower() else "raw json + SET EX"
            r, c = statistics.median(rate[name]), statistics.median(cpu[name])
            r0, c0 = statistics.median(rate[base]), statistics.median(cpu[base])
            print(f"| {name} | {r:,.0f} | {r / r0:.2f}x | {c:.1f} | {c / c0:.2f}x |")
        if pipeline is not None:
            sent, written = pipeline.commands - sent, pipeline.writes - written
            print(
                f"\nauto-pipeline: {sent:,} commands in {written:,} writes ({sent / written:.1f} per write)"
            )
    await piped.close()
    await plain.close()
    await raw.aclose()


async def load(raw: Redis, count: int) -> None:
    """Write ``count`` sessions directly (pipelines of 10,000), as connect-redis would store them."""
    data = JSONSerializer().dumps(express_session())
    for start in range(0, count, 10_000):
        pipe = raw.pipeline(transaction=False)
        for i in range(start, min(count, start + 10_000)):
            pipe.set(f"{PREFIX}{i:08d}", data, ex=86400)
        await pipe.execute()


async def raw_length(raw: Redis) -> int:
    count = 0
    async for _ in raw.scan_iter(match=PREFIX + "*", count=100):
        count += 1
    return count


async def raw_items(raw: Redis) -> int:
    count, batch = 0, []
    async for key in raw.scan_iter(match=PREFIX + "*", count=100):
        batch.append(key)
        if len(batch) == 100:
            count += sum(1 for value in await raw.mget(batch) if value is not None and json.loads(value))
            batch = []
    if batch:
        count += sum(1 for value in await raw.mget(batch) if value is not None and json.loads(value))
    return count


async def raw_clear(raw: Redis) -> int:
    count, batch = 0, []
    async for key in raw.scan_iter(match=PREFIX + "*", count=100):
        batch.append(key)
        if len(batch) == 100:
            count += await raw.delete(*batch)
            batch = []
    if batch:
        count += await raw.delete(*batch)
    return count


async def measured(call: Callable[[], Awaitable[Any]], *, traced: bool) -> tuple[float, float, Any]:
    """(seconds, peak MiB of Python memory during the call or nan, result)."""
    if traced:
        tracemalloc.start()
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
    started = time.perf_counter()
    result = await call()
    seconds = time.perf_counter() - started
    peak = float("nan")
    if traced:
        peak = (tracemalloc.get_traced_memory()[1] - base) / 2**20
        tracemalloc.stop()
    return seconds, peak, result


def row(size: int, name: str, s_time: float, r_time: float, s_peak: float, r_peak: float) -> None:
    """One line of the bulk table."""
    ratio = s_time / r_time
    print(f"| {size:,} | {name} | {s_time:.2f} | {r_time:.2f} | {ratio:.2f} | {s_peak:.2f} | {r_peak:.2f} |")


async def bulk(port: int, sizes: list[int]) -> None:
    """Part 2: length / items / clear over N sessions, timed and (separately) traced."""
    raw = Redis(host="127.0.0.1", port=port)
    store = RedisStore.from_url(f"redis://127.0.0.1:{port}/0", prefix=PREFIX, timeout=30)

    async def store_length() -> int:
        return await store.length()

    async def store_items() -> int:
        count = 0
        async for _ in store.items():
            count += 1
        return count

    async def store_clear() -> int:
        await store.clear()
        return 0

    print("\n## bulk operations (scan_count=100): seconds, and peak Python memory in MiB (traced run)\n")
    print("| sessions | operation | store s | raw s | store / raw | store peak MiB | raw peak MiB |")
    print("|---:|---|---:|---:|---:|---:|---:|")
    for size in sizes:
        await raw.flushdb()
        await load(raw, size)
        rows: list[tuple[str, Callable[[], Awaitable[Any]], Callable[[], Awaitable[Any]]]] = [
            ("length", store_length, lambda: raw_length(raw)),
            ("items", store_items, lambda: raw_items(raw)),
        ]
        for name, ours, theirs in rows:
            s_time, _, s_result = await measured(ours, traced=False)
            r_time, _, r_result = await measured(theirs, traced=False)
            _, s_peak, _ = await measured(ours, traced=True)
            _, r_peak, _ = await measured(theirs, traced=True)
            assert s_result == r_result == size, (name, s_result, r_result, size)
            row(size, name, s_time, r_time, s_peak, r_peak)
        s_time, _, _ = await measured(store_clear, traced=False)
        assert await raw.dbsize() == 0
        await load(raw, size)
        r_time, _, _ = await measured(lambda: raw_clear(raw), traced=False)
        await load(raw, size)
        _, s_peak, _ = await measured(store_clear, traced=True)
        await load(raw, size)
        _, r_peak, _ = await measured(lambda: raw_clear(raw), traced=True)
        row(size, "clear", s_time, r_time, s_peak, r_peak)
    await store.close()
    await raw.aclose()


def main() -> None:
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(1))  # stop our redis-server too
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=21)
    parser.add_argument("--per-round", type=int, default=2000)
    parser.add_argument("--sizes", type=int, nargs="*", default=[10_000, 100_000, 1_000_000])
    parser.add_argument(
        "--callers", type=int, nargs="*", default=[1, 32], help="concurrency levels of part 1b"
    )
    parser.add_argument("--concurrent-calls", type=int, default=6400, help="calls per case and round")
    parser.add_argument(
        "--cluster", action="store_true", help="also run part 1b on a 3-primary Redis Cluster of its own"
    )
    args = parser.parse_args()
    hiredis = "hiredis" if redis.utils.HIREDIS_AVAILABLE else "pure-Python parser"
    print(
        f"connectstore-redis {connectstore_redis.__version__}, redis-py {redis.__version__} ({hiredis}), "
        f"Python {platform.python_version()}, {os.cpu_count()} CPUs"
    )
    with redis_server() as port:
        print(subprocess.run(["redis-server", "--version"], capture_output=True, text=True).stdout.strip())
        if args.per_round:
            asyncio.run(per_operation(port, args.rounds, args.per_round))
        if args.callers:
            asyncio.run(concurrent(port, args.rounds, args.concurrent_calls, args.callers))
            if args.cluster:
                asyncio.run(concurrent_cluster(args.rounds, args.concurrent_calls, args.callers))
        if args.sizes:
            asyncio.run(bulk(port, args.sizes))


if __name__ == "__main__":
    main()
