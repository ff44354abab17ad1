"""ASGI middleware: express-session for Starlette, FastAPI and any ASGI application.

``scope["session"]`` holds the request's :class:`~connectstore.Session` (so Starlette's and
FastAPI's ``request.session`` work), or ``None`` when sessions do not apply to the request.
Setting ``scope["session"] = None`` (or ``del``) in the application removes the session,
express's ``req.session = null``. The store is written and the ``Set-Cookie`` header added
when the application starts its response, so the session is stored before the client can
send its next request. If the store fails at that point (the handler has finished, so the
application cannot handle it), the middleware answers the request itself: 503 with
``{"error": "StoreUnavailableError"}`` when the store is unavailable, else 500 with the
error's class (``{"error": "SessionTooLargeError"}`` for a session over the engine's
``max_session_bytes``), and logs it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from connectstore.engine import RequestInfo, SessionEngine
from connectstore.errors import StoreUnavailableError

__all__ = ["SessionMiddleware"]

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
    """

    def __init__(self, app: ASGIApp, engine: SessionEngine) -> None:
        if not isinstance(engine, SessionEngine):
            raise TypeError(f"engine must be a SessionEngine, not {type(engine).__name__}")
        self.app = app
        self.engine = engine

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = [(k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in scope.get("headers", [])]
        info = RequestInfo(
            cookie_header=[v for k, v in headers if k == "cookie"],
            path=scope.get("path") or "/",
            secure=scope.get("scheme") in ("https", "wss"),
            forwarded_proto=next((v for k, v in headers if k == "x-forwarded-proto"), None),
            request=scope,
        )
        sessions = await self.engine.open(info)
        scope["session"] = sessions.session
        commit_error: Exception | None = None

        async def send_with_session(message: Message) -> None:
            nonlocal commit_error
            if commit_error is not None:
                return  # the client already has the error response; drop the app's own
            if message["type"] == "http.response.start":
                if scope.get("session") is None:
                    sessions.remove()
                try:
                    cookies = await sessions.commit()
                except Exception as exc:
                    commit_error = exc
                    await _send_store_error(send, exc)
                    raise
                message.setdefault("headers", [])
                message["headers"] = [
                    *message["headers"],
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
            logger.error("the session store failed while ending the request", exc_info=commit_error)


async def _send_store_error(send: Send, exc: Exception) -> None:
    """Answer ``{"error": "<error class>"}``: 503 when the store is unavailable, else 500."""
    status = 503 if isinstance(exc, StoreUnavailableError) else 500
    body = json.dumps({"error": type(exc).__name__}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
