"""In-process benchmark of issue 14: the same session counter through each framework's own
test client, connectstore's integration against the framework's own Redis-backed sessions.

Run by hand from the repository root (it starts its own redis-server on a free port):

    .venv/bin/python bench/integrations_bench.py                   # 5 rounds of 500 requests
    .venv/bin/python bench/integrations_bench.py --rounds 3 --requests 300 --json /tmp/integrations.json

Every contender serves ``n = session.get("n", 0) + 1`` with sequential requests that carry the
cookie of the first one (resave=False, save_uninitialized=False, a one-day cookie):

* aiohttp, through aiohttp's test client on a loopback server: connectstore's
  ``session_middleware`` + RedisStore against aiohttp-session's ``RedisStorage``;
* Flask's test client: ``ConnectSession`` + RedisStore against Flask-Session's redis backend and
  Flask's own signed cookie;
* Django's test client: ``SESSION_ENGINE`` on connectstore + RedisStore against Django's cache
  sessions on its Redis cache backend;
* the engine alone, in process: the ASGI apps called directly (no server, no HTTP parsing), plain
  Starlette, connectstore's ASGI middleware on MemoryStore, Starlette's signed-cookie
  ``SessionMiddleware``; their cost is also given in µs per request over plain Starlette;
* the sync bridge's hop, only with ``--only bridge`` (µs per call, not per request): RedisStore's
  ``get`` awaited on the caller's own loop, the same through ``BlockingStore.get`` (one hop to
  the bridge's loop thread and back), a hop around a coroutine that does no I/O, and redis-py's
  blocking ``GET`` (what Flask-Session and Django's cache pay per store call).

The contenders take turns within each round; the table shows the median µs per request (wall
clock), the median CPU µs per request (the whole process, every thread: the sync bridges' loop
thread included; steadier than wall clock on a busy machine) and the wall-clock ratio against
each group's peer.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.http_apps import DAY, SECRET, connectstore_app, starlette_app, starlette_signed_app  # noqa: E402
from bench.http_tools import redis_server  # noqa: E402

Batch = Callable[[int], None]  # runs n sequential requests


def redis_store(url: str, prefix: str) -> Any:
    """A connectstore-redis store on the benchmark's Redis (a fresh client)."""
    from redis.asyncio import Redis

    from connectstore_redis import RedisStore

    return RedisStore(Redis.from_url(url), prefix=prefix)


async def asgi_get(app: Any, cookie: str) -> tuple[int, str]:
    """One ``GET /`` straight into an ASGI app: its status and the cookie to send next."""
    headers = [(b"host", b"bench")] + ([(b"cookie", cookie.encode())] if cookie else [])
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/",
        "raw_path": b"/",
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
    }
    status = 0

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status, cookie
        if message["type"] == "http.response.start":
            status = message["status"]
            for key, value in message.get("headers", []):
                if key.lower() == b"set-cookie":
                    cookie = value.decode().split(";", 1)[0]

    await app(scope, receive, send)
    return status, cookie


def asgi_contender(loop: asyncio.AbstractEventLoop, app: Any) -> Batch:
    """Sequential requests straight into ``app`` on ``loop``, carrying its cookie."""
    cookie = ""

    async def batch(n: int) -> None:
        nonlocal cookie
        for _ in range(n):
            status, cookie = await asgi_get(app, cookie)
            if status != 200:
                raise RuntimeError(f"ASGI app answered {status}")

    return lambda n: loop.run_until_complete(batch(n))


