"""The helpers of bench/http_bench.py: the CPU-time reader, Redis's counters, the results
table, the apps' counter route, and wrk's cookie script through a real short wrk run.
No timing is asserted: only that each helper measures what it says.
"""

from __future__ import annotations

import asyncio
import os
import socket
import tempfile
import time

import httpx
import pytest

from bench.http_apps import connectstore_app, starlette_app, starlette_signed_app, starsessions_app
from bench.http_tools import (
    Round,
    RowResult,
    counters_delta,
    cpu_seconds,
    format_table,
    get_counter,
    parse_wrk,
    redis_counters,
    session_cookies,
)
from connectstore import MemoryStore
from tests.serving import served
from tests.tools import require_tool


def test_cpu_seconds_reads_this_process_utime_and_stime() -> None:
    times = os.times()
    ours = cpu_seconds(os.getpid())
    assert abs(ours - (times.user + times.system)) < 0.05
    spent = time.process_time() + 0.05
    while time.process_time() < spent:  # burn some CPU
        pass
    assert cpu_seconds(os.getpid()) > ours


def test_redis_counters_count_commands_and_reads() -> None:
    before = redis_counters(6379)
    with socket.create_connection(("127.0.0.1", 6379)) as conn:
        conn.sendall(b"PING\r\nPING\r\n")  # two commands in one write
        received = b""
        while received.count(b"\r\n") < 2:
            received += conn.recv(100)
    delta = counters_delta(before, redis_counters(6379))
    # The shared Redis may serve other tests meanwhile: at least our two PINGs.
    assert delta["ping"] >= 2
    assert delta["total"] >= 2
    assert delta["reads"] >= 1


def test_parse_wrk_and_table_ratios() -> None:
    line = 'noise\nBENCH {"requests": 100, "duration_us": 1000000, "errors": 0, "non2xx": 0, '
    line += '"p50_us": 1500, "p99_us": 9000}\n'
    assert parse_wrk(line)["p99_us"] == 9000
    with pytest.raises(RuntimeError):
        parse_wrk("no summary")

    def row(name: str, requests: int, cpu: float) -> RowResult:
        result = RowResult(name, name)
        result.rounds.append(
            Round(requests, 1.0, 1000, 5000, cpu, {"total": 2 * requests, "reads": requests})
        )
        return result

    express, star, ours = (
        row("express", 1000, 0.3),
        row("starsessions", 500, 0.25),
        row("connectstore", 2000, 0.4),
    )
    assert ours.summary()["cpu_us_per_req"] == pytest.approx(200)
    assert ours.summary()["redis_commands_per_req"] == pytest.approx(2)
    table = format_table(
        [express, star, ours], {"connectstore": "starsessions", "starsessions": "starsessions"}
    )
    ours_line = table.splitlines()[-1]
    # req/s vs Express 2.00, CPU per request vs Express 200/300, req/s vs starsessions 4.00
    assert "| 2.00 | 0.67 | 4.00 |" in ours_line
    assert "| - |" in table.splitlines()[2]  # Express has no starsessions peer


@pytest.mark.parametrize(
    "make", [lambda: connectstore_app(MemoryStore()), starlette_signed_app, starsessions_app]
)
async def test_apps_count_in_the_session(make: object) -> None:
    if make is starsessions_app:
        from starsessions import InMemoryStore

        app = starsessions_app(InMemoryStore())
    else:
        app = make()  # type: ignore[operator]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        assert [(await client.get("/")).json()["n"] for _ in range(3)] == [1, 2, 3]
    transport = httpx.ASGITransport(app=starlette_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        assert (await client.get("/")).json() == {"n": 1}


async def test_wrk_script_sends_the_session_cookies() -> None:
    from bench.http_bench import run_wrk

    wrk = require_tool("wrk")

    async with served(connectstore_app(MemoryStore())) as url:
        port = int(url.rsplit(":", 1)[1])
        cookies = await asyncio.to_thread(session_cookies, port, 2)
        assert all(cookie.startswith("connect.sid=s%3A") for cookie in cookies)
        with tempfile.NamedTemporaryFile("w", suffix=".cookies") as cookie_file:
            cookie_file.write("\n".join(cookies) + "\n")
            cookie_file.flush()
            # one connection: requests are sequential, so no update of a session is lost
            report = await asyncio.to_thread(run_wrk, wrk, port, cookie_file.name, 1, 1)
        assert report["requests"] > 0
        assert report["errors"] == report["non2xx"] == 0
        counts = [await asyncio.to_thread(get_counter, port, cookie) for cookie in cookies]
    # Each session counted its first request, the wrk requests that carried it (taken in
    # turn, so both got some), maybe one still in flight when wrk stopped, and this read.
    assert all(count > 2 for count in counts)
    assert report["requests"] + 4 <= sum(counts) <= report["requests"] + 5


async def test_the_floor_app_counts_and_signs_as_express_session() -> None:
    from urllib.parse import unquote

    from redis.asyncio import Redis

    from bench.http_apps import SECRET, FloorSessions
    from connectstore.signing import unsign_cookie

    app = FloorSessions(Redis.from_url("redis://127.0.0.1:6379/0"))
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            first = await client.get("/")
            assert [first.json()["n"]] + [(await client.get("/")).json()["n"] for _ in range(2)] == [1, 2, 3]
        signed = first.cookies["connect.sid"]
        assert unsign_cookie(unquote(signed), SECRET) is not None  # what express-session accepts
        transport = httpx.ASGITransport(app=app)
        tampered = {"connect.sid": signed[:-2] + ("AA" if not signed.endswith("AA") else "BB")}
        async with httpx.AsyncClient(transport=transport, base_url="http://test", cookies=tampered) as client:
            assert (await client.get("/")).json()["n"] == 1  # a new session
    finally:
        await app.close()
