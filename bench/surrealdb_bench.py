"""SurrealDBStore get/set against the raw SDK, in the same run, rounds interleaved.

Run by hand: ``.venv/bin/python bench/surrealdb_bench.py [--ops N] [--rounds R]``. Measures
the embedded engine (``mem://``) and the same engine served over WebSocket RPC on loopback
(the test helper in ``tests/adapters/surrealdb/server.py``) and prints a Markdown table of
the median time per call over the rounds, and the store's time over each baseline's:

* "same query": the raw SDK's ``query()`` of the very statement the store sends (its
  ``SET``/``GET`` of :mod:`connectstore_surrealdb.queries`), with ``json.dumps``/``json.loads``
  of the two fields: what the store costs on top of the SDK;
* "plain record": the SDK's ``upsert``/``select`` of the session as a plain record (what
  connect-surreal does; no ``expires``, no live filter).

Every contender runs ``--ops`` sequential calls per round; the contenders take turns
within each round, in a rotating order, so that load on the machine hits them alike.

Last, the store's own layers alone: the same calls over an embedded SDK connection whose
``query()`` answers at once (one event-loop turn, no engine work), as main-thread CPU per
call (best round): what the store adds to the SDK, with the engine's own time, and the
noise it brings on a loaded machine, taken out.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, ClassVar

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from surrealdb import AsyncEmbeddedSurrealConnection, AsyncHttpSurrealConnection, AsyncSurreal, RecordID

from connectstore import now_ms
from connectstore.cookie import format_expires
from connectstore_surrealdb import RootAuth, SurrealDBStore, queries
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
KEYS = 1000
Call = Callable[[int], Awaitable[Any]]


async def timed(ops: int, call: Call, clock: Callable[[], float] = time.perf_counter) -> tuple[float, float]:
    """Seconds (of ``clock``) and seconds of the process's CPU (every thread: the engine's
    too) per call of ``ops`` sequential ``call(i)``.
    """
    started, cpu = clock(), time.process_time()
    for i in range(ops):
        await call(i)
    return (clock() - started) / ops, (time.process_time() - cpu) / ops


class _Instant(AsyncEmbeddedSurrealConnection):
    """An embedded SDK connection whose ``query()`` answers at once: the store's layers alone."""

    row: ClassVar[dict[str, bytes]] = {
        "cookie": json.dumps({"cookie": SESSION["cookie"]}).encode(),
        "sess": json.dumps({key: value for key, value in SESSION.items() if key != "cookie"}).encode(),
    }

    async def query(self, query: str, vars: dict[str, Any] | None = None, **_: Any) -> Any:  # type: ignore[override]
        await asyncio.sleep(0)
        return self.row if query.startswith("SELECT") else None