def aiohttp_contenders(
    loop: asyncio.AbstractEventLoop, url: str, closers: list[Callable[[], None]]
) -> dict[str, Batch]:
    """connectstore's ``session_middleware`` and aiohttp-session's ``RedisStorage``, each
    through aiohttp's test client on its own loopback server (closed by ``closers``).
    """
    import aiohttp_session
    from aiohttp import web
    from aiohttp.test_utils import TestClient, TestServer
    from aiohttp_session.redis_storage import RedisStorage
    from redis.asyncio import Redis

    from connectstore.integrations.aiohttp import get_session, session_middleware

    async def ours(request: web.Request) -> web.Response:
        session = get_session(request)
        assert session is not None
        session["n"] = n = session.get("n", 0) + 1
        return web.json_response({"n": n})

    async def theirs(request: web.Request) -> web.Response:
        session = await aiohttp_session.get_session(request)
        session["n"] = n = session.get("n", 0) + 1
        return web.json_response({"n": n})

    options: dict[str, Any] = {
        "secret": SECRET,
        "resave": False,
        "save_uninitialized": False,
        "cookie": {"max_age": DAY},
    }
    store = redis_store(url, "bench-aio:")
    closers.append(lambda: loop.run_until_complete(store.close()))
    connectstore = web.Application(middlewares=[session_middleware(store, **options)])
    connectstore.router.add_get("/", ours)
    peer = web.Application()
    aiohttp_session.setup(peer, RedisStorage(Redis.from_url(url), max_age=DAY))
    peer.router.add_get("/", theirs)

    def contender(app: web.Application) -> Batch:
        async def start() -> TestClient[web.Request, web.Application]:
            client = TestClient(TestServer(app))  # on the running loop
            await client.start_server()
            return client

        client = loop.run_until_complete(start())
        closers.append(lambda: loop.run_until_complete(client.close()))

        async def batch(n: int) -> None:
            for _ in range(n):
                async with client.get("/") as response:
                    if response.status != 200:
                        raise RuntimeError(f"aiohttp app answered {response.status}")
                    await response.read()

        return lambda n: loop.run_until_complete(batch(n))

    return {
        "aiohttp: connectstore + RedisStore": contender(connectstore),
        "aiohttp: aiohttp-session": contender(peer),
    }


def flask_contenders(url: str, closers: list[Callable[[], None]]) -> dict[str, Batch]:
    """``ConnectSession`` + RedisStore, Flask-Session's redis backend and Flask's signed
    cookie, each through Flask's test client (``closers`` close ConnectSession's bridge).
    """
    import redis
    from flask import Flask, session
    from flask_session import Session as FlaskSessionExtension  # type: ignore[import-untyped]

    from connectstore.integrations.flask import ConnectSession

    def app_with(setup: Callable[[Flask], object]) -> Flask:
        app = Flask(__name__)
        app.secret_key = SECRET
        setup(app)

        @app.get("/")
        def counter() -> dict[str, int]:
            session["n"] = n = session.get("n", 0) + 1
            return {"n": n}

        return app

    def connect(app: Flask) -> None:
        closers.append(
            ConnectSession(
                app,
                lambda: redis_store(url, "bench-flask:"),
                resave=False,
                save_uninitialized=False,
                cookie={"max_age": DAY},
            ).close
        )

    def flask_session(app: Flask) -> None:
        app.config.update(SESSION_TYPE="redis", SESSION_REDIS=redis.Redis.from_url(url))
        app.config.update(PERMANENT_SESSION_LIFETIME=DAY)
        FlaskSessionExtension(app)

    def contender(app: Flask) -> Batch:
        client = app.test_client()

        def batch(n: int) -> None:
            for _ in range(n):
                response = client.get("/")
                if response.status_code != 200:
                    raise RuntimeError(f"Flask app answered {response.status_code}")

        return batch

    return {
        "Flask: ConnectSession + RedisStore": contender(app_with(connect)),
        "Flask: Flask-Session redis": contender(app_with(flask_session)),
        "Flask: signed cookie": contender(app_with(lambda app: None)),
    }


