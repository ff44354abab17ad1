"""A small Starlette app exercising every session operation, and a client that shows the
raw ``Set-Cookie`` header of each response.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from connectstore import Session, SessionEngine, Store
from connectstore.integrations.asgi import SessionMiddleware


def _session(request: Request) -> Session | None:
    session: Session | None = request.scope.get("session")
    return session


async def show(request: Request) -> Response:
    session = _session(request)
    if session is None:
        return JSONResponse({"session": None})
    return JSONResponse({"id": session.id, "data": dict(session)})


async def increment(request: Request) -> Response:
    session = _session(request)
    assert session is not None
    session["views"] = session.get("views", 0) + 1
    return JSONResponse({"id": session.id, "views": session["views"]})


async def save_then_return(request: Request) -> Response:
    session = _session(request)
    assert session is not None
    session["saved"] = True
    await session.save()
    return JSONResponse({"id": session.id})


async def regenerate(request: Request) -> Response:
    session = _session(request)
    assert session is not None
    old = session.id
    await session.regenerate()
    session["user"] = "alice"
    return JSONResponse({"old": old, "id": session.id})


async def destroy(request: Request) -> Response:
    session = _session(request)
    assert session is not None
    await session.destroy()
    return JSONResponse({"destroyed": True})


async def unset(request: Request) -> Response:
    request.scope["session"] = None
    return JSONResponse({"unset": True})


async def reload(request: Request) -> Response:
    session = _session(request)
    assert session is not None
    session["scratch"] = "not saved"
    await session.reload()
    return JSONResponse({"data": dict(session)})


async def grow(request: Request) -> Response:
    """Store ``size`` characters under ``blob``; ``?save=1`` saves at once (``session.save()``)."""
    session = _session(request)
    assert session is not None
    session["blob"] = "x" * int(request.query_params["size"])
    if request.query_params.get("save"):
        await session.save()
    return JSONResponse({"id": session.id})


def make_app(store: Store, **options: Any) -> Starlette:
    options.setdefault("secret", "keyboard cat")
    routes = [
        Route("/", show),
        Route("/inc", increment),
        Route("/save", save_then_return),
        Route("/regenerate", regenerate),
        Route("/destroy", destroy),
        Route("/unset", unset),
        Route("/reload", reload),
        Route("/app/", show),
        Route("/grow", grow),
    ]
    engine = SessionEngine(store, **options)
    return Starlette(routes=routes, middleware=[Middleware(SessionMiddleware, engine=engine)])


@dataclass
class Reply:
    status: int
    json: Any
    set_cookies: list[str]

    @property
    def cookie(self) -> str | None:
        """The ``name=value`` part of the single Set-Cookie header, if any."""
        return self.set_cookies[0].split(";")[0] if self.set_cookies else None


async def call(
    app: Starlette,
    path: str,
    cookie: str | Sequence[str] | None = None,
    *,
    https: bool = False,
    headers: dict[str, str] | None = None,
) -> Reply:
    """One request with exactly the given Cookie header(s); no cookie jar."""
    sent = [("cookie", c) for c in ([cookie] if isinstance(cookie, str) else cookie or [])]
    sent += list((headers or {}).items())
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    base = "https://test" if https else "http://test"
    async with httpx.AsyncClient(transport=transport, base_url=base) as client:
        response = await client.get(path, headers=sent)
    body = response.json() if response.headers.get("content-type") == "application/json" else response.text
    return Reply(response.status_code, body, response.headers.get_list("set-cookie"))