async def measure(
    url: str, ops: int, rounds: int, auth: RootAuth | None, *, instant: bool = False, shared: bool = False
) -> tuple[dict[str, float], dict[str, float]]:
    """Median seconds per call of every contender on ``url`` (``instant``: best main-thread
    CPU), and the median process CPU seconds per call.
    """
    raw = _Instant(url) if instant else AsyncSurreal(url)
    if not isinstance(raw, AsyncHttpSurrealConnection):
        await raw.connect()
    if auth is not None:
        await raw.signin({"username": auth.username, "password": auth.password})
    await raw.use("bench", "bench")
    client = raw if instant or shared else None  # shared: the store calls through the raw connection
    store = SurrealDBStore(
        url, namespace="bench", database="bench", auth=auth, table="store_sessions", client=client
    )
    await store.open()

    async def query_set(i: int) -> None:
        cookie = json.dumps({"cookie": SESSION["cookie"]})
        data = json.dumps({key: value for key, value in SESSION.items() if key != "cookie"})
        now = now_ms()
        rid = RecordID("query_sessions", f"s{i % KEYS}")
        variables: dict[str, Any] = {
            "rid": rid,
            "cookie": cookie,
            "sess": data,
            "expires": now + 3_600_000,
            "now": now,
        }
        await raw.query(queries.SET, variables)

    async def query_get(i: int) -> dict[str, Any]:
        rid = RecordID("query_sessions", f"s{i % KEYS}")
        row: Any = await raw.query(queries.GET, {"rid": rid, "now": now_ms()})
        return {**json.loads(row["cookie"]), **json.loads(row["sess"])}

    contenders: dict[str, Call] = {
        "set: plain record": lambda i: raw.upsert(RecordID("raw_sessions", f"s{i % KEYS}"), SESSION),
        "set: same query": query_set,
        "set: store": lambda i: store.set(f"s{i % KEYS}", SESSION),
        "get: plain record": lambda i: raw.select(RecordID("raw_sessions", f"s{i % KEYS}")),
        "get: same query": query_get,
        "get: store": lambda i: store.get(f"s{i % KEYS}"),
    }
    for call in contenders.values():  # warm-up, and every key written
        for i in range(KEYS):
            await call(i)
    times: dict[str, list[float]] = {name: [] for name in contenders}
    cpu: dict[str, list[float]] = {name: [] for name in contenders}
    names = list(contenders)
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            wall, spent = await timed(
                ops, contenders[name], time.thread_time if instant else time.perf_counter
            )
            times[name].append(wall)
            cpu[name].append(spent)
    await store.close()
    await raw.close()
    pick = min if instant else statistics.median
    return (
        {name: pick(values) for name, values in times.items()},
        {name: statistics.median(values) for name, values in cpu.items()},
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ops", type=int, default=2000, help="calls per contender per round")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds")
    parser.add_argument(
        "--shared",
        action="store_true",
        help="the store uses the raw SDK connection (client=) instead of opening its own",
    )
    args = parser.parse_args()
    runs: list[tuple[str, tuple[dict[str, float], dict[str, float]]]] = [
        ("mem://", await measure("mem://", args.ops, args.rounds, None, shared=args.shared))
    ]
    server = LoopbackSurreal()
    await server.open()
    try:
        auth = RootAuth(ROOT_USER, ROOT_PASSWORD)
        runs.append(
            ("ws:// (loopback)", await measure(server.url, args.ops, args.rounds, auth, shared=args.shared))
        )
    finally:
        await server.close()
    print("| path | op | plain record µs | same query µs | store µs | store / same query | store / plain |")
    print("|---|---|---:|---:|---:|---:|---:|")
    layers, _ = await measure("mem://", args.ops, args.rounds, None, instant=True)
    for path, (t, _) in runs:
        for op in ("set", "get"):
            plain, query, store = (t[f"{op}: {who}"] * 1e6 for who in ("plain record", "same query", "store"))
            print(
                f"| {path} | {op} | {plain:,.0f} | {query:,.0f} | {store:,.0f} "
                f"| {store / query:.3f} | {store / plain:.3f} |"
            )
    print()
    print("The same calls, process CPU per call (every thread, the engine's included), medians:")
    print()
    print("| path | op | plain record µs | same query µs | store µs | store / same query |")
    print("|---|---|---:|---:|---:|---:|")
    for path, (_, c) in runs:
        for op in ("set", "get"):
            plain, query, store = (c[f"{op}: {who}"] * 1e6 for who in ("plain record", "same query", "store"))
            print(f"| {path} | {op} | {plain:,.0f} | {query:,.0f} | {store:,.0f} | {store / query:.3f} |")
    print()
    print(
        "Store layers alone: main-thread CPU per call (best round), over an SDK connection answering at once:"
    )
    print()
    print("| op | same query µs | store µs | store adds µs |")
    print("|---|---:|---:|---:|")
    for op in ("set", "get"):
        query, store = (layers[f"{op}: {who}"] * 1e6 for who in ("same query", "store"))
        print(f"| {op} | {query:.1f} | {store:.1f} | {store - query:.1f} |")


if __name__ == "__main__":
    asyncio.run(main())
