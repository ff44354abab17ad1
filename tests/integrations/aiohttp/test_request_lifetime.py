"""What the middleware keeps of a request once its response is sent.

Unless the application gave the engine a function of the request (``genid``, a callable
``cookie``), the engine's state of a request does not hold the ``web.Request``: the request
and what hangs off it (headers, the message, the session under ``SESSION_KEY``) are freed
with the response, by reference counting, instead of piling up for the cyclic garbage
collector (a collection per few hundred requests, each one traversing them all).
"""

from __future__ import annotations

import weakref
from typing import Any

from aiohttp import web

from connectstore import MemoryStore
from connectstore.integrations.aiohttp import get_session, session_middleware
from tests.integrations.aiohttp.app import SECRET, client_for


def counter_app(seen: list[weakref.ref[web.Request]], **options: Any) -> web.Application:
    """``GET /`` counts in the session and records a weak reference to each request."""

    async def counter(request: web.Request) -> web.Response:
        seen.append(weakref.ref(request))
        session = get_session(request)
        assert session is not None
        session["n"] = n = session.get("n", 0) + 1
        return web.json_response({"n": n})

    app = web.Application(middlewares=[session_middleware(MemoryStore(), secret=SECRET, **options)])
    app.router.add_get("/", counter)
    return app


async def test_a_served_request_is_freed_without_the_cyclic_collector(no_cyclic_gc: None) -> None:
    seen: list[weakref.ref[web.Request]] = []
    async with client_for(counter_app(seen)) as client:
        for expected in (1, 2, 3):
            response = await client.get("/")
            assert await response.json() == {"n": expected}
    assert len(seen) == 3
    assert [ref() for ref in seen] == [None, None, None], "every request was freed with its response"


async def test_genid_still_receives_the_request() -> None:
    got: list[object] = []

    def genid(request: web.Request) -> str:
        got.append(request)
        return f"sid-{len(got)}"

    seen: list[weakref.ref[web.Request]] = []
    async with client_for(counter_app(seen, genid=genid)) as client:
        response = await client.get("/")
        assert await response.json() == {"n": 1}
    assert len(got) == 1
    assert isinstance(got[0], web.Request)
    assert got[0] is seen[0]()
