"""What connectstore's session engine costs per request, in process (no HTTP server).

Each app is a Starlette app called directly as an ASGI application (scope, receive, send),
so the figures are the middleware's own cost: plain Starlette with no session, Starlette's
signed-cookie ``SessionMiddleware``, and connectstore's ASGI middleware over a
``MemoryStore`` (eager, and with ``lazy=True`` / ``touch_after``). Three routes:

* ``/count``: the counter (``n = session.get("n", 0) + 1``), a write on every request;
* ``/read``: reads the session, never changes it;
* ``/none``: never touches the session.

Rounds are interleaved (every app runs once per round, in turn) and the median round is
reported, as CPU µs per request and as the overhead over plain Starlette. A second table
counts store calls per request with each option set. Command::

    .venv/bin/python bench/engine_bench.py --requests 3000 --rounds 7
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware as StarletteSessions
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from connectstore import MemoryStore, SessionData, SessionEngine
from connectstore.integrations.asgi import SessionMiddleware, load_session

ROUTES = ("/count", "/read", "/none")
SECRET = "keyboard cat"


class CountingStore(MemoryStore):
    """MemoryStore counting the contract calls the engine makes."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = {"get": 0, "set": 0, "touch": 0, "destroy": 0}

    async def get(self, sid: str) -> SessionData | None:
        self.calls["get"] += 1
        return await super().get(sid)

    async def set(self, sid: str, session: SessionData) -> None:
        self.calls["set"] += 1
        await super().set(sid, session)

    async def touch(self, sid: str, session: SessionData) -> None:
        self.calls["touch"] += 1
        await super().touch(sid, session)

    async def destroy(self, sid: str) -> None:
        self.calls["destroy"] += 1
        await super().destroy(sid)


def _routes(session_of: Callable[[Request], Awaitable[Any]]) -> list[Route]:
    async def count(request: Request) -> Response:
        session = await session_of(request)
        n = session.get("n", 0) + 1
        session["n"] = n
        return PlainTextResponse(str(n))

    async def read(request: Request) -> Response:
        session = await session_of(request)
        return PlainTextResponse(str(session.get("n", 0)))

    async def none(request: Request) -> Response:
        return PlainTextResponse("ok")

    return [Route("/count", count), Route("/read", read), Route("/none", none)]


async def _scope_session(request: Request) -> Any:
    return request.session


def plain_app() -> Starlette:
    """Starlette without sessions (its routes see an empty dict)."""

    async def empty(request: Request) -> Any:
        return {}

    return Starlette(routes=_routes(empty))


def starlette_app() -> Starlette:
    """Starlette's own signed-cookie sessions."""
    return Starlette(
        routes=_routes(_scope_session),
        middleware=[Middleware(StarletteSessions, secret_key=SECRET, max_age=86400)],
    )


def connectstore_app(store: MemoryStore, *, lazy: bool = False, **options: Any) -> Starlette:
    """connectstore's ASGI middleware, the counter's options (``resave=False``,
    ``save_uninitialized=False``, one day), plus ``options``.
    """
    engine = SessionEngine(
        store,
        secret=SECRET,
        resave=False,
        save_uninitialized=False,
        cookie={"max_age": 86400},
        **options,
    )
    return Starlette(
        routes=_routes(load_session),
        middleware=[Middleware(SessionMiddleware, engine=engine, lazy=lazy)],
    )


class Client:
    """Calls an ASGI app directly, keeping the one cookie it was last sent."""

    def __init__(self, app: Starlette) -> None:
        self.app = app
        self.cookie: bytes | None = None

    async def request(self, path: str) -> None:
        headers = [(b"host", b"bench"), (b"user-agent", b"bench/1"), (b"accept", b"*/*")]
        if self.cookie is not None:
            headers.append((b"cookie", self.cookie))
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": headers,
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 80),
        }

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status = message["status"]
                if status != 200:
                    raise RuntimeError(f"{path} answered {status}")
                for name, value in message.get("headers", ()):
                    if name == b"set-cookie":
                        self.cookie = value.split(b";", 1)[0]

        await self.app(scope, receive, send)


