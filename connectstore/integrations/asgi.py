"""ASGI middleware: express-session for Starlette, FastAPI and any ASGI application.

``scope["session"]`` holds the request's :class:`~connectstore.Session` (so Starlette's and
FastAPI's ``request.session`` work), or ``None`` when sessions do not apply to the request.
Setting ``scope["session"] = None`` (or ``del``) in the application removes the session,
express's ``req.session = null``. The store is written and the ``Set-Cookie`` header added
when the application starts its response, so the session is stored before the client can
send its next request. If the store fails at that point (the handler has finished, so the
application cannot handle it), the middleware answers the request itself: 503 with
``{"error": "StoreUnavailableError"}`` when the store is unavailable, 409 with
``{"error": "SessionConflictError"}`` when a concurrent request changed the session and
this request's changes were not written (the engine's ``on_conflict="raise"``, or a merge
that gave up: the client may retry), else 500 with the error's class
(``{"error": "SessionTooLargeError"}`` for a session over the engine's
``max_session_bytes``), and logs it (a conflict as one WARNING line, without a traceback:
it is an expected outcome of the policy, not a failure).

Lazy loading (``SessionMiddleware(app, engine, lazy=True)``): the session is loaded from
the store only when the application asks for it with ``await load_session(request)``
(Starlette's or FastAPI's ``Request``, or the ASGI scope), which returns it and also puts
it in ``scope["session"]`` so that ``request.session`` works from then on. Attribute or
item access cannot await, so it cannot load: until ``load_session`` ran,
``scope["session"]`` holds an :class:`UnloadedSession` placeholder whose every use raises
:class:`RuntimeError` saying to call ``load_session``. A request that never loads its
session makes no store call and sends no ``Set-Cookie`` (not even a new session's with
``save_uninitialized=True``, nor a ``rolling`` one). ``load_session`` also works without
``lazy`` (it returns the session already loaded), so handlers can be written once for both.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, cast

from connectstore.engine import RequestInfo, SessionEngine
from connectstore.errors import SessionConflictError, StoreUnavailableError
from connectstore.request_session import RequestSession
from connectstore.session import Session

__all__ = ["SessionMiddleware", "UnloadedSession", "load_session"]

logger = logging.getLogger("connectstore")

# Deliberately permissive (as Starlette's own middleware types are), so that any framework's
# app and middleware stack type-checks against this middleware.
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Any]]
Send = Callable[[Any], Awaitable[None]]
ASGIApp = Callable[[Any, Receive, Send], Awaitable[None]]


class SessionMiddleware:
    """Wraps an ASGI app with sessions run by ``engine``.

    Starlette: ``Middleware(SessionMiddleware, engine=SessionEngine(store, secret=...))``;
    FastAPI: ``app.add_middleware(SessionMiddleware, engine=SessionEngine(...))``; any ASGI
    app: ``SessionMiddleware(app, SessionEngine(...))``. Only ``http`` requests get a session.

    ``lazy`` (``False``): load the session only when the application calls
    ``await load_session(request)``; a request that never does makes no store call (see
    the module documentation).
    """

    def __init__(self, app: ASGIApp, engine: SessionEngine, *, lazy: bool = False) -> None:
        if not isinstance(engine, SessionEngine):
            raise TypeError(f"engine must be a SessionEngine, not {type(engine).__name__}")
        self.app = app
        self.engine = engine
        self.lazy = lazy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cookies_sent: list[str] = []
        forwarded_proto: str | None = None
        for key, value in scope.get("headers", ()):
            size = len(key)  # only two names matter: lower-case just those (ASGI servers send lower case)
            if size == 6:
                if key == b"cookie" or key.lower() == b"cookie":
                    cookies_sent.append(value.decode("latin-1"))
            elif size == 17 and forwarded_proto is None and key.lower() == b"x-forwarded-proto":
                forwarded_proto = value.decode("latin-1")
        info = RequestInfo(
            cookie_header=cookies_sent,
            path=scope.get("path") or "/",
            secure=scope.get("scheme") in ("https", "wss"),
            forwarded_proto=forwarded_proto,
            request=scope if self.engine.uses_request else None,
        )
        sessions = await self.engine.open(info, lazy=self.lazy)
        scope["session"] = sessions.session if sessions.loaded else UnloadedSession()
        scope[_REQUEST_KEY] = sessions
        commit_error: Exception | None = None

        async def send_with_session(message: Message) -> None:
            nonlocal commit_error
            if commit_error is not None:
                return  # the client already has the error response; drop the app's own
            if message["type"] == "http.response.start":
                current = scope.get("session")
                try:
                    if current is None:
                        if self.engine.unset == "destroy":
                            await sessions.load()  # lazy: the app dropped a session it never loaded
                        sessions.remove()
                    cookies = await sessions.commit()
                except Exception as exc:
                    commit_error = exc
                    await _send_store_error(send, exc)
                    raise
                if cookies:
                    message["headers"] = [
                        *message.get("headers", ()),
                        *((b"set-cookie", value.encode("latin-1")) for value in cookies),
                    ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_session)
        except Exception:
            if commit_error is None:
                raise
            # The application saw the store's failure through send() after its handler had
            # finished; the client has its answer. Log the store error itself, not whatever
            # the framework wrapped it in.
            if isinstance(commit_error, SessionConflictError):
                logger.warning("the request's session changes were not written: %s", commit_error)
            else:
                logger.error("the session store failed while ending the request", exc_info=commit_error)


_REQUEST_KEY = "connectstore.request_session"


class UnloadedSession:
    """What ``scope["session"]`` holds in lazy mode until ``await load_session(request)``:
    any use of it raises :class:`RuntimeError` explaining that (sync access cannot load).
    """

    def __getattr__(self, name: str) -> Any:
        raise RuntimeError(_LAZY_HINT)

    def __getitem__(self, key: str) -> Any:
        raise RuntimeError(_LAZY_HINT)

    def __setitem__(self, key: str, value: Any) -> None:
        raise RuntimeError(_LAZY_HINT)

    def __contains__(self, key: object) -> bool:
        raise RuntimeError(_LAZY_HINT)

    def __iter__(self) -> Any:
        raise RuntimeError(_LAZY_HINT)

    def __len__(self) -> int:
        raise RuntimeError(_LAZY_HINT)

    def __repr__(self) -> str:
        return "UnloadedSession()"


_LAZY_HINT = (
    "the session is not loaded yet (SessionMiddleware(lazy=True)): "
    "call `session = await load_session(request)` first"
)


async def load_session(request: Any) -> Session | None:
    """The request's session, loaded from the store on the first call (lazy mode).

    ``request`` is a Starlette/FastAPI ``Request`` (anything with a ``scope``) or the ASGI
    scope itself. Returns ``None`` when sessions do not apply to the request, as
    ``scope["session"]`` would; also sets ``scope["session"]``. Without ``lazy`` it returns
    the session already loaded.
    """
    scope: Scope = request.scope if hasattr(request, "scope") else request
    sessions: RequestSession | None = scope.get(_REQUEST_KEY)
    if sessions is None:
        raise RuntimeError("load_session() needs connectstore's SessionMiddleware around the app")
    current = scope.get("session")
    if not isinstance(current, UnloadedSession):
        return cast("Session | None", current)
    session = await sessions.load()
    if isinstance(scope.get("session"), UnloadedSession):
        scope["session"] = session
    return session


async def _send_store_error(send: Send, exc: Exception) -> None:
    """Answer ``{"error": "<error class>"}``: 503 when the store is unavailable, 409 for a
    conflict with a concurrent request, else 500.
    """
    if isinstance(exc, StoreUnavailableError):
        status = 503
    elif isinstance(exc, SessionConflictError):
        status = 409
    else:
        status = 500
    body = json.dumps({"error": type(exc).__name__}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
