"""SurrealDBStore during a server outage: how long a failing call takes, how soon service resumes.

Run by hand:
``.venv/bin/python bench/surrealdb_outage.py [--writers 32] [--outage 3] [--silent 8] [--runs 3]``.
Serves the real engine over WebSocket RPC on loopback (``tests/adapters/surrealdb/server.py``),
runs ``--writers`` concurrent writers (each ``set``s its own session in a loop) against a
store built with default options (``timeout`` 5 s), and injects two faults:

* **killed** (``--outage`` seconds): the server is killed (connections aborted, nothing
  listens) and served again on the same port;
* **silent** (``--silent`` seconds, longer than the timeout so that calls do fail): the
  server keeps accepting calls without answering them (a hung server), then recovers and
  answers what it had received.

Each fault runs with the circuit breaker on (the default) and off (``failure_threshold`` so
high that it never opens), and prints a Markdown table: failed calls, median and p90 time
of a failing call, time from the server's return to the first successful call and to every
writer's first success, and acknowledged writes lost (read back after the run).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from connectstore import StoreUnavailableError, now_ms
from connectstore.cookie import format_expires
from connectstore_surrealdb import RootAuth, SurrealDBStore
from tests.adapters.surrealdb.server import ROOT_PASSWORD, ROOT_USER, LoopbackSurreal

NEVER = 10**9  # a failure_threshold that never opens the breaker


@dataclass
class Run:
    """What the writers saw during one fault."""

    failing_ms: list[float] = field(default_factory=list)
    acknowledged: dict[str, int] = field(default_factory=dict)
    first_ok_after: dict[str, float] = field(default_factory=dict)  # writer -> time of its first success
    back_at: float | None = None
    all_back: asyncio.Event = field(default_factory=asyncio.Event)


def session(n: int) -> dict[str, object]:
    return {
        "cookie": {"originalMaxAge": 3_600_000, "expires": format_expires(now_ms() + 3_600_000), "path": "/"},
        "n": n,
    }


async def writer(store: SurrealDBStore, sid: str, run: Run, stop: asyncio.Event, writers: int) -> None:
    n = 0
    while not stop.is_set():
        n += 1
        started = time.perf_counter()
        try:
            await store.set(sid, session(n))
        except StoreUnavailableError:
            run.failing_ms.append((time.perf_counter() - started) * 1000)
            await asyncio.sleep(0.005)  # a web client retrying: keep the load on, do not spin
        else:
            run.acknowledged[sid] = n
            if run.back_at is not None and sid not in run.first_ok_after:
                run.first_ok_after[sid] = time.perf_counter()
                if len(run.first_ok_after) == writers:
                    run.all_back.set()


async def one_fault(fault: str, breaker: bool, writers: int, outage: float) -> dict[str, object]:
    server = LoopbackSurreal()
    await server.open()
    options: dict[str, object] = {} if breaker else {"failure_threshold": NEVER}
    store = SurrealDBStore(server.url, auth=RootAuth(ROOT_USER, ROOT_PASSWORD), **options)  # type: ignore[arg-type]
    run, stop = Run(), asyncio.Event()
    sids = [f"writer-{w}" for w in range(writers)]
    try:
        tasks = [asyncio.ensure_future(writer(store, sid, run, stop, writers)) for sid in sids]
        await asyncio.sleep(1.0)  # steady state
        if fault == "killed":
            await server.stop()
        else:
            server.hold = True
        await asyncio.sleep(outage)
        if fault == "killed":
            await server.start()
        else:
            server.hold = False
        run.back_at = time.perf_counter()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(run.all_back.wait(), 30)
        stop.set()
        await asyncio.gather(*tasks)
        lost = 0
        for sid, n in run.acknowledged.items():
            stored = await store.get(sid)
            if stored is None or int(stored["n"]) < n:
                lost += 1
    finally:
        await store.close()
        await server.close()
    first = min(run.first_ok_after.values(), default=float("nan"))
    last = max(run.first_ok_after.values()) if len(run.first_ok_after) == writers else None
    assert run.back_at is not None
    ordered = sorted(run.failing_ms)
    return {
        "failed": len(ordered),
        "median": statistics.median(ordered) if ordered else float("nan"),
        "p90": ordered[int(len(ordered) * 0.9)] if ordered else float("nan"),
        "first": (first - run.back_at) * 1000,
        "all": None if last is None else (last - run.back_at) * 1000,
        "lost": lost,
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--writers", type=int, default=32, help="concurrent writers")
    parser.add_argument("--outage", type=float, default=3.0, help="seconds the server is killed")
    parser.add_argument("--silent", type=float, default=8.0, help="seconds the server does not answer")
    parser.add_argument("--runs", type=int, default=3, help="runs per row (the median run is shown)")
    args = parser.parse_args()
    print(
        "| fault | breaker | failed calls | failing call median / p90 ms "
        "| first success after return ms | every writer back ms | acknowledged writes lost |"
    )
    print("|---|---|---:|---:|---:|---:|---:|")
    for fault in ("killed", "silent"):
        for breaker in (True, False):
            outage = args.outage if fault == "killed" else args.silent
            results = [await one_fault(fault, breaker, args.writers, outage) for _ in range(args.runs)]
            results.sort(key=lambda r: float(r["median"]))  # type: ignore[arg-type]
            r = results[len(results) // 2]
            every = "not within 30 s" if r["all"] is None else f"{r['all']:,.0f}"
            print(
                f"| {fault} | {'on (default)' if breaker else 'off'} | {r['failed']:,} "
                f"| {r['median']:,.2f} / {r['p90']:,.2f} | {r['first']:,.0f} | {every} "
                f"| {sum(int(x['lost']) for x in results)} |"  # type: ignore[call-overload]
            )


if __name__ == "__main__":
    asyncio.run(main())
