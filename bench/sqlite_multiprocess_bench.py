"""Several processes writing one SQLite file: SQLiteStore against raw aiosqlite, same statements.

Run by hand: ``.venv/bin/python bench/sqlite_multiprocess_bench.py [--ops N] [--processes 1,2,4]
[--rounds R]``.

Each process runs ``--ops`` calls (50% ``set``, 50% ``get``) on its own 200 sids of one
shared file in WAL mode, all processes starting together. The raw contender runs the
store's statements on aiosqlite (autocommit, same busy timeout and pragmas) with
``json.dumps``/``json.loads``. The two take turns, ``--rounds`` rounds each (a fresh file
per round), since the machine is shared. Prints the median total calls per second, the
slowest call of any round and how many calls failed (a lock error would count here), as a
Markdown table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiosqlite

from connectstore import now_ms
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
UPSERT = (
    'INSERT INTO "sessions" (sid, expired, sess) VALUES (?, ?, ?) '
    "ON CONFLICT (sid) DO UPDATE SET expired = excluded.expired, sess = excluded.sess"
)
SELECT = 'SELECT sess FROM "sessions" WHERE sid = ? AND ? <= expired'


async def work(kind: str, db: str, worker: int, ops: int) -> dict[str, float]:
    """One process's share: ``ops`` mixed calls; returns its timings and failures."""
    rng = random.Random(worker)
    sids = [f"w{worker}-{i}" for i in range(200)]
    slowest, failures = 0.0, 0
    if kind == "store":
        store = SQLiteStore(db, sweep_interval=None)
        await store.length()

        async def set_(sid: str) -> None:
            await store.set(sid, SESSION)

        async def get(sid: str) -> Any:
            return await store.get(sid)

        close = store.close
    else:
        conn = await aiosqlite.connect(db, timeout=5.0, isolation_level=None)
        await conn.execute_fetchall("PRAGMA synchronous = NORMAL")

        async def set_(sid: str) -> None:
            await conn.execute_fetchall(UPSERT, (sid, now_ms() + 3_600_000, json.dumps(SESSION)))

        async def get(sid: str) -> Any:
            rows = list(await conn.execute_fetchall(SELECT, (sid, now_ms())))
            return json.loads(rows[0][0]) if rows else None

        close = conn.close
    started = time.perf_counter()
    for _ in range(ops):
        call = set_ if rng.random() < 0.5 else get
        t = time.perf_counter()
        try:
            await call(rng.choice(sids))
        except Exception:
            failures += 1
        slowest = max(slowest, time.perf_counter() - t)
    elapsed = time.perf_counter() - started
    await close()
    return {"elapsed": elapsed, "slowest": slowest, "failures": failures}


def run_round(kind: str, processes: int, ops: int, folder: Path, round_: int = 0) -> dict[str, float]:
    db = folder / f"{kind}-{processes}-{round_}.db"
    go = folder / f"go-{kind}-{processes}-{round_}"

    async def prepare() -> None:
        async with SQLiteStore(db, sweep_interval=None) as store:
            await store.length()  # table, index and WAL mode, as the store makes them

    asyncio.run(prepare())
    children = [
        subprocess.Popen(
            [sys.executable, __file__, "--worker", kind, str(db), str(w), str(ops), str(go)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for w in range(processes)
    ]
    time.sleep(1.0)  # let every interpreter start
    started = time.perf_counter()
    go.touch()
    reports = [json.loads(child.communicate()[0]) for child in children]
    wall = time.perf_counter() - started
    return {
        "calls_per_s": processes * ops / wall,
        "slowest_ms": max(r["slowest"] for r in reports) * 1000,
        "failures": sum(r["failures"] for r in reports),
    }


def worker_main(argv: list[str]) -> None:
    kind, db, worker, ops, go = argv[0], argv[1], int(argv[2]), int(argv[3]), Path(argv[4])
    while not go.exists():
        time.sleep(0.002)
    print(json.dumps(asyncio.run(work(kind, db, worker, ops))))


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker_main(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=5000, help="calls per process")
    parser.add_argument("--processes", default="1,2,4", help="comma-separated process counts")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per contender, taken in turn")
    args = parser.parse_args()
    counts = [int(n) for n in args.processes.split(",")]
    print(
        f"{args.ops} calls per process, 50% set / 50% get, one file "
        f"(calls/s over all processes, median of {args.rounds} rounds)\n"
    )
    print(
        "| processes | store calls/s | raw aiosqlite calls/s | store / raw "
        "| slowest call store / raw | failed calls |"
    )
    print("|---:|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        for n in counts:
            rounds: dict[str, list[dict[str, float]]] = {"store": [], "raw": []}
            for r in range(args.rounds):
                for kind, results in rounds.items():
                    results.append(run_round(kind, n, args.ops, Path(tmp), r))
            store, raw = (
                {
                    "calls_per_s": statistics.median(x["calls_per_s"] for x in results),
                    "slowest_ms": max(x["slowest_ms"] for x in results),
                    "failures": sum(x["failures"] for x in results),
                }
                for results in (rounds["store"], rounds["raw"])
            )
            print(
                f"| {n} | {store['calls_per_s']:,.0f} | {raw['calls_per_s']:,.0f} "
                f"| {store['calls_per_s'] / raw['calls_per_s']:.2f} "
                f"| {store['slowest_ms']:.0f} ms / {raw['slowest_ms']:.0f} ms "
                f"| {store['failures']:.0f} / {raw['failures']:.0f} |"
            )


if __name__ == "__main__":
    main()
