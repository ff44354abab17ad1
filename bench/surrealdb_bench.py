"""SurrealDBStore get/set against the raw SDK's select/upsert, in the same run.

Run by hand: ``.venv/bin/python bench/surrealdb_bench.py [--ops N]``. Measures the embedded
engine (``mem://``) and the same engine served over WebSocket RPC on loopback (the test
helper in ``tests/adapters/surrealdb/server.py``), and prints a Markdown table of ops/s and
the store/SDK ratio. The raw baseline writes the session as a plain record (what
connect-surreal does); the store writes JSON text plus an ``expires`` datetime and
filters reads on it.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from surrealdb import AsyncHttpSurrealConnection, AsyncSurreal, RecordID

from connectstore import now_ms
from connectstore.cookie import format_expires
from connectstore_surrealdb import RootAuth, SurrealDBStore
from tests.adapters.surrealdb.server import ROOT_PASSWORD, ROOT_USER, LoopbackSurreal

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


async def rate(ops: int, call: Callable[[int], Awaitable[Any]]) -> float:
    """Sequential operations per second of ``call(i)``."""
    for i in range(min(200, ops)):  # warm-up
        await call(i)
    started = time.perf_counter()
    for i in range(ops):
        await call(i)
    return ops / (time.perf_counter() - started)


async def measure(url: str, ops: int, auth: RootAuth | None) -> dict[str, float]:
    raw = AsyncSurreal(url)
    if not isinstance(raw, AsyncHttpSurrealConnection):
        await raw.connect()
    if auth is not None:
        await raw.signin({"username": auth.username, "password": auth.password})
    await raw.use("bench", "bench")
    store = SurrealDBStore(url, namespace="bench", database="bench", auth=auth, table="store_sessions")
    await store.open()
    keys = 1000
    results = {
        "raw upsert": await rate(
            ops, lambda i: raw.upsert(RecordID("raw_sessions", f"s{i % keys}"), SESSION)
        ),
        "store set": await rate(ops, lambda i: store.set(f"s{i % keys}", SESSION)),
        "raw select": await rate(ops, lambda i: raw.select(RecordID("raw_sessions", f"s{i % keys}"))),
        "store get": await rate(ops, lambda i: store.get(f"s{i % keys}")),
    }
    await store.close()
    await raw.close()
    return results


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ops", type=int, default=5000, help="operations per measurement")
    args = parser.parse_args()
    print("| path | op | raw SDK ops/s | store ops/s | store / raw |")
    print("|---|---|---:|---:|---:|")
    runs: list[tuple[str, dict[str, float]]] = [("mem://", await measure("mem://", args.ops, None))]
    server = LoopbackSurreal()
    await server.open()
    try:
        runs.append(
            ("ws:// (loopback)", await measure(server.url, args.ops, RootAuth(ROOT_USER, ROOT_PASSWORD)))
        )
    finally:
        await server.close()
    for path, r in runs:
        for op, raw_op, store_op in (
            ("set vs upsert", "raw upsert", "store set"),
            ("get vs select", "raw select", "store get"),
        ):
            print(
                f"| {path} | {op} | {r[raw_op]:,.0f} | {r[store_op]:,.0f} | {r[store_op] / r[raw_op]:.2f} |"
            )


if __name__ == "__main__":
    asyncio.run(main())
