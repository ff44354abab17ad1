"""A real Express app (express + express-session + connect-redis) and the Python ASGI app
(uvicorn) share one Redis and one secret: a session created by either is read and modified
by the other through the same ``connect.sid`` cookie, with the same Set-Cookie attributes.

Both servers listen on loopback ports of their own; the requests go over real TCP.
"""

from __future__ import annotations

import json
import re
import select
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from connectstore import Session, SessionEngine
from connectstore.integrations.asgi import SessionMiddleware
from connectstore_redis import RedisStore
from tests.adapters.redis.conftest import shared_redis  # noqa: F401 (fixture)
from tests.node import node_binary, npm_project
from tests.serving import served

PACKAGES = ("express@4.21.2", "express-session@1.19.0", "connect-redis@9.0.0", "redis@6.3.1")
SECRET = "keyboard cat"
STARTUP_BOUND = 120.0
"""Seconds Node may take to start Express and connect to Redis on a busy machine."""
HTTP_TIMEOUT = 60.0
"""Seconds one request may take (httpx's default, 5 s, is short for a loaded 2-core box)."""

EXPRESS_APP = r"""
const express = require('express');
const session = require('express-session');
const { RedisStore } = require('connect-redis');
const { createClient } = require('redis');
(async () => {
  const client = createClient({ url: process.env.REDIS_URL });
  await client.connect();
  const app = express();
  app.use(session({
    store: new RedisStore({ client, prefix: process.env.PREFIX }),
    secret: process.env.SECRET,
    resave: false,
    saveUninitialized: false,
    cookie: { maxAge: 600000, sameSite: 'lax' },
  }));
  app.get('/visit', (req, res) => {
    req.session.views = (req.session.views || 0) + 1;
    req.session.by = (req.session.by || []).concat('express');
    res.json({ id: req.sessionID, views: req.session.views, by: req.session.by });
  });
  app.get('/peek', (req, res) => res.json({ id: req.sessionID, views: req.session.views || null }));
  const server = app.listen(0, '127.0.0.1', () => {
    console.log(JSON.stringify({ port: server.address().port }));
  });
})();
"""


def python_app(store: RedisStore) -> Starlette:
    async def visit(request: Request) -> JSONResponse:
        session: Session = request.scope["session"]
        session["views"] = session.get("views", 0) + 1
        session["by"] = [*session.get("by", []), "python"]
        return JSONResponse({"id": session.id, "views": session["views"], "by": session["by"]})

    async def peek(request: Request) -> JSONResponse:
        session: Session = request.scope["session"]
        return JSONResponse({"id": session.id, "views": session.get("views")})

    return Starlette(
        routes=[Route("/visit", visit), Route("/peek", peek)],
        middleware=[
            Middleware(
                SessionMiddleware,
                engine=SessionEngine(
                    store,
                    secret=SECRET,
                    resave=False,
                    save_uninitialized=False,
                    cookie={"max_age": 600, "same_site": "lax"},
                ),
            )
        ],
    )


@pytest.fixture
def prefix() -> str:
    return f"cs-interop-{uuid.uuid4().hex[:10]}:"


@pytest.fixture
def express_url(shared_redis: str, prefix: str) -> Iterator[str]:  # noqa: F811
    project: Path = npm_project(*PACKAGES)
    with subprocess.Popen(
        [node_binary(), "-e", EXPRESS_APP],
        cwd=project,
        env={"REDIS_URL": shared_redis, "PREFIX": prefix, "SECRET": SECRET, "PATH": "/usr/bin:/bin"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        try:
            line = first_line(process, within=STARTUP_BOUND)
            yield f"http://127.0.0.1:{json.loads(line)['port']}"
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def first_line(process: subprocess.Popen[str], within: float) -> str:
    """The first line the process prints, waiting at most ``within`` seconds for it."""
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], within)
    line = process.stdout.readline() if ready else ""
    if not line:
        process.kill()
        error = process.stderr.read() if process.stderr else ""
        raise AssertionError(f"the Express app did not start within {within} s: {error}")
    return line


@pytest_asyncio.fixture
async def python_url(shared_redis: str, prefix: str) -> AsyncIterator[str]:  # noqa: F811
    async with RedisStore.from_url(shared_redis, prefix=prefix) as store:
        try:
            async with served(python_app(store)) as url:
                yield url
        finally:
            await store.clear()


async def visit(base: str, cookie: str | None) -> tuple[dict[str, object], str | None]:
    """GET /visit with exactly this cookie; the JSON and the Set-Cookie header."""
    async with httpx.AsyncClient(base_url=base, timeout=HTTP_TIMEOUT) as client:
        response = await client.get("/visit", headers={"cookie": cookie} if cookie else {})
    response.raise_for_status()
    return response.json(), response.headers.get("set-cookie")


def cookie_pair(header: str | None) -> str:
    assert header is not None, "no Set-Cookie header"
    return header.split(";")[0]


def attributes_shape(header: str | None) -> str:
    """The header with the cookie value and the Expires date blanked out."""
    assert header is not None
    header = re.sub(r"^connect\.sid=[^;]+", "connect.sid=VALUE", header)
    return re.sub(r"Expires=[^;]+", "Expires=DATE", header)


async def test_a_session_started_by_express_continues_in_python_and_back(
    express_url: str, python_url: str
) -> None:
    data, express_header = await visit(express_url, None)
    assert data["views"] == 1
    cookie = cookie_pair(express_header)

    data, python_header = await visit(python_url, cookie)
    assert data == {"id": data["id"], "views": 2, "by": ["express", "python"]}
    assert cookie_pair(python_header) == cookie  # same sid, same signature
    assert attributes_shape(python_header) == attributes_shape(express_header)
    assert (
        attributes_shape(express_header) == "connect.sid=VALUE; Path=/; Expires=DATE; HttpOnly; SameSite=Lax"
    )

    data, _ = await visit(express_url, cookie)
    assert data["views"] == 3
    assert data["by"] == ["express", "python", "express"]


async def test_a_session_started_by_python_continues_in_express_and_back(
    express_url: str, python_url: str
) -> None:
    data, python_header = await visit(python_url, None)
    sid = data["id"]
    cookie = cookie_pair(python_header)

    data, express_header = await visit(express_url, cookie)
    assert data == {"id": sid, "views": 2, "by": ["python", "express"]}
    assert cookie_pair(express_header) == cookie
    assert attributes_shape(express_header) == attributes_shape(python_header)

    data, _ = await visit(python_url, cookie)
    assert data == {"id": sid, "views": 3, "by": ["python", "express", "python"]}


async def test_a_cookie_signed_with_another_secret_is_refused_by_both(
    express_url: str, python_url: str
) -> None:
    data, header = await visit(python_url, None)
    forged = cookie_pair(header)[:-4] + "AAAA"
    for base in (express_url, python_url):
        again, _ = await visit(base, forged)
        assert again["id"] != data["id"]
        assert again["views"] == 1
