"""The Python apps of bench/http_bench.py: one counter route, served by uvicorn.

Each factory builds a Starlette app serving ``GET /`` that adds one to the session's
``n`` (``n = session.get("n", 0) + 1``) and answers ``{"n": n}``; sessions behave as
express-session's ``resave: false, saveUninitialized: false`` with a one-day cookie.
The Redis URL comes from ``BENCH_REDIS_URL``. The benchmark serves them with
``uvicorn http_apps:<factory> --factory --app-dir bench``; the tests call them directly.
"""

from __future__ import annotations

import os
from typing import Any

from redis.asyncio import Redis
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from connectstore import SessionEngine, Store
from connectstore.integrations.asgi import SessionMiddleware

DAY = 24 * 3600
SECRET = "keyboard cat"


def redis_url() -> str:
    """The benchmark's own Redis (``BENCH_REDIS_URL``)."""
    return os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")


async def _counter(request: Request) -> Response:
    session = request.session
    n = session.get("n", 0) + 1
    session["n"] = n
    return JSONResponse({"n": n})


async def _plain(request: Request) -> Response:
    return JSONResponse({"n": 1})


def starlette_app() -> Starlette:
    """Plain Starlette, no session: the floor every session row is compared with."""
    return Starlette(routes=[Route("/", _plain)])


def connectstore_app(store: Store | None = None) -> SessionMiddleware:
    """connectstore's ASGI middleware over connectstore-redis's ``RedisStore`` (or ``store``)."""
    if store is None:
        from connectstore_redis import RedisStore

        store = RedisStore(Redis.from_url(redis_url()), prefix="bench-cs:")
    engine = SessionEngine(
        store, secret=SECRET, resave=False, save_uninitialized=False, cookie={"max_age": DAY}
    )
    return SessionMiddleware(Starlette(routes=[Route("/", _counter)]), engine)


def starsessions_app(store: Any = None) -> Any:
    """starsessions 2 with its own ``RedisStore`` (autoloaded session, one-day lifetime)."""
    from starsessions import SessionAutoloadMiddleware
    from starsessions import SessionMiddleware as StarSessionMiddleware
    from starsessions.stores.redis import RedisStore as StarRedisStore

    if store is None:
        store = StarRedisStore(connection=Redis.from_url(redis_url()), prefix="bench-ss:")
    app = SessionAutoloadMiddleware(Starlette(routes=[Route("/", _counter)]))
    return StarSessionMiddleware(app, store=store, lifetime=DAY, cookie_https_only=False)


def starlette_signed_app() -> Starlette:
    """Starlette's own ``SessionMiddleware``: the session in a signed cookie, no store."""
    from starlette.middleware import Middleware
    from starlette.middleware.sessions import SessionMiddleware as SignedCookieSessions

    middleware = [Middleware(SignedCookieSessions, secret_key=SECRET, max_age=DAY)]
    return Starlette(routes=[Route("/", _counter)], middleware=middleware)


class FloorSessions:
    """The floor: a bare pure-ASGI session middleware doing only what the counter needs.

    It finds the ``connect.sid`` cookie, checks its HMAC, ``GET``s the session, parses it,
    runs the route, then ``SET ... EX`` the session as JSON and signs a new cookie: none of
    express-session's rules, cookie model, expiry, size or conflict checks, timeouts or
    error mapping. Its Redis calls go through connectstore-redis's automatic pipeline (the
    same connection handling as ``RedisStore``), so the gap between this row and the
    ``connectstore`` row is what the engine and the store's layers cost.
    """

    def __init__(self, client: Redis) -> None:
        self.client = client
        self.inner = Starlette(routes=[Route("/", _counter)])
        self.pipelines: dict[Any, Any] = {}
        self.key = SECRET.encode()

    def signature(self, sid: str) -> str:
        """cookie-signature's HMAC-SHA256 of ``sid``, base64 without padding."""
        import base64
        import hashlib
        import hmac

        return base64.b64encode(hmac.digest(self.key, sid.encode(), hashlib.sha256)).decode().rstrip("=")

    def sid_of(self, scope: Any) -> str | None:
        """The session id of the request's valid ``connect.sid`` cookie, if any."""
        import hmac
        from urllib.parse import unquote

        for name, value in scope["headers"]:
            if name != b"cookie":
                continue
            for part in value.decode("latin-1").split(";"):
                cookie_name, _, cookie_value = part.strip().partition("=")
                if cookie_name == "connect.sid":
                    signed = unquote(cookie_value)
                    body, _, mac = signed[2:].rpartition(".")
                    if signed.startswith("s:") and hmac.compare_digest(mac, self.signature(body)):
                        return body
        return None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        import asyncio
        import json
        import secrets
        from urllib.parse import quote

        from connectstore_redis.pipeline import AutoPipeline

        if scope["type"] != "http":
            await self.inner(scope, receive, send)
            return
        loop = asyncio.get_running_loop()
        pipeline = self.pipelines.get(loop) or self.pipelines.setdefault(loop, AutoPipeline(self.client, 5.0))
        sid = self.sid_of(scope)
        data: dict[str, Any] = {}
        if sid is not None:
            raw = await pipeline.execute("GET", f"bench-floor:{sid}")
            if raw is not None:
                data = json.loads(raw)
        new = sid is None
        key = f"bench-floor:{sid or secrets.token_urlsafe(24)}"
        scope["session"] = data

        async def send_with_session(message: Any) -> None:
            if message["type"] == "http.response.start":
                await pipeline.execute("SET", key, json.dumps(data), "EX", DAY)
                if new:
                    sid = key.removeprefix("bench-floor:")
                    value = quote(f"s:{sid}.{self.signature(sid)}", safe="")
                    header = f"connect.sid={value}; Path=/; Max-Age={DAY}; HttpOnly"
                    message["headers"] = [*message.get("headers", []), (b"set-cookie", header.encode())]
            await send(message)

        await self.inner(scope, receive, send_with_session)

    async def close(self) -> None:
        """Close the pipelines and the client."""
        for pipeline in self.pipelines.values():
            await pipeline.close()
        await self.client.aclose()


def floor_app() -> FloorSessions:
    """:class:`FloorSessions` on the benchmark's Redis."""
    return FloorSessions(Redis.from_url(redis_url()))
