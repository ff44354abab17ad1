"""A Starlette app using starsessions over :class:`ConnectSessionStore`, and a harness that runs
Starlette's test client and the store on one event loop.
"""

from __future__ import annotations

import warnings
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from anyio.from_thread import BlockingPortal, start_blocking_portal
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route
from starsessions import (
    SessionAutoloadMiddleware,
    SessionMiddleware,
    get_session_metadata,
    get_session_remaining_seconds,
    regenerate_session_id,
)

from connectstore import SessionData, Store
from connectstore.integrations.starsessions import ConnectSessionStore
from tests.integrations.stores import open_test_store

with warnings.catch_warnings():
    # Starlette >= 1.x prefers httpx2 for its test client and warns when it falls back to
    # httpx (what uv.lock installs); the client works the same with either.
    warnings.filterwarnings("ignore", "Using `httpx` with `starlette.testclient`", UserWarning)
    from starlette.testclient import TestClient

T = TypeVar("T")


async def show(request: Request) -> Response:
    return JSONResponse({"data": dict(request.session)})


async def increment(request: Request) -> Response:
    request.session["views"] = request.session.get("views", 0) + 1
    return JSONResponse({"views": request.session["views"]})


async def login(request: Request) -> Response:
    form = await request.json()
    regenerate_session_id(request)
    request.session.clear()
    request.session["user"] = str(form["user"])
    return RedirectResponse("/profile", status_code=302)


async def profile(request: Request) -> Response:
    if "user" not in request.session:
        return JSONResponse({"error": "log in first"}, status_code=401)
    return JSONResponse({"user": request.session["user"], "cart": request.session.get("cart", [])})


async def add_to_cart(request: Request) -> Response:
    request.session["cart"] = [*request.session.get("cart", []), request.path_params["item"]]
    return JSONResponse({"cart": request.session["cart"]})


async def logout(request: Request) -> Response:
    request.session.clear()
    return RedirectResponse("/", status_code=302)


async def metadata(request: Request) -> Response:
    meta = get_session_metadata(request)
    return JSONResponse({"lifetime": meta["lifetime"], "remaining": get_session_remaining_seconds(request)})


async def increment_and_show_metadata(request: Request) -> Response:
    """Modify the session (so it is written) and show starsessions' whole metadata."""
    request.session["views"] = request.session.get("views", 0) + 1
    return JSONResponse({"views": request.session["views"], "metadata": dict(get_session_metadata(request))})


async def grow(request: Request) -> Response:
    request.session["blob"] = "x" * int(request.path_params["size"])
    return JSONResponse({})


async def store_cookie_key(request: Request) -> Response:
    request.session["cookie"] = "mine"
    return JSONResponse({})


class PassThrough(BaseHTTPMiddleware):
    """A ``BaseHTTPMiddleware`` doing nothing: it runs the rest of the app in another task."""

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        return await call_next(request)


def make_app(store: ConnectSessionStore, *, load_in_other_task: bool = False, **options: Any) -> Starlette:
    """The app; ``options`` go to starsessions' ``SessionMiddleware``. With
    ``load_in_other_task``, a ``BaseHTTPMiddleware`` between starsessions' two middlewares
    makes the session load in a task other than the one that saves it.
    """
    options.setdefault("cookie_https_only", False)  # the test client speaks plain HTTP
    routes = [
        Route("/", show),
        Route("/inc", increment),
        Route("/login", login, methods=["POST"]),
        Route("/profile", profile),
        Route("/cart/{item}", add_to_cart, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/meta", metadata),
        Route("/cookie-key", store_cookie_key),
        Route("/inc-meta", increment_and_show_metadata),
        Route("/grow/{size:int}", grow),
    ]
    middleware = [
        Middleware(SessionMiddleware, store=store, **options),
        *([Middleware(PassThrough)] if load_in_other_task else []),
        Middleware(SessionAutoloadMiddleware),
    ]
    return Starlette(routes=routes, middleware=middleware)


@dataclass
class Harness:
    """Starlette's test client and a connectstore store sharing one event loop."""

    portal: BlockingPortal
    store: Store

    def run(self, call: Callable[..., Awaitable[T]], *args: Any) -> T:
        """Run a store coroutine on the app's loop, from the (sync) test."""
        return self.portal.call(call, *args)

    @contextmanager
    def client(
        self,
        session_store: ConnectSessionStore | None = None,
        *,
        raise_errors: bool = True,
        load_in_other_task: bool = False,
        **options: Any,
    ) -> Iterator[TestClient]:
        """Starlette's test client for the app, running it on the store's loop (so it is not
        entered as a context manager: that would start a loop of its own).
        ``raise_errors=False`` turns the app's errors into 500 responses.
        """
        app = make_app(
            session_store or ConnectSessionStore(self.store), load_in_other_task=load_in_other_task, **options
        )
        client = TestClient(app, raise_server_exceptions=raise_errors)
        client.portal = self.portal
        try:
            yield client
        finally:
            client.close()


@contextmanager
def harness(kind: str, tmp_path: Path) -> Iterator[Harness]:
    """A fresh store of ``kind`` on a loop of its own, with a client factory on that loop."""
    with (
        start_blocking_portal() as portal,
        portal.wrap_async_context_manager(open_test_store(kind, tmp_path)) as store,
    ):
        yield Harness(portal, store)


def session_cookie(response: Any) -> str | None:
    """The session id starsessions set (``session=<id>``), ``""`` if cleared, None if none."""
    headers: list[str] = response.headers.get_list("set-cookie")
    if not headers:
        return None
    [header] = headers
    value = header.split(";")[0].split("=", 1)[1]
    return "" if value in ("", "''") else value


HOUR = 3600
"""One hour in seconds: the lifetime most tests give starsessions."""


def stored(h: Harness, sid: str) -> SessionData | None:
    return h.run(h.store.get, sid)


def seconds_left_between(expires_ms: int, before_ms: int, after_ms: int) -> range:
    """What starsessions may report as the seconds left of a session expiring at
    ``expires_ms``, asked at some moment between ``before_ms`` and ``after_ms``: bounds
    from the clock around the request, never from how fast the machine is.
    """
    return range((expires_ms - after_ms) // 1000 - 1, (expires_ms - before_ms) // 1000 + 1)
