"""HTTP benchmark of issue 14: a session counter over real HTTP, connectstore against its peers.

Run by hand from the repository root (it starts its own redis-server on a free port and
never touches the shared Redis on 6379):

    .venv/bin/python bench/http_bench.py                            # 3 rounds of 8 s, wrk -t1 -c32
    .venv/bin/python bench/http_bench.py --rounds 2 --seconds 5 --only connectstore --only express
    .venv/bin/python bench/http_bench.py --json /tmp/http.json

Every row serves ``GET /`` doing ``n = session.get("n", 0) + 1`` (resave=False,
save_uninitialized=False, a one-day cookie) in one server process: uvicorn with one worker
(asyncio + h11 unless the row says uvloop + httptools) or Node for Express 5 +
express-session 1.19 + connect-redis 9 (installed with npm into a cache folder outside the
repository, as the interop tests do). Before the rounds each row gets one session per wrk
connection (a first request each); wrk's script (bench/wrk_session.lua) sends each request
with one of those cookies, so every request reads and writes a real session. The rows take
turns within each round; the table shows each row's median over the rounds: req/s, wrk's
p50/p99 latency, the server process's CPU per request (utime + stime from /proc/<pid>/stat
over the round), Redis commands and Redis read events (round trips: one per batch a client
sent) per request on the benchmark's own Redis, and the ratios against Express and against
the starsessions row on the same event loop and parser.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.http_tools import (  # noqa: E402
    Round,
    RowResult,
    counters_delta,
    cpu_seconds,
    format_table,
    free_port,
    get_counter,
    parse_wrk,
    redis_counters,
    redis_server,
    session_cookies,
    wait_for_port,
)

BENCH = ROOT / "bench"
NODE_PACKAGES = ("express@5", "express-session@1.19", "connect-redis@9", "redis@5")


@dataclass(frozen=True)
class Row:
    """One contender: how to start its server."""

    name: str
    label: str
    factory: str = ""  # http_apps factory; empty for the Node row
    uvloop: bool = False
    starsessions_peer: str = ""


ROWS = (
    Row("starlette", "plain Starlette, no session", "starlette_app"),
    Row(
        "starsessions", "starsessions + its RedisStore", "starsessions_app", starsessions_peer="starsessions"
    ),
    Row("express", "Express 5 + express-session + connect-redis 9 (Node)"),
    Row("floor", "floor: bare ASGI session middleware, auto-pipelined GET/SET", "floor_app"),
    Row(
        "connectstore", "connectstore ASGI + RedisStore", "connectstore_app", starsessions_peer="starsessions"
    ),
    Row(
        "connectstore-uvloop",
        "connectstore, uvloop + httptools",
        "connectstore_app",
        uvloop=True,
        starsessions_peer="starsessions-uvloop",
    ),
    Row(
        "starsessions-uvloop",
        "starsessions, uvloop + httptools",
        "starsessions_app",
        uvloop=True,
        starsessions_peer="starsessions-uvloop",
    ),
)


def node_folder() -> Path:
    """The npm folder with the Express side installed (installed on first use)."""
    from tests.node import npm_project

    print("npm: installing/reusing", " ".join(NODE_PACKAGES), file=sys.stderr)
    return npm_project(*NODE_PACKAGES)


def wrk_binary() -> str:
    """``wrk``, installed with apt-get (Debian package ``wrk``) when missing."""
    found = shutil.which("wrk")
    if found is None:
        print("wrk is missing: apt-get install -y wrk", file=sys.stderr)
        subprocess.run(["apt-get", "install", "-y", "wrk"], check=True, capture_output=True)
        found = shutil.which("wrk")
    if found is None:
        sys.exit("wrk is not installed (Debian package wrk)")
    return found


@dataclass
class Server:
    """A row's running server: its process, port, and the file of its sessions' cookies."""

    process: subprocess.Popen[bytes]
    port: int
    cookie_file: str = ""


@contextmanager
def serve(row: Row, redis_url: str, node_dir: Path | None) -> Iterator[Server]:
    """Start ``row``'s server on a free port; yield it; stop it by its pid afterwards."""
    port = free_port()
    env = {**os.environ, "BENCH_REDIS_URL": redis_url, "BENCH_PORT": str(port)}
    if row.factory:
        loop, http = ("uvloop", "httptools") if row.uvloop else ("asyncio", "h11")
        args = [sys.executable, "-m", "uvicorn", f"http_apps:{row.factory}", "--factory"]
        args += ["--app-dir", str(BENCH), "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
        args += ["--loop", loop, "--http", http, "--log-level", "warning", "--no-access-log"]
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
        process = subprocess.Popen(args, env=env)
    else:
        assert node_dir is not None
        script = (BENCH / "express_app.js").read_text()
        process = subprocess.Popen(["node", "-e", script], cwd=node_dir, env=env, stdout=subprocess.DEVNULL)
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


def run_wrk(wrk: str, port: int, cookie_file: str, seconds: float, connections: int) -> dict[str, int]:
    """One wrk run (one thread) against ``port`` with the cookies of ``cookie_file``."""
    args = [wrk, "-t1", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "10s"]
    args += ["-s", str(BENCH / "wrk_session.lua"), f"http://127.0.0.1:{port}/", "--", cookie_file]
    done = subprocess.run(args, capture_output=True, text=True, timeout=seconds + 60)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stdout}{done.stderr}")
    return parse_wrk(done.stdout)


