"""ASGI middleware: express-session for Starlette, FastAPI and any ASGI application.

``scope["session"]`` holds the request's :class:`~connectstore.Session` (so Starlette's and
FastAPI's ``request.session`` work), or ``None`` when sessions do not apply to the request.
Setting ``scope["session"] = None`` (or ``del``) in the application removes the session,
express's ``req.session = null``. The store is written and the ``Set-Cookie`` header added
when the application starts its response, so the session is stored before the client can
send its next request.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from connectstore.engine import RequestInfo, SessionEngine

__all__ = ["SessionMiddleware"]

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

        async def send_with_session(message: Message) -> None:
            if message["type"] == "http.response.start":
                if scope.get("session") is None:
                    sessions.remove()
                for value in await sessions.commit():
                    message.setdefault("headers", [])
                    message["headers"] = [*message["headers"], (b"set-cookie", value.encode("latin-1"))]
            await send(message)

        await self.app(scope, receive, send_with_session)
