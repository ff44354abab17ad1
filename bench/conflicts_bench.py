"""Benchmark of issue 15: concurrent requests of one session under each ``on_conflict`` policy.

Run by hand from the repository root (it starts its own redis-server on a free port and
never touches the shared Redis on 6379; about two minutes with the defaults):

    .venv/bin/python bench/conflicts_bench.py
    .venv/bin/python bench/conflicts_bench.py --stores redis --json /tmp/conflicts.json
    .venv/bin/python bench/conflicts_bench.py --measure 3 --rounds 5   # the cost alone, on an idle machine

Each server is uvicorn with one worker (asyncio + h11) serving this module's ``app``
factory: ``SessionEngine`` with ``resave=False, save_uninitialized=False``, a one-day
cookie and the policy under test, over a MemoryStore (inside the server), a ``RedisStore``
or an ``SQLiteStore`` (a fresh file). Three measurements:

1. **Lost updates**: one session, ``--requests`` requests (``--concurrency`` at a time, a
   lean HTTP/1.1 keep-alive client in this process), each setting a key of its own; how
   many keys the session keeps, under ``"overwrite"`` (express-session's last write wins)
   and ``"merge"``.
2. **A counter under load**: one session, ``--increments`` requests (``--concurrency`` at a
   time) each doing ``n = session.get("n", 0) + 1`` (bench/http_apps.py's route); how many
   of the increments answered 200 the counter kept, under the three policies. ``"merge"``
   keeps keys, not read-modify-writes of one key (both requests changed ``n``: the later
   writer's value stands); ``"raise"`` answers the losers 409, so every increment answered
   200 is kept.
3. **Cost without conflict**: bench/http_bench.py's measurement (wrk ``-t1 -c32``, eight
   sessions per connection, so no two requests share a session) of ``"overwrite"`` and
   ``"merge"`` on ``RedisStore``, ``--rounds`` interleaved rounds of ``--seconds``: median
   req/s, latency, server CPU and Redis commands and round trips per request, and the ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.http_apps import DAY, SECRET, _counter, redis_url  # noqa: E402
from bench.http_bench import Server, measure, run_wrk, wrk_binary  # noqa: E402
from bench.http_tools import (  # noqa: E402
    Round,
    RowResult,
    free_port,
    redis_server,
    session_cookies,
    wait_for_port,
)

BENCH = ROOT / "bench"
STORES = ("memory", "redis", "sqlite")
POLICIES = ("overwrite", "merge", "raise")
SESSIONS_PER_CONNECTION = 8
"""Measurement 3's sessions per wrk connection. wrk's script hands the cookies out in turn,
not one per connection: with as many sessions as connections, a slow request and a later
one can share a session; eight times as many make that all but impossible."""


# --- the app each server runs -----------------------------------------------------------


def app() -> Any:
    """The benchmark's app (``uvicorn conflicts_bench:app --factory``): ``/`` is http_bench's
    counter, ``/set?key=`` sets the request's own key, ``/keys`` counts the keys set. Store
    and policy from ``BENCH_STORE``, ``BENCH_ON_CONFLICT`` (and ``BENCH_REDIS_URL``,
    ``BENCH_PREFIX``, ``BENCH_SQLITE``).
    """
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    from connectstore import MemoryStore, SessionEngine, Store
    from connectstore.integrations.asgi import SessionMiddleware

    async def set_key(request: Request) -> Response:
        request.session[request.query_params["key"]] = 1
        return JSONResponse({"ok": True})

    async def keys(request: Request) -> Response:
        return JSONResponse({"keys": sum(1 for key in request.session if key.startswith("k"))})

    kind = os.environ["BENCH_STORE"]
    store: Store
    if kind == "redis":
        from redis.asyncio import Redis

        from connectstore_redis import RedisStore

        store = RedisStore(Redis.from_url(redis_url()), prefix=os.environ["BENCH_PREFIX"])
    elif kind == "sqlite":
        from connectstore_sqlite import SQLiteStore

        store = SQLiteStore(os.environ["BENCH_SQLITE"])
    else:
        store = MemoryStore()
    engine = SessionEngine(
        store,
        secret=SECRET,
        resave=False,
        save_uninitialized=False,
        cookie={"max_age": DAY},
        on_conflict=os.environ["BENCH_ON_CONFLICT"],  # type: ignore[arg-type]
    )
    routes = [Route("/", _counter), Route("/set", set_key), Route("/keys", keys)]
    return SessionMiddleware(Starlette(routes=routes), engine)


@contextmanager
def serve(store: str, policy: str, redis: str, folder: str) -> Iterator[Server]:
    """A uvicorn process serving :func:`app` over ``store`` with ``policy``, stopped by its pid."""
    port = free_port()
    env = {
        **os.environ,
        "BENCH_STORE": store,
        "BENCH_ON_CONFLICT": policy,
        "BENCH_REDIS_URL": redis,
        "BENCH_PREFIX": f"bench-cf-{store}-{policy}-{port}:",
        "BENCH_SQLITE": os.path.join(folder, f"sessions-{policy}-{port}.db"),
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    args = [sys.executable, "-m", "uvicorn", "conflicts_bench:app", "--factory", "--app-dir", str(BENCH)]
    args += ["--host", "127.0.0.1", "--port", str(port), "--workers", "1", "--loop", "asyncio"]
    args += ["--http", "h11", "--log-level", "warning", "--no-access-log"]
    process = subprocess.Popen(args, env=env)
    try:
        wait_for_port(port, process)
        yield Server(process, port)
    finally:
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait()


# --- 1. lost updates and 2. a counter under load --------------------------------------------


class Connection:
    """One keep-alive HTTP/1.1 connection to the server, as lean as a client gets (an httpx
    client costs the loaded 2-core machine more CPU per request than the server does).
    """

    def __init__(self, port: int) -> None:
        self.port = port
        self.streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def get(self, path: str, cookie: str = "") -> tuple[int, str, Any]:
        """GET ``path`` with ``cookie``: the status, the session cookie sent back, the JSON body.
        A connection the server closed is opened again.
        """
        if self.streams is None:
            self.streams = await asyncio.open_connection("127.0.0.1", self.port)
        reader, writer = self.streams
        cookie_line = f"Cookie: {cookie}\r\n" if cookie else ""
        writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{cookie_line}\r\n".encode())
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
            headers = [line.partition(":") for line in head[1:] if line]
            fields = {name.lower(): value.strip() for name, _, value in headers}
            body = await reader.readexactly(int(fields.get("content-length", "0")))
        except (asyncio.IncompleteReadError, ConnectionError):
            await self.close()
            raise
        if fields.get("connection", "").lower() == "close":
            await self.close()
        set_cookie = next((v for n, _, v in headers if n.lower() == "set-cookie"), "")
        return int(head[0].split()[1]), set_cookie.strip().split(";")[0], json.loads(body or b"null")

    async def close(self) -> None:
        """Close the connection (the next request opens another)."""
        if self.streams is not None:
            self.streams[1].close()
            self.streams = None


async def one_session_load(port: int, requests: int, concurrency: int, counter: bool) -> dict[str, Any]:
    """One session, ``requests`` requests ``concurrency`` at a time: each setting its own key
    (measurement 1) or each adding one to the counter (measurement 2, ``counter``). What the
    session kept, the requests answered 200 and the others (5xx, or the connection lost).
    """
    first = Connection(port)
    _, cookie, _ = await first.get("/" if counter else "/set?key=start")
    await first.close()
    numbers = iter(range(requests))
    answered = failed = 0

    async def worker() -> None:
        nonlocal answered, failed
        connection = Connection(port)
        for n in numbers:
            try:
                status, _, _ = await connection.get("/" if counter else f"/set?key=k{n}", cookie)
            except (asyncio.IncompleteReadError, ConnectionError):
                status = 0
            answered += status == 200
            failed += status != 200
        await connection.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    seconds = time.perf_counter() - started
    last = Connection(port)
    if counter:  # the stored n is one (the first request) plus the increments kept
        kept = (await last.get("/", cookie))[2]["n"] - 2
    else:
        kept = (await last.get("/keys", cookie))[2]["keys"]
    await last.close()
    return {"requests": requests, "answered": answered, "failed": failed, "kept": kept, "seconds": seconds}


# --- 3. cost without conflict -------------------------------------------------------------


@dataclass
class CostRow:
    """One policy's rounds of measurement 3."""

    policy: str
    server: Server
    result: RowResult


