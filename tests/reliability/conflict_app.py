"""The application and client of the concurrent-request tests: one session, many requests.

Routes: ``/login`` (``user`` set), ``/set?key=`` (this request's own key), ``/slow`` (sets
``slow``, then waits at a :class:`Gate` the test opens), ``/logout`` (destroy),
``/regenerate`` (a new id, the user kept, as a login does) and ``/whoami``. Each test drives
them in process (``httpx.ASGITransport``) or over real TCP (uvicorn, see
:func:`tests.serving.served`), always with an explicit ``Cookie`` header and no cookie jar,
so that every request carries exactly the session the test means.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from connectstore import Session, SessionData, SessionEngine, Store
from connectstore.integrations.asgi import SessionMiddleware
from tests.serving import served

SECRET = "races secret"
Via = Literal["asgi", "uvicorn"]
VIAS: tuple[Via, ...] = ("asgi", "uvicorn")


@dataclass
class Gate:
    """Holds ``/slow`` requests inside their handler (after they changed the session, before
    the middleware writes it) until the test opens it.
    """

    entered: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)


def _session(request: Request) -> Session:
    session: Session | None = request.scope.get("session")
    assert session is not None
    return session


def conflict_app(engine: SessionEngine, gate: Gate) -> SessionMiddleware:
    """The routes of the module documentation behind the ASGI middleware running ``engine``."""

    async def login(request: Request) -> Response:
        session = _session(request)
        session["user"] = request.query_params.get("user", "alice")
        return JSONResponse({"id": session.id})

    async def set_key(request: Request) -> Response:
        session = _session(request)
        key = request.query_params["key"]
        session[key] = key
        return JSONResponse({"id": session.id})

    async def slow(request: Request) -> Response:
        session = _session(request)
        session["slow"] = True
        gate.entered.set()
        await gate.release.wait()
        return JSONResponse({"id": session.id})

    async def logout(request: Request) -> Response:
        await _session(request).destroy()
        return JSONResponse({"ok": True})

    async def regenerate(request: Request) -> Response:
        session = _session(request)
        user = session.get("user")
        await session.regenerate()
        session["user"] = user
        return JSONResponse({"id": session.id})

    async def whoami(request: Request) -> Response:
        session = _session(request)
        return JSONResponse({"id": session.id, "user": session.get("user")})

    routes = [
        Route("/login", login),
        Route("/set", set_key),
        Route("/slow", slow),
        Route("/logout", logout),
        Route("/regenerate", regenerate),
        Route("/whoami", whoami),
    ]
    return SessionMiddleware(Starlette(routes=routes), engine)


@dataclass
class WriteCounts:
    """How many ``set_if`` calls a store answered, and how many of them found the session
    changed (a conflict the engine then merged).
    """

    calls: int = 0
    conflicts: int = 0


def count_conditional_writes(store: Store) -> WriteCounts:
    """Count ``store.set_if``'s calls and conflicts from now on (wrapped on the instance, so
    the store's class, and the engine's default policy for it, are unchanged).
    """
    counts = WriteCounts()
    set_if = store.set_if

    async def counted(sid: str, session: SessionData, version: str) -> str | None:
        written = await set_if(sid, session, version)
        counts.calls += 1
        counts.conflicts += written is None
        return written

    store.set_if = counted  # type: ignore[method-assign]
    return counts


def make_engine(store: Store, **options: Any) -> SessionEngine:
    """No resave, no uninitialized sessions (so a request that changed nothing writes nothing),
    a generous store timeout for a loaded machine; ``on_conflict`` as the caller says.
    """
    return SessionEngine(
        store, secret=SECRET, resave=False, save_uninitialized=False, store_timeout=60.0, **options
    )


@asynccontextmanager
async def client_of(app: SessionMiddleware, via: Via) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of ``app``: in process, or through uvicorn on a loopback port."""
    if via == "asgi":
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test", timeout=120.0) as http:
            yield http
    else:
        async with served(app) as base, httpx.AsyncClient(base_url=base, timeout=120.0) as http:
            yield http


def session_cookie(response: httpx.Response) -> str | None:
    """The ``name=value`` of the response's session cookie, if it sent one."""
    for header in response.headers.get_list("set-cookie"):
        if header.startswith("connect.sid="):
            return header.split(";")[0]
    return None


async def get(http: httpx.AsyncClient, path: str, cookie: str | None = None, **params: str) -> httpx.Response:
    """GET ``path`` with exactly ``cookie`` (or none); the jar is never used."""
    http.cookies.clear()
    headers = {"cookie": cookie} if cookie else {}
    return await http.get(path, params=params, headers=headers)


async def log_in(http: httpx.AsyncClient) -> tuple[str, str]:
    """A new, stored session of user ``alice``: its id and its cookie."""
    reply = await get(http, "/login")
    assert reply.status_code == 200, reply.text
    cookie = session_cookie(reply)
    assert cookie is not None
    sid: str = reply.json()["id"]
    return sid, cookie