def measure(wrk: str, server: Server, redis_port: int, args: argparse.Namespace) -> Round:
    """One round of one row: wrk's figures with the server's CPU and Redis's counters around it."""
    before_redis = redis_counters(redis_port)
    before_cpu = cpu_seconds(server.process.pid)
    report = run_wrk(wrk, server.port, server.cookie_file, args.seconds, args.connections)
    cpu = cpu_seconds(server.process.pid) - before_cpu
    redis = counters_delta(before_redis, redis_counters(redis_port))
    return Round(
        requests=report["requests"],
        seconds=report["duration_us"] / 1e6,
        p50_us=report["p50_us"],
        p99_us=report["p99_us"],
        cpu_seconds=cpu,
        redis=redis,
        errors=report["errors"] + report["non2xx"],
    )


def main() -> None:
    """Parse the options, start Redis and every server, run the interleaved rounds, print."""
    names = [row.name for row in ROWS]
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--seconds", type=float, default=8, help="length of one wrk run (default 8)")
    parser.add_argument(
        "--connections", type=int, default=32, help="wrk connections, one thread (default 32)"
    )
    parser.add_argument("--only", action="append", choices=names, help="run only this row (repeatable)")
    parser.add_argument("--json", type=Path, help="also write the medians and every round to this file")
    args = parser.parse_args()
    rows = [row for row in ROWS if not args.only or row.name in args.only]
    wrk = wrk_binary()
    node_dir = node_folder() if any(not row.factory for row in rows) else None
    results = {row.name: RowResult(row.name, row.label) for row in rows}
    with redis_server() as redis_port, ExitStack() as stack, tempfile.TemporaryDirectory() as folder:
        redis_url = f"redis://127.0.0.1:{redis_port}/0"
        servers = {}
        for row in rows:
            server = stack.enter_context(serve(row, redis_url, node_dir))
            server.cookie_file = os.path.join(folder, f"{row.name}.cookies")
            with open(server.cookie_file, "w") as out:
                out.write("\n".join(session_cookies(server.port, args.connections)) + "\n")
            run_wrk(wrk, server.port, server.cookie_file, 1, args.connections)  # warm-up
            servers[row.name] = server
        time.sleep(1)  # let the warm-ups' last requests finish before counting
        for number in range(args.rounds):
            order = rows if number % 2 == 0 else rows[::-1]
            for row in order:
                result = measure(wrk, servers[row.name], redis_port, args)
                results[row.name].rounds.append(result)
                print(
                    f"round {number + 1} {row.name:22} {result.rps:8,.0f} req/s "
                    f"{result.cpu_us:6,.0f} µs CPU/req  redis {result.redis}",
                    file=sys.stderr,
                    flush=True,
                )
                time.sleep(0.5)
        for row in rows:  # every wrk request carried a session: its counter went on counting
            server = servers[row.name]
            with open(server.cookie_file) as lines:
                cookie = lines.readline().strip()
            if row.name != "starlette" and get_counter(server.port, cookie) < 3:
                print(f"warning: {row.name}'s sessions did not count: cookies not carried?", file=sys.stderr)
    peers = {row.name: row.starsessions_peer for row in rows}
    ordered = [results[row.name] for row in rows]
    print(f"wrk -t1 -c{args.connections}, {args.rounds} interleaved rounds of {args.seconds:g} s, medians;")
    print(f"{platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} CPUs\n")
    print(format_table(ordered, peers))
    if args.json:
        payload = {
            "settings": {"rounds": args.rounds, "seconds": args.seconds, "connections": args.connections},
            "rows": [r.summary() for r in ordered],
            "rounds": {r.name: [asdict(x) for x in r.rounds] for r in ordered},
        }
        args.json.write_text(json.dumps(payload, indent=2))


if __name__ == "__main__":
    main()