async def _time(client: Client, path: str, requests: int) -> float:
    """CPU µs per request: the process's CPU time, steadier than wall time on a busy machine
    (the loop is single-threaded and never waits on I/O here).
    """
    started = time.process_time()
    for _ in range(requests):
        await client.request(path)
    return (time.process_time() - started) / requests * 1e6


async def latency(requests: int, rounds: int) -> None:
    """The µs table: every app on every route, interleaved rounds, median round."""
    apps: dict[str, Callable[[], Starlette]] = {
        "plain Starlette": plain_app,
        "Starlette SessionMiddleware": starlette_app,
        "connectstore": lambda: connectstore_app(MemoryStore()),
        "connectstore lazy": lambda: connectstore_app(MemoryStore(), lazy=True),
        "connectstore touch_after=60": lambda: connectstore_app(MemoryStore(), touch_after=60),
    }
    print(f"\n{requests} requests per round, {rounds} rounds, median round, CPU µs per request\n")
    print("| route | app | µs/request | over plain Starlette |")
    print("|---|---|---:|---:|")
    for path in ROUTES:
        clients = {name: Client(make()) for name, make in apps.items()}
        for client in clients.values():
            await client.request("/count")  # a session exists; the cookie is set
            await _time(client, path, requests // 10)  # warm-up
        results: dict[str, list[float]] = {name: [] for name in apps}
        for _ in range(rounds):
            for name, client in clients.items():
                results[name].append(await _time(client, path, requests))
        plain = statistics.median(results["plain Starlette"])
        for name, values in results.items():
            median = statistics.median(values)
            over = "" if name == "plain Starlette" else f"{median - plain:+.1f}"
            print(f"| {path} | {name} | {median:.1f} | {over} |")


async def store_calls(requests: int) -> None:
    """Store calls per request on each route (a session already exists)."""
    variants: dict[str, dict[str, Any]] = {
        "default": {},
        "touch_after=60": {"touch_after": 60},
        "lazy": {"lazy": True},
        "lazy + touch_after=60": {"lazy": True, "touch_after": 60},
    }
    print("\nstore calls per request (get/set/touch), a session already exists\n")
    print("| options | route | get | set | touch | total |")
    print("|---|---|---:|---:|---:|---:|")
    for label, options in variants.items():
        for path in ROUTES:
            store = CountingStore()
            client = Client(connectstore_app(store, **options))
            await client.request("/count")
            for key in store.calls:
                store.calls[key] = 0
            for _ in range(requests):
                await client.request(path)
            per = {key: value / requests for key, value in store.calls.items()}
            total = sum(per.values())
            print(f"| {label} | {path} | {per['get']:g} | {per['set']:g} | {per['touch']:g} | {total:g} |")


async def one(spec: str) -> None:
    """``APP:ROUTE:N``: N requests of one app on one route after 20 of warm-up, nothing
    printed (for ``valgrind --tool=callgrind``: subtract the ``:0`` run's count; run that
    one first after editing a module, or the first run's count includes compiling it).
    """
    kind, path, count = spec.split(":")
    makers: dict[str, Callable[[], Starlette]] = {
        "plain": plain_app,
        "starlette": starlette_app,
        "connectstore": lambda: connectstore_app(MemoryStore()),
        "lazy": lambda: connectstore_app(MemoryStore(), lazy=True),
        "touch_after": lambda: connectstore_app(MemoryStore(), touch_after=60),
    }
    client = Client(makers[kind]())
    await client.request("/count")
    for _ in range(20 + int(count)):
        await client.request(path)


def main() -> None:
    """Run both tables (or one app for callgrind, ``--one``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000, help="requests per app per round")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--calls-only", action="store_true", help="only the store-call table")
    parser.add_argument("--uvloop", action="store_true", help="run on uvloop")
    parser.add_argument("--one", metavar="APP:ROUTE:N", help="N requests of one app (lazy:/none:1000)")
    args = parser.parse_args()
    if args.one:
        asyncio.run(one(args.one))
        return
    if args.uvloop:
        import uvloop

        uvloop.install()
    if not args.calls_only:
        asyncio.run(latency(args.requests, args.rounds))
    asyncio.run(store_calls(200))


if __name__ == "__main__":
    main()