def django_contenders(url: str, closers: list[Callable[[], None]]) -> dict[str, Batch]:
    """Django's ``SESSION_ENGINE`` on connectstore + RedisStore and Django's cache sessions on
    its Redis cache backend, each through Django's test client (``closers`` close the bridge).
    """
    import django  # type: ignore[import-untyped]
    from django.conf import settings  # type: ignore[import-untyped]
    from django.http import HttpRequest, JsonResponse  # type: ignore[import-untyped]
    from django.test import Client, override_settings  # type: ignore[import-untyped]
    from django.urls import path  # type: ignore[import-untyped]

    def counter(request: HttpRequest) -> JsonResponse:
        request.session["n"] = n = request.session.get("n", 0) + 1
        return JsonResponse({"n": n})

    urls = types.ModuleType("bench_integrations_urls")  # ROOT_URLCONF may be a module object
    urls.urlpatterns = [path("", counter)]  # type: ignore[attr-defined]
    settings.configure(
        SECRET_KEY=SECRET,
        ALLOWED_HOSTS=["testserver"],
        ROOT_URLCONF=urls,
        INSTALLED_APPS=[],
        MIDDLEWARE=["django.contrib.sessions.middleware.SessionMiddleware"],
        SESSION_COOKIE_AGE=DAY,
        CACHES={"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url}},
        CONNECTSTORE={"store": lambda: redis_store(url, "bench-django:")},
        USE_TZ=True,
    )
    django.setup()
    from connectstore.integrations.django import close_bridge

    closers.append(close_bridge)

    def contender(engine: str) -> Batch:
        with override_settings(SESSION_ENGINE=engine):
            client = Client()

        def batch(n: int) -> None:
            with override_settings(SESSION_ENGINE=engine):
                for _ in range(n):
                    response = client.get("/")
                    if response.status_code != 200:
                        raise RuntimeError(f"Django app answered {response.status_code}")

        return batch

    return {
        "Django: connectstore engine + RedisStore": contender("connectstore.integrations.django"),
        "Django: cache sessions on Redis": contender("django.contrib.sessions.backends.cache"),
    }


def bridge_contenders(
    loop: asyncio.AbstractEventLoop, url: str, closers: list[Callable[[], None]]
) -> dict[str, Batch]:
    """One store call per batch item: on the caller's loop, through a :class:`BlockingStore`,
    a bridge hop without I/O, and redis-py's blocking ``GET``.
    """
    import redis

    from connectstore.blocking import BlockingStore

    session = {"cookie": {"originalMaxAge": DAY * 1000, "expires": None}, "n": 1}
    direct = redis_store(url, "bench-bridge:")
    loop.run_until_complete(direct.set("s", session))
    closers.append(lambda: loop.run_until_complete(direct.close()))
    bridge = BlockingStore(lambda: redis_store(url, "bench-bridge:"))
    closers.append(bridge.close)
    client = redis.Redis.from_url(url)
    closers.append(client.close)

    async def awaited(n: int) -> None:
        for _ in range(n):
            await direct.get("s")

    async def nothing() -> None:
        return None

    def through_bridge(n: int) -> None:
        for _ in range(n):
            bridge.get("s")

    def hop(n: int) -> None:
        for _ in range(n):
            bridge.run(nothing())

    def blocking_get(n: int) -> None:
        for _ in range(n):
            client.get("bench-bridge:s")

    return {
        "bridge: RedisStore get on the caller's loop": lambda n: loop.run_until_complete(awaited(n)),
        "bridge: RedisStore get through BlockingStore": through_bridge,
        "bridge: a hop without I/O": hop,
        "bridge: redis-py blocking GET": blocking_get,
    }


def engine_contenders(loop: asyncio.AbstractEventLoop) -> dict[str, Batch]:
    """The ASGI apps called directly: plain Starlette, connectstore on MemoryStore,
    Starlette's signed-cookie sessions.
    """
    from connectstore import MemoryStore

    return {
        "engine: plain Starlette": asgi_contender(loop, starlette_app()),
        "engine: connectstore + MemoryStore": asgi_contender(loop, connectstore_app(MemoryStore())),
        "engine: Starlette SessionMiddleware": asgi_contender(loop, starlette_signed_app()),
    }


PEERS = {
    "aiohttp: connectstore + RedisStore": "aiohttp: aiohttp-session",
    "Flask: ConnectSession + RedisStore": "Flask: Flask-Session redis",
    "Flask: signed cookie": "Flask: Flask-Session redis",
    "Django: connectstore engine + RedisStore": "Django: cache sessions on Redis",
    "engine: connectstore + MemoryStore": "engine: Starlette SessionMiddleware",
    "bridge: RedisStore get through BlockingStore": "bridge: RedisStore get on the caller's loop",
}
PLAIN = "engine: plain Starlette"


def format_table(medians: dict[str, float], cpu: dict[str, float]) -> str:
    """The Markdown table: µs per request, CPU µs per request, the ratio to the group's peer,
    and for the engine rows the µs per request over plain Starlette.
    """
    lines = [
        "| contender | µs/request | CPU µs/request | vs peer | µs over plain Starlette |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, us in medians.items():
        peer = PEERS.get(name)
        versus = f"{us / medians[peer]:.2f}x {peer.split(': ', 1)[1]}" if peer in medians else "-"
        over = f"{us - medians[PLAIN]:,.1f}" if name.startswith("engine") and PLAIN in medians else "-"
        lines.append(f"| {name} | {us:,.1f} | {cpu[name]:,.1f} | {versus} | {over} |")
    return "\n".join(lines)


def main() -> None:
    """Parse the options, start Redis, run the interleaved rounds, print the table."""
    groups = ("aiohttp", "flask", "django", "engine", "bridge")
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    parser.add_argument(
        "--requests", type=int, default=500, help="sequential requests per round (default 500)"
    )
    parser.add_argument("--only", action="append", choices=groups, help="run only this group (repeatable)")
    parser.add_argument("--json", type=Path, help="also write the medians and every round to this file")
    args = parser.parse_args()
    chosen = args.only or groups[:-1]  # the bridge's per-call rows only when asked for
    loop = asyncio.new_event_loop()
    with redis_server() as port:
        url = f"redis://127.0.0.1:{port}/0"
        contenders: dict[str, Batch] = {}
        closers: list[Callable[[], None]] = []
        if "aiohttp" in chosen:
            contenders |= aiohttp_contenders(loop, url, closers)
        if "flask" in chosen:
            contenders |= flask_contenders(url, closers)
        if "django" in chosen:
            contenders |= django_contenders(url, closers)
        if "engine" in chosen:
            contenders |= engine_contenders(loop)
        if "bridge" in chosen:
            contenders |= bridge_contenders(loop, url, closers)
        for batch in contenders.values():
            batch(max(args.requests // 5, 20))  # warm-up; the first request makes the session
        times: dict[str, list[float]] = {name: [] for name in contenders}
        cpu_times: dict[str, list[float]] = {name: [] for name in contenders}
        for number in range(args.rounds):
            order = list(contenders.items())
            for name, batch in order if number % 2 == 0 else order[::-1]:
                started, cpu_started = time.perf_counter(), time.process_time()
                batch(args.requests)
                times[name].append((time.perf_counter() - started) * 1e6 / args.requests)
                cpu_times[name].append((time.process_time() - cpu_started) * 1e6 / args.requests)
            print(
                f"round {number + 1}: " + ", ".join(f"{n} {t[-1]:.0f}" for n, t in times.items()),
                file=sys.stderr,
            )
        for close in closers:
            close()
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
    medians = {name: statistics.median(values) for name, values in times.items()}
    cpu = {name: statistics.median(values) for name, values in cpu_times.items()}
    print(f"{args.rounds} interleaved rounds of {args.requests} sequential requests, medians:\n")
    print(format_table(medians, cpu))
    if args.json:
        report = {
            "medians_us": medians,
            "rounds_us": times,
            "cpu_medians_us": cpu,
            "cpu_rounds_us": cpu_times,
        }
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
