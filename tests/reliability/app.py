"""The application the soak and hostile-input tests drive over real HTTP.

Four routes cover a user's life: ``/login`` (regenerate, then own the session),
``/update`` (write a new sequence number), ``/read`` and ``/logout`` (destroy). Every
session records its ``owner`` and its own ``sid``, so a write that lands in another
session is visible to whoever reads it. A store error becomes a JSON answer naming the
error (503 for :class:`StoreUnavailableError`, 500 otherwise) instead of a traceback.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import datetime, timezone
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from connectstore import Session, SessionEngine, Store, StoreError, StoreUnavailableError
from connectstore.integrations.asgi import SessionMiddleware

SECRET = "reliability secret"
Message = MutableMapping[str, Any]
ASGIApp = Callable[
    [MutableMapping[str, Any], Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]],
    Awaitable[None],
]


class AsciiJSONResponse(JSONResponse):
    r"""JSON with ``\u`` escapes, so that a lone surrogate in the session can be sent."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, separators=(",", ":")).encode("ascii")


def _session(request: Request) -> Session | None:
    session: Session | None = request.scope.get("session")
    return session


async def login(request: Request) -> Response:
    session = _session(request)
    assert session is not None
    await session.regenerate()
    session["owner"] = request.query_params["client"]
    session["sid"] = session.id
    session["n"] = 0
    return JSONResponse({"id": session.id})


async def update(request: Request) -> Response:
    session = _session(request)
    assert session is not None
    if "owner" not in session:
        return JSONResponse({"id": session.id, "error": "no session"}, status_code=409)
    session["n"] = int(request.query_params["n"])
    return JSONResponse({"id": session.id, "n": session["n"]})


async def read(request: Request) -> Response:
    session = _session(request)
    if session is None:
        return AsciiJSONResponse({"id": None, "data": None})
    return AsciiJSONResponse({"id": session.id, "data": dict(session)})


async def logout(request: Request) -> Response:
    session = _session(request)
    assert session is not None
    await session.destroy()
    return JSONResponse({"ok": True})


async def put(request: Request) -> Response:
    """Store an arbitrary JSON body under ``value`` (hostile-input tests)."""
    session = _session(request)
    assert session is not None
    session["value"] = json.loads(await request.body())
    return JSONResponse({"id": session.id})


async def put_unstorable(request: Request) -> Response:
    """Store a value JSON cannot carry to a Node reader (the kind given by ``?kind=``)."""
    session = _session(request)
    assert session is not None
    kind = request.query_params["kind"]
    values: dict[str, Any] = {
        "datetime": datetime.now(timezone.utc),
        "bytes": b"\x00\xff",
        "set": {1, 2},
        "nan": float("nan"),
        "infinity": float("inf"),
        "big_int": 2**53,
        "int_key": {1: "one"},
        "object": object(),
    }
    session["value"] = {"nested": [values[kind]]}
    return JSONResponse({"id": session.id})


def store_error_reply(exc: StoreError) -> JSONResponse:
    """``{"error": <exception class>, "message": ...}``: 503 when the store is unavailable, else 500."""
    status = 503 if isinstance(exc, StoreUnavailableError) else 500
    return JSONResponse({"error": type(exc).__name__, "message": str(exc)}, status_code=status)


async def _handle_store_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StoreError)
    return store_error_reply(exc)


class StoreErrorsAsJSON:
    """Outermost wrapper: a store error raised while the session middleware loads the
    session (it propagates, as the framework's server error) becomes the same JSON reply
    as one raised in a handler. (Errors while committing are answered by the middleware.)
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(
        self,
        scope: MutableMapping[str, Any],
        receive: Callable[[], Awaitable[Any]],
        send: Callable[[Any], Awaitable[None]],
    ) -> None:
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except StoreError as exc:
            if started or scope["type"] != "http":
                raise
            await store_error_reply(exc)(scope, receive, send)


def make_engine(store: Store, *, store_timeout: float, **options: Any) -> SessionEngine:
    """The engine every reliability test uses: no resave, no uninitialized sessions, one hour."""
    options.setdefault("resave", False)
    options.setdefault("save_uninitialized", False)
    options.setdefault("cookie", {"max_age": 3600})
    return SessionEngine(store, secret=SECRET, store_timeout=store_timeout, **options)


def make_app(engine: SessionEngine) -> ASGIApp:
    """The test application behind :class:`SessionMiddleware` and :class:`StoreErrorsAsJSON`."""
    routes = [
        Route("/login", login),
        Route("/update", update, methods=["POST"]),
        Route("/read", read),
        Route("/logout", logout),
        Route("/put", put, methods=["POST"]),
        Route("/put-unstorable", put_unstorable, methods=["POST"]),
    ]
    app = Starlette(routes=routes, exception_handlers={StoreError: _handle_store_error})
    return StoreErrorsAsJSON(SessionMiddleware(app, engine))
