"""A small aiohttp app using every part of the session integration, and a client for it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from connectstore import Store
from connectstore.integrations.aiohttp import commit_session, get_session, remove_session, session_middleware
from connectstore.signing import decode_uri_component, unsign_cookie

SECRET = "keyboard cat"


def _session(request: web.Request) -> Any:
    session = get_session(request)
    if session is None:
        raise web.HTTPInternalServerError(text="no session")
    return session


async def show(request: web.Request) -> web.Response:
    session = get_session(request)
    if session is None:
        return web.json_response({"session": None})
    return web.json_response({"id": session.id, "data": dict(session)})


async def increment(request: web.Request) -> web.Response:
    session = _session(request)
    session["views"] = session.get("views", 0) + 1
    return web.json_response({"id": session.id, "views": session["views"]})


async def login(request: web.Request) -> web.Response:
    """Regenerate (no fixation), remember the user, redirect: the redirect carries the cookie."""
    form = await request.post()
    session = _session(request)
    await session.regenerate()
    session["user"] = str(form["user"])
    raise web.HTTPFound("/profile")


async def profile(request: web.Request) -> web.Response:
    session = get_session(request)
    if session is None or "user" not in session:
        raise web.HTTPUnauthorized(text="log in first")
    return web.json_response({"user": session["user"], "cart": session.get("cart", [])})


async def add_to_cart(request: web.Request) -> web.Response:
    session = _session(request)
    session["cart"] = [*session.get("cart", []), request.match_info["item"]]
    return web.json_response({"cart": session["cart"]})


async def logout(request: web.Request) -> web.Response:
    await _session(request).destroy()
    raise web.HTTPFound("/")


async def grow(request: web.Request) -> web.Response:
    """Store ``size`` characters under ``blob``; ``?save=1`` saves at once (``session.save()``)."""
    session = _session(request)
    session["blob"] = "x" * int(request.match_info["size"])
    if request.query.get("save"):
        await session.save()
    return web.json_response({"id": session.id})


async def unset(request: web.Request) -> web.Response:
    remove_session(request)
    return web.json_response({"unset": True})


async def stream(request: web.Request) -> web.StreamResponse:
    """A handler that prepares its response itself, committing the session first."""
    _session(request)["streamed"] = True
    response = web.StreamResponse()
    await commit_session(request, response)
    await response.prepare(request)
    await response.write(b"streamed")
    await response.write_eof()
    return response


def make_app(store: Store, **options: Any) -> web.Application:
    options.setdefault("secret", SECRET)
    app = web.Application(middlewares=[session_middleware(store, **options)])
    app.router.add_get("/", show)
    app.router.add_get("/inc", increment)
    app.router.add_post("/login", login)
    app.router.add_get("/profile", profile)
    app.router.add_post("/cart/{item}", add_to_cart)
    app.router.add_post("/logout", logout)
    app.router.add_get("/unset", unset)
    app.router.add_get("/stream", stream)
    app.router.add_get("/app/", show)
    app.router.add_get("/grow/{size}", grow)
    return app


@asynccontextmanager
async def client_for(app: web.Application) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    """aiohttp's own test client on a loopback server; it keeps cookies like a browser."""
    async with TestClient(TestServer(app)) as client:
        yield client


def set_cookies(response: Any) -> list[str]:
    """The raw ``Set-Cookie`` headers of a response."""
    values: list[str] = response.headers.getall("Set-Cookie", [])
    return values


def sid_of(set_cookie: str, secret: str = SECRET) -> str:
    """The session id a ``connect.sid`` Set-Cookie header carries (its signature checked)."""
    value = set_cookie.split(";")[0].split("=", 1)[1]
    sid = unsign_cookie(decode_uri_component(value), [secret])
    assert sid is not None, f"badly signed cookie {set_cookie!r}"
    return sid
