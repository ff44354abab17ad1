"""SQLiteStore get/set against raw aiosqlite and plain sqlite3 on the same file; cleanup of 1M rows.

Run by hand: ``.venv/bin/python bench/sqlite_bench.py [--ops N] [--listing N] [--expired N] [--dir DIR]``.

1. ``get``/``set`` at 1 caller (sequential) and at 32 concurrent callers, one file
   (WAL, ``synchronous=NORMAL`` for all), one table per contender with the store's schema
   (connect-sqlite3 layout + index on ``expired``). The raw contenders run the plain
   connect-sqlite3 statements with ``json.dumps``/``json.loads``: raw aiosqlite; aiosqlite
   once more with the store's own JSON (``JSONSerializer``, which checks every value a
   Node reader must get back unchanged) and expiry parsing (the gap between that column
   and the store is the adapter's own cost); stdlib ``sqlite3`` on a thread of its own
   (``run_in_executor`` on a one-thread pool: one hop per call, as a store must make to
   keep the loop free); and stdlib ``sqlite3`` called on the event loop thread (blocking
   it: a ceiling, not a contender). The contenders run in turn, 5 rounds each; the
   median round is reported.
2. Listings: ``length()``, ``ids()`` and ``items()`` over ``--listing`` live sessions (median of
   5 runs each): what a session's own ``cookie.expires`` check costs them (run the script
   with the previous version of the package on ``PYTHONPATH`` to compare).
3. Cleanup: ``--expired`` expired rows plus 10% live rows; times ``sweep()``
   (batched deletes) against the one ``DELETE ... WHERE ? > expired`` statement
   connect-sqlite3 runs, on identical copies. Meanwhile a writer on another connection
   calls ``set`` every 5 ms (its slowest call shows how long the purge held the write
   lock) and a coroutine measures how late the event loop wakes it; an idle run of the
   same watchers gives the machine's own noise.

Prints Markdown tables (ops/s and ratios).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import shutil
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import aiosqlite

from connectstore import JSONSerializer, now_ms, session_expires
from connectstore.cookie import format_expires
from connectstore_sqlite import SQLiteStore

SESSION: dict[str, Any] = {
    "cookie": {
        "originalMaxAge": 3_600_000,
        "expires": format_expires(now_ms() + 3_600_000),
        "httpOnly": True,
        "path": "/",
    },
    "views": 1,
    "user": {"id": 42, "name": "Ada", "roles": ["admin", "dev"]},
}
EXPIRED = now_ms() + 3_600_000
EXACT = JSONSerializer()
CREATE = 'CREATE TABLE IF NOT EXISTS "{}" (sid PRIMARY KEY, expired, sess)'
UPSERT = (
    'INSERT INTO "{}" (sid, expired, sess) VALUES (?, ?, ?) '
    "ON CONFLICT (sid) DO UPDATE SET expired = excluded.expired, sess = excluded.sess"
)
SELECT = 'SELECT sess FROM "{}" WHERE sid = ? AND ? <= expired'
INDEX = 'CREATE INDEX IF NOT EXISTS "{0}_expired" ON "{0}" (expired)'
SIDS = 1000
ROUNDS = 5


Contender = Callable[[int], Awaitable[Any]]


async def rate(ops: int, call: Contender) -> float:
    """Sequential operations per second of ``call(i)``."""
    started = time.perf_counter()
    for i in range(ops):
        await call(i)
    return ops / (time.perf_counter() - started)


async def concurrent_rate(ops: int, call: Contender, width: int = 32) -> float:
    """Operations per second of ``call(i)`` with ``width`` callers at a time."""
    started = time.perf_counter()
    for start in range(0, ops, width):
        await asyncio.gather(*(call(i) for i in range(start, min(ops, start + width))))
    return ops / (time.perf_counter() - started)


CPU: dict[str, float] = {}
"""``"<row>/<contender>"`` -> median CPU microseconds per operation, all threads of the process."""


async def interleaved(
    ops: int, contenders: dict[str, Contender], measure: Callable[[int, Contender], Awaitable[float]]
) -> dict[str, float]:
    """Median rate of each contender over ROUNDS rounds run in turn (the machine is shared).

    Also keeps each one's median CPU time per operation (all threads: a thread hop's cost
    included) in :data:`CPU`, under ``"<contender>"`` until the caller files it by row: on
    a loaded machine it varies less than the rate.
    """
    for call in contenders.values():  # warm-up
        await measure(min(200, ops), call)
    rates: dict[str, list[float]] = {name: [] for name in contenders}
    cpu: dict[str, list[float]] = {name: [] for name in contenders}
    each = max(1, ops // ROUNDS)
    for _ in range(ROUNDS):
        for name, call in contenders.items():
            started = time.process_time()
            rates[name].append(await measure(each, call))
            cpu[name].append((time.process_time() - started) / each * 1e6)
    CPU.clear()
    CPU.update({name: statistics.median(values) for name, values in cpu.items()})
    return {name: statistics.median(values) for name, values in rates.items()}


async def row(
    name: str, measured: Awaitable[dict[str, float]]
) -> tuple[str, dict[str, float], dict[str, float]]:
    """One table row: its name, the rates and the CPU per operation of each contender."""
    rates = await measured
    return name, rates, dict(CPU)


def as_async(call: Callable[[int], Any]) -> Contender:
    """A blocking call as a contender (it runs on the event loop thread, as sqlite3 would)."""

    async def run(i: int) -> Any:
        return call(i)

    return run


COLUMNS = ("store", "aiosqlite", "aiosqlite+exact", "sqlite3 thread", "sqlite3 on loop")


async def bench_get_set(path: Path, ops: int) -> list[tuple[str, dict[str, float], dict[str, float]]]:
    async with (
        SQLiteStore(path, table="store", sweep_interval=None) as store,
        aiosqlite.connect(path, isolation_level=None) as conn,
    ):
        await store.length()  # creates the table
        await conn.execute_fetchall("PRAGMA synchronous = NORMAL")
        await conn.execute_fetchall(CREATE.format("raw_aiosqlite"))
        await conn.execute_fetchall(INDEX.format("raw_aiosqlite"))
        with (
            contextlib.closing(sqlite3.connect(path, isolation_level=None, check_same_thread=False)) as plain,
            ThreadPoolExecutor(max_workers=1) as pool,
        ):
            plain.execute("PRAGMA synchronous = NORMAL")
            plain.execute(CREATE.format("raw_sqlite3"))
            plain.execute(INDEX.format("raw_sqlite3"))
            a_upsert, a_select = UPSERT.format("raw_aiosqlite"), SELECT.format("raw_aiosqlite")
            p_upsert, p_select = UPSERT.format("raw_sqlite3"), SELECT.format("raw_sqlite3")

            async def raw_set(i: int) -> None:
                await conn.execute_fetchall(a_upsert, (f"s{i % SIDS}", EXPIRED, json.dumps(SESSION)))

            async def raw_get(i: int) -> Any:
                rows = list(await conn.execute_fetchall(a_select, (f"s{i % SIDS}", now_ms())))
                return json.loads(rows[0][0]) if rows else None

            async def raw_set_exact(i: int) -> None:  # with the store's JSON and expiry work
                expired = (session_expires(SESSION) or 0) - 1
                await conn.execute_fetchall(a_upsert, (f"s{i % SIDS}", expired, EXACT.dumps(SESSION)))

            async def raw_get_exact(i: int) -> Any:
                rows = list(await conn.execute_fetchall(a_select, (f"s{i % SIDS}", now_ms())))
                return EXACT.loads(rows[0][0]) if rows else None

            def plain_set(i: int) -> None:
                plain.execute(p_upsert, (f"s{i % SIDS}", EXPIRED, json.dumps(SESSION)))

            def plain_get(i: int) -> Any:
                row = plain.execute(p_select, (f"s{i % SIDS}", now_ms())).fetchone()
                return json.loads(row[0]) if row else None

            loop = asyncio.get_running_loop()
            setters: dict[str, Contender] = {
                "store": lambda i: store.set(f"s{i % SIDS}", SESSION),
                "aiosqlite": raw_set,
                "aiosqlite+exact": raw_set_exact,
                "sqlite3 thread": lambda i: loop.run_in_executor(pool, plain_set, i),
                "sqlite3 on loop": as_async(plain_set),
            }
            getters: dict[str, Contender] = {
                "store": lambda i: store.get(f"s{i % SIDS}"),
                "aiosqlite": raw_get,
                "aiosqlite+exact": raw_get_exact,
                "sqlite3 thread": lambda i: loop.run_in_executor(pool, plain_get, i),
                "sqlite3 on loop": as_async(plain_get),
            }
            return [
                await row("set, 1 caller", interleaved(ops, setters, rate)),
                await row("get, 1 caller", interleaved(ops, getters, rate)),
                await row("set, 32 callers", interleaved(ops, setters, concurrent_rate)),
                await row("get, 32 callers", interleaved(ops, getters, concurrent_rate)),
            ]


async def bench_listing(path: Path, sessions: int) -> dict[str, float]:
    """Median milliseconds of ``length()``, a full ``ids()`` and a full ``items()`` over ``sessions``."""
    text = json.dumps(SESSION, separators=(",", ":"))
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute(CREATE.format("sessions"))
        conn.execute(INDEX.format("sessions"))
        conn.executemany(
            "INSERT INTO sessions VALUES (?, ?, ?)", ((f"s{i}", EXPIRED, text) for i in range(sessions))
        )
        conn.commit()

    async def count(iterator: Any) -> int:
        return sum([1 async for _ in iterator])

    results: dict[str, float] = {}
    async with SQLiteStore(path, sweep_interval=None) as store:
        calls: dict[str, Callable[[], Awaitable[int]]] = {
            "length()": store.length,
            "ids()": lambda: count(store.ids()),
            "items()": lambda: count(store.items()),
        }
        for name, call in calls.items():
            times = []
            for _ in range(ROUNDS):
                started = time.perf_counter()
                assert await call() == sessions
                times.append((time.perf_counter() - started) * 1000)
            results[name] = statistics.median(times)
    return results


def fill_expired(path: Path, expired: int) -> None:
    """``expired`` rows already expired and ``expired // 10`` live ones, connect-sqlite3 style."""
    past, future = now_ms() - 60_000, now_ms() + 3_600_000
    text = json.dumps(SESSION, separators=(",", ":"))
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute(CREATE.format("sessions"))
        conn.execute(INDEX.format("sessions"))
        batch = 100_000
        for start in range(0, expired, batch):
            rows = ((f"old{i}", float(past), text) for i in range(start, min(expired, start + batch)))
            conn.executemany("INSERT INTO sessions VALUES (?, ?, ?)", rows)
        conn.executemany(
            "INSERT INTO sessions VALUES (?, ?, ?)",
            ((f"live{i}", future, text) for i in range(expired // 10)),
        )
        conn.commit()
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


async def watch_loop(stop: asyncio.Event) -> list[float]:
    """How late (ms) each 1 ms sleep of this coroutine woke up, until ``stop``."""
    stalls = []
    while not stop.is_set():
        started = time.perf_counter()
        await asyncio.sleep(0.001)
        stalls.append(max(0.0, (time.perf_counter() - started) * 1000 - 1))
    return stalls


async def watch_writes(path: Path, stop: asyncio.Event) -> list[float]:
    """Latency (ms) of ``set`` calls on another connection, one every 5 ms, until ``stop``."""
    latencies = []
    async with SQLiteStore(path, sweep_interval=None) as writer:
        await writer.length()
        while not stop.is_set():
            started = time.perf_counter()
            await writer.set("writer", SESSION)
            latencies.append((time.perf_counter() - started) * 1000)
            await asyncio.sleep(0.005)
    return latencies


async def observed(path: Path, work: Callable[[], Awaitable[Any]]) -> dict[str, float]:
    """Run ``work()`` while watching the event loop and a writer on another connection."""
    stop = asyncio.Event()
    loop_watch = asyncio.create_task(watch_loop(stop))
    write_watch = asyncio.create_task(watch_writes(path, stop))
    await asyncio.sleep(0.2)  # the writer is connected
    started = time.perf_counter()
    await work()
    seconds = time.perf_counter() - started
    stop.set()
    stalls, writes = await loop_watch, await write_watch
    stalls.sort()
    return {
        "seconds": seconds,
        "slowest_set_ms": max(writes),
        "sets": len(writes),
        "max_stall_ms": stalls[-1],
        "p99_stall_ms": stalls[int(len(stalls) * 0.99)],
    }


async def bench_cleanup(folder: Path, expired: int) -> dict[str, dict[str, float]]:
    template = folder / "template.db"
    fill_expired(template, expired)
    batched, single = folder / "batched.db", folder / "single.db"
    shutil.copy(template, batched)
    shutil.copy(template, single)
    results: dict[str, dict[str, float]] = {}

    results["idle (no purge, 3 s)"] = await observed(template, lambda: asyncio.sleep(3))

    async with SQLiteStore(batched, sweep_interval=None) as store:
        await store.length()  # open before timing
        deleted: list[int] = []

        async def purge() -> None:
            deleted.append(await store.sweep())

        results["`sweep()`, batches of 5,000"] = await observed(batched, purge)
        live = await store.length()
    assert deleted == [expired], deleted
    assert live == expired // 10 + 1, live  # + the watching writer's session

    def delete_at_once() -> None:
        with contextlib.closing(sqlite3.connect(single, isolation_level=None)) as conn:
            conn.execute("DELETE FROM sessions WHERE ? > expired", (now_ms(),))

    results["one `DELETE ... WHERE ? > expired` (connect-sqlite3's)"] = await observed(
        single, lambda: asyncio.to_thread(delete_at_once)
    )
    return results


def number(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:,.0f}"


def ratio(store: float, other: float) -> str:
    return "n/a" if math.isnan(other) else f"{store / other:.2f}"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=20_000, help="operations per get/set measurement")
    parser.add_argument("--listing", type=int, default=100_000, help="live sessions for the listings")
    parser.add_argument("--expired", type=int, default=1_000_000, help="expired rows for the cleanup run")
    parser.add_argument("--dir", type=Path, default=None, help="folder for the files (default: a temp dir)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        folder = Path(tmp)
        rows = await bench_get_set(folder / "bench.db", args.ops)
        print(f"get/set, {args.ops} ops per round on {SIDS} sids (ops/s, median of {ROUNDS} rounds)\n")
        print(
            "| operation | SQLiteStore | raw aiosqlite | aiosqlite + store's JSON | sqlite3 in a thread "
            "| sqlite3 on the loop | store / aiosqlite | store / (aiosqlite + JSON) | store / thread |"
        )
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for op, r, _ in rows:
            print(
                f"| {op} | " + " | ".join(number(r[c]) for c in COLUMNS) + " | "
                f"{ratio(r['store'], r['aiosqlite'])} | {ratio(r['store'], r['aiosqlite+exact'])} "
                f"| {ratio(r['store'], r['sqlite3 thread'])} |"
            )
        print("\nCPU per operation, all threads of the process (µs, median round)\n")
        print(
            "| operation | SQLiteStore | raw aiosqlite | aiosqlite + store's JSON | sqlite3 in a thread "
            "| sqlite3 on the loop | store / aiosqlite |"
        )
        print("|---|---:|---:|---:|---:|---:|---:|")
        for op, _, c in rows:
            print(
                f"| {op} | "
                + " | ".join(f"{c[k]:.1f}" for k in COLUMNS)
                + f" | {ratio(c['store'], c['aiosqlite'])} |"
            )
        if args.listing:
            listing = await bench_listing(folder / "listing.db", args.listing)
            print(f"\nlistings over {args.listing:,} live sessions (median ms of {ROUNDS} runs)\n")
            print("| call | ms |")
            print("|---|---:|")
            for name, ms in listing.items():
                print(f"| `{name}` | {ms:,.1f} |")
        if args.expired:
            cleanup = await bench_cleanup(folder, args.expired)
            print(f"\ncleanup of {args.expired:,} expired rows (+{args.expired // 10:,} live)\n")
            print(
                "| run | seconds | slowest `set` elsewhere | `set`s done | max loop stall | p99 loop stall |"
            )
            print("|---|---:|---:|---:|---:|---:|")
            for name, c in cleanup.items():
                print(
                    f"| {name} | {c['seconds']:.2f} | {c['slowest_set_ms']:.0f} ms | {c['sets']:,.0f} "
                    f"| {c['max_stall_ms']:.1f} ms | {c['p99_stall_ms']:.1f} ms |"
                )


if __name__ == "__main__":
    asyncio.run(main())
