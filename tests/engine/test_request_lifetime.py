"""What the engine keeps of a framework's request once the request has ended.

The request object goes into the engine's state of a request (:class:`RequestInfo`) only when
the engine hands it to the application (``genid``, a callable ``cookie``:
``SessionEngine.uses_request``). Otherwise the request, which usually holds that state (the
ASGI scope does, under the middleware's key), makes no reference cycle with it and is freed
by reference counting when the request ends. Checked on the ASGI middleware with a scope that
can be weakly referenced; the aiohttp twin is in tests/integrations/aiohttp.
"""

from __future__ import annotations

import weakref
from typing import Any

from connectstore import MemoryStore, SessionEngine
from connectstore.integrations.asgi import SessionMiddleware

SECRET = "lifetime secret"


class Scope(dict[str, Any]):
    """An ASGI scope that a weak reference can follow."""


async def counter(scope: Any, receive: Any, send: Any) -> None:
    session = scope["session"]
    session["n"] = session.get("n", 0) + 1
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


async def serve_once(app: SessionMiddleware, seen: list[weakref.ref[Scope]]) -> list[Any]:
    """One request through ``app``; its scope weakly referenced in ``seen``; the messages sent."""
    scope = Scope(type="http", method="GET", path="/", headers=[], scheme="http")
    seen.append(weakref.ref(scope))
    sent: list[Any] = []

    async def receive() -> Any:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


async def test_an_ended_request_is_freed_without_the_cyclic_collector(no_cyclic_gc: None) -> None:
    engine = SessionEngine(MemoryStore(), secret=SECRET)
    assert not engine.uses_request
    seen: list[weakref.ref[Scope]] = []
    for _ in range(3):
        sent = await serve_once(SessionMiddleware(counter, engine), seen)
        assert any(name == b"set-cookie" for name, _ in sent[0]["headers"])
    assert [ref() for ref in seen] == [None, None, None], "every scope was freed when its request ended"


async def test_genid_and_a_cookie_function_still_receive_the_request() -> None:
    got: list[object] = []

    def genid(request: Any) -> str:
        got.append(request)
        return f"sid-{len(got)}"

    def cookie(request: Any) -> dict[str, Any]:
        got.append(request)
        return {"max_age": 60}

    for options in ({"genid": genid}, {"cookie": cookie}):
        got.clear()
        engine = SessionEngine(MemoryStore(), secret=SECRET, **options)
        assert engine.uses_request
        seen: list[weakref.ref[Scope]] = []
        await serve_once(SessionMiddleware(counter, engine), seen)
        assert got
        assert all(request is seen[0]() for request in got)
