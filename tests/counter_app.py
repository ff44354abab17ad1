"""The smallest session app: a Starlette route counting visits, behind the ASGI middleware.

The event-loop tests of every store drive it through Starlette's ``TestClient`` without
``with``, which runs each request on a new event loop.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from connectstore import Session, SessionEngine, Store
from connectstore.integrations.asgi import SessionMiddleware


def counter_app(store: Store) -> SessionMiddleware:
    """A Starlette app counting visits in the session, behind connectstore's ASGI middleware."""

    async def visit(request: Request) -> Response:
        session: Session = request.scope["session"]
        session["views"] = session.get("views", 0) + 1
        return JSONResponse({"views": session["views"]})

    app = Starlette(routes=[Route("/", visit)])
    return SessionMiddleware(app, SessionEngine(store, secret="keyboard cat"))
