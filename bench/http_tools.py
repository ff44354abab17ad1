"""Helpers of bench/http_bench.py: its own redis-server, the server-CPU and Redis counters,
wrk's output, the session cookies every wrk connection carries, and the results table.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    """A TCP port free on loopback right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_port(port: int, process: subprocess.Popen[Any], timeout: float = 60) -> None:
    """Wait until something accepts connections on ``port``; fail if ``process`` exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server {process.args!r} exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"server {process.args!r} did not listen on port {port}")


@contextmanager
def redis_server() -> Iterator[int]:
    """A redis-server of the benchmark's own on a free loopback port (no persistence),
    stopped by its pid afterwards; yields the port.
    """
    binary = shutil.which("redis-server")
    if binary is None:
        sys.exit("redis-server is not installed")
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="connectstore-http-bench-") as folder:
        args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        process = subprocess.Popen([*args, "--dir", folder, "--logfile", os.path.join(folder, "redis.log")])
        try:
            wait_for_port(port, process, timeout=10)
            yield port
        finally:
            os.kill(process.pid, signal.SIGTERM)
            process.wait(timeout=30)


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system, in seconds) the process ``pid`` has used so far, from
    ``/proc/<pid>/stat`` (utime and stime, fields 14 and 15, in clock ticks).
    """
    with open(f"/proc/{pid}/stat") as stat:
        text = stat.read()
    fields = text[text.rindex(")") + 2 :].split()  # after "pid (comm) ", field 3 comes first
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def redis_counters(port: int) -> dict[str, int]:
    """Redis's counters of commands processed (``total``, and one per command from INFO
    commandstats) and of read events (``reads``: one per batch of commands a client sent),
    read with one ``INFO`` over a raw socket (which itself counts as one command and one read).
    """
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(b"INFO everything\r\n")
        data = b""
        while True:
            chunk = conn.recv(65536)
            if not chunk:
                break
            data += chunk
            header, _, body = data.partition(b"\r\n")
            if header.startswith(b"$") and len(body) >= int(header[1:]):
                break
    counters: dict[str, int] = {}
    for line in data.decode().splitlines():
        key, _, value = line.partition(":")
        if key == "total_commands_processed":
            counters["total"] = int(value)
        elif key == "total_reads_processed":
            counters["reads"] = int(value)
        elif key.startswith("cmdstat_"):
            calls = value.split(",", 1)[0]  # calls=N
            counters[key[len("cmdstat_") :]] = int(calls.partition("=")[2])
    return counters


def counters_delta(before: Mapping[str, int], after: Mapping[str, int]) -> dict[str, int]:
    """``after - before`` per counter, without what reading them added: one ``INFO``
    command, and two read events (the second ``INFO``, the first connection's close).
    """
    delta = {key: value - before.get(key, 0) for key, value in after.items()}
    for key, own in (("total", 1), ("reads", 2), ("info", 1)):
        delta[key] = delta.get(key, 0) - own
    return {key: value for key, value in delta.items() if value}


def parse_wrk(output: str) -> dict[str, int]:
    """The JSON line the wrk script's ``done()`` printed (requests, errors, p50/p99 in µs)."""
    for line in output.splitlines():
        if line.startswith("BENCH "):
            parsed: dict[str, int] = json.loads(line[len("BENCH ") :])
            return parsed
    raise RuntimeError(f"wrk printed no BENCH line:\n{output}")


def session_cookies(port: int, count: int) -> list[str]:
    """``count`` sessions made by a first request each: their ``name=value`` cookies
    (empty strings for an app that sets no cookie).
    """
    cookies = []
    for _ in range(count):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            conn.request("GET", "/")
            response = conn.getresponse()
            response.read()
            if response.status != 200:
                raise RuntimeError(f"GET / answered {response.status}")
            header = response.getheader("Set-Cookie") or ""
            cookies.append(header.split(";", 1)[0])
        finally:
            conn.close()
    return cookies


def get_counter(port: int, cookie: str) -> int:
    """The counter ``GET /`` answers with ``cookie`` (a ``name=value``)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", "/", headers={"Cookie": cookie} if cookie else {})
        response = conn.getresponse()
        n: int = json.loads(response.read())["n"]
        return n
    finally:
        conn.close()


@dataclass
class Round:
    """One wrk run of one row: what wrk, the server's CPU counters and Redis reported."""

    requests: int
    seconds: float
    p50_us: float
    p99_us: float
    cpu_seconds: float
    redis: dict[str, int]
    errors: int = 0

    @property
    def rps(self) -> float:
        """Requests per second."""
        return self.requests / self.seconds

    @property
    def cpu_us(self) -> float:
        """Server CPU per request, in µs."""
        return self.cpu_seconds * 1e6 / max(self.requests, 1)


@dataclass
class RowResult:
    """Every round of one row, and their medians."""

    name: str
    label: str
    rounds: list[Round] = field(default_factory=list)

    def median(self, attribute: str) -> float:
        """The median over the rounds of a :class:`Round` attribute or property."""
        return float(statistics.median(getattr(r, attribute) for r in self.rounds))

    def per_request(self, counter: str) -> float:
        """Median over the rounds of a Redis counter divided by the requests served."""
        return statistics.median(r.redis.get(counter, 0) / max(r.requests, 1) for r in self.rounds)

    def summary(self) -> dict[str, Any]:
        """The medians, as the table and ``--json`` show them."""
        return {
            "row": self.name,
            "label": self.label,
            "req_s": self.median("rps"),
            "p50_ms": self.median("p50_us") / 1000,
            "p99_ms": self.median("p99_us") / 1000,
            "cpu_us_per_req": self.median("cpu_us"),
            "redis_commands_per_req": self.per_request("total"),
            "redis_reads_per_req": self.per_request("reads"),
            "errors": sum(r.errors for r in self.rounds),
        }


def ratio(value: float, base: float | None) -> str:
    """``value / base`` to two decimals, or ``-`` without a base."""
    return "-" if not base else f"{value / base:.2f}"


def format_table(results: Sequence[RowResult], peers: Mapping[str, str]) -> str:
    """The Markdown table of the medians; ``peers`` maps a row to its starsessions row."""
    by_name = {r.name: r.summary() for r in results}
    express = by_name.get("express", {})
    lines = [
        "| row | req/s | p50 ms | p99 ms | CPU µs/req | Redis cmds/req | Redis reads/req "
        "| req/s vs Express | CPU vs Express | req/s vs starsessions | errors |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for result in results:
        row = by_name[result.name]
        star = by_name.get(peers.get(result.name, ""), {})
        lines.append(
            f"| {row['label']} | {row['req_s']:,.0f} | {row['p50_ms']:.2f} | {row['p99_ms']:.2f} "
            f"| {row['cpu_us_per_req']:,.0f} | {row['redis_commands_per_req']:.2f} "
            f"| {row['redis_reads_per_req']:.2f} "
            f"| {ratio(row['req_s'], express.get('req_s'))} "
            f"| {ratio(row['cpu_us_per_req'], express.get('cpu_us_per_req'))} "
            f"| {ratio(row['req_s'], star.get('req_s'))} | {row['errors']} |"
        )
    return "\n".join(lines)