def cost_table(rows: list[CostRow]) -> str:
    """The medians of measurement 3, with each policy's req/s and CPU against ``"overwrite"``."""
    base = rows[0].result.summary()
    lines = [
        "| policy | req/s | p50 ms | p99 ms | CPU µs/req | Redis cmds/req | Redis reads/req "
        "| req/s vs overwrite | CPU vs overwrite | errors |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        s = row.result.summary()
        lines.append(
            f"| {row.policy} | {s['req_s']:,.0f} | {s['p50_ms']:.2f} | {s['p99_ms']:.2f} "
            f"| {s['cpu_us_per_req']:,.0f} | {s['redis_commands_per_req']:.2f} "
            f"| {s['redis_reads_per_req']:.2f} | {s['req_s'] / base['req_s']:.3f} "
            f"| {s['cpu_us_per_req'] / base['cpu_us_per_req']:.3f} | {s['errors']} |"
        )
    return "\n".join(lines)


def run_cost(wrk: str, redis: str, redis_port: int, folder: str, args: argparse.Namespace) -> list[CostRow]:
    """Measurement 3: the policies' servers side by side, in interleaved rounds."""
    with ExitStack() as stack:
        rows = []
        for policy in ("overwrite", "merge"):
            server = stack.enter_context(serve("redis", policy, redis, folder))
            server.cookie_file = os.path.join(folder, f"cost-{policy}.cookies")
            with open(server.cookie_file, "w") as out:
                sessions = session_cookies(server.port, SESSIONS_PER_CONNECTION * args.connections)
                out.write("\n".join(sessions) + "\n")
            run_wrk(wrk, server.port, server.cookie_file, 1, args.connections)  # warm-up
            rows.append(CostRow(policy, server, RowResult(policy, policy)))
        time.sleep(1)
        for number in range(args.rounds):
            for row in rows if number % 2 == 0 else rows[::-1]:
                result: Round = measure(wrk, row.server, redis_port, args)
                row.result.rounds.append(result)
                print(
                    f"cost round {number + 1} {row.policy:9} {result.rps:8,.0f} req/s "
                    f"{result.cpu_us:6,.0f} µs CPU/req  redis {result.redis}",
                    file=sys.stderr,
                    flush=True,
                )
                time.sleep(0.5)
        return rows


def keys_table(keys: dict[str, dict[str, Any]]) -> str:
    """Measurement 1 as a Markdown table."""
    lines = ["| store | policy | keys kept | failed requests | seconds |", "|---|---|---:|---:|---:|"]
    for name, k in keys.items():
        store, policy = name.split("/")
        kept = f"{k['kept']:,} of {k['requests']:,}"
        lines.append(f"| {store} | {policy} | {kept} | {k['failed']} | {k['seconds']:.1f} |")
    return "\n".join(lines)


def counter_table(counters: dict[str, dict[str, Any]]) -> str:
    """Measurement 2 as a Markdown table."""
    lines = [
        "| store | policy | answered 200 | refused (not 200) | increments kept | kept / answered |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for name, c in counters.items():
        store, policy = name.split("/")
        share = c["kept"] / max(c["answered"], 1)
        lines.append(
            f"| {store} | {policy} | {c['answered']:,} | {c['failed']:,} | {c['kept']:,} | {share:.1%} |"
        )
    return "\n".join(lines)


# --- the run --------------------------------------------------------------------------------


def main() -> None:
    """Parse the options, start Redis, run the three measurements, print the tables."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--stores", action="append", choices=STORES, help="measurements 1-2 on (repeatable)")
    parser.add_argument("--requests", type=int, default=1000, help="measurement 1 (default 1000)")
    parser.add_argument("--concurrency", type=int, default=32, help="measurement 1 (default 32)")
    parser.add_argument("--increments", type=int, default=2000, help="measurement 2 (default 2000)")
    parser.add_argument("--rounds", type=int, default=3, help="measurement 3 rounds (default 3)")
    parser.add_argument("--seconds", type=float, default=5, help="measurement 3 wrk run (default 5)")
    parser.add_argument("--connections", type=int, default=32, help="measurement 3 (default 32)")
    parser.add_argument(
        "--measure",
        action="append",
        type=int,
        choices=(1, 2, 3),
        help="run only this measurement (repeatable)",
    )
    parser.add_argument("--json", type=Path, help="also write every figure to this file")
    args = parser.parse_args()
    measures = set(args.measure or (1, 2, 3))
    stores = args.stores or list(STORES)
    wrk = wrk_binary()
    keys: dict[str, dict[str, Any]] = {}
    counters: dict[str, dict[str, Any]] = {}
    cost: list[CostRow] = []
    load_before = os.getloadavg()[0]
    with redis_server() as redis_port, tempfile.TemporaryDirectory() as folder:
        redis = f"redis://127.0.0.1:{redis_port}/0"
        for store in stores if measures & {1, 2} else ():
            for policy in POLICIES:
                with serve(store, policy, redis, folder) as server:
                    name = f"{store}/{policy}"
                    if 1 in measures and policy != "raise":
                        load = one_session_load(server.port, args.requests, args.concurrency, False)
                        keys[name] = asyncio.run(load)
                        print(f"lost updates {name:18} {keys[name]}", file=sys.stderr, flush=True)
                    if 2 in measures:
                        load = one_session_load(server.port, args.increments, args.concurrency, True)
                        counters[name] = asyncio.run(load)
                        print(f"counter      {name:18} {counters[name]}", file=sys.stderr, flush=True)
        if 3 in measures:
            cost = run_cost(wrk, redis, redis_port, folder, args)
    print(f"{platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} CPUs, ", end="")
    print(f"load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after")
    report(args, keys, counters, cost)
    if args.json:
        payload = {
            "settings": vars(args) | {"json": str(args.json), "stores": stores},
            "lost_updates": keys,
            "counter": counters,
            "cost": {row.policy: [asdict(r) for r in row.result.rounds] for row in cost},
        }
        args.json.write_text(json.dumps(payload, indent=2))


def report(
    args: argparse.Namespace,
    keys: dict[str, dict[str, Any]],
    counters: dict[str, dict[str, Any]],
    cost: list[CostRow],
) -> None:
    """Print the tables of the measurements that ran."""
    if keys:
        print(f"\n1. {args.requests} requests ({args.concurrency} at a time) on one session, ", end="")
        print("each its own key:\n")
        print(keys_table(keys))
    if counters:
        print(f"\n2. A counter on one session, {args.increments} requests ({args.concurrency} at a time):\n")
        print(counter_table(counters))
    if cost:
        print(f"\n3. No conflict: RedisStore, wrk -t1 -c{args.connections}, ", end="")
        print(f"{args.rounds} interleaved rounds of {args.seconds:g} s, medians:\n")
        print(cost_table(cost))
        ratios = [m.rps / o.rps for o, m in zip(cost[0].result.rounds, cost[1].result.rounds, strict=True)]
        print(f"\nmerge / overwrite req/s per round: {', '.join(f'{r:.3f}' for r in ratios)}", end="")
        print(f" (median {statistics.median(ratios):.3f})")


if __name__ == "__main__":
    main()
