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
