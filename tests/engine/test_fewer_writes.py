"""``touch_after`` and lazy loading: fewer store calls, on real stores.

Every store call the engine makes is counted by :class:`Counted`, a pass-through wrapper
around a real store (MemoryStore, a SQLite file, the shared Redis).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from connectstore import MemoryStore, SessionData, SessionEngine, Store
from connectstore.cookie import format_expires, now_ms
from connectstore.integrations.asgi import SessionMiddleware, UnloadedSession, load_session
from tests.engine.apps import call
from tests.integrations.stores import open_test_store

HOUR = 3600


class Counted(Store):
    """A real store, with a log of the contract calls made on it."""

    capabilities = frozenset({"touch"})

    def __init__(self, inner: Store) -> None:
        self.inner = inner
        self.calls: list[str] = []

    async def get(self, sid: str) -> SessionData | None:
        self.calls.append("get")
        return await self.inner.get(sid)

    async def set(self, sid: str, session: SessionData) -> None:
        self.calls.append("set")
        await self.inner.set(sid, session)

    async def destroy(self, sid: str) -> None:
        self.calls.append("destroy")
        await self.inner.destroy(sid)

    async def touch(self, sid: str, session: SessionData) -> None:
        self.calls.append("touch")
        await self.inner.touch(sid, session)


@pytest_asyncio.fixture(params=["memory", "sqlite", "redis"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Counted]:
    async with open_test_store(request.param, tmp_path) as inner:
        yield Counted(inner)


async def show(request: Request) -> Response:
    session = await load_session(request)
    return JSONResponse({"data": None if session is None else dict(session)})


async def increment(request: Request) -> Response:
    session = await load_session(request)
    assert session is not None
    session["views"] = session.get("views", 0) + 1
    return JSONResponse({"views": session["views"]})


async def untouched(request: Request) -> Response:
    return JSONResponse({"ok": True})


async def twice(request: Request) -> Response:
    first, second = await asyncio.gather(load_session(request), load_session(request))
    assert first is second
    return JSONResponse({"same": True})


async def sync_access(request: Request) -> Response:
    try:
        request.session.get("views")
    except RuntimeError as exc:
        return JSONResponse({"error": str(exc)})
    return JSONResponse({"error": None})


async def unset(request: Request) -> Response:
    request.scope["session"] = None
    return JSONResponse({"unset": True})


def make_app(store: Store, *, lazy: bool = False, **options: Any) -> Starlette:
    options.setdefault("secret", "keyboard cat")
    options.setdefault("cookie", {"max_age": HOUR})
    routes = [
        Route("/", show),
        Route("/inc", increment),
        Route("/none", untouched),
        Route("/twice", twice),
        Route("/sync", sync_access),
        Route("/unset", unset),
    ]
    engine = SessionEngine(store, **options)
    return Starlette(routes=routes, middleware=[Middleware(SessionMiddleware, engine=engine, lazy=lazy)])


async def started(store: Counted, app: Starlette) -> str:
    """The cookie of a stored session holding views=1 (call log cleared)."""
    first = await call(app, "/inc")
    assert first.cookie is not None
    store.calls.clear()
    return first.cookie


async def age_stored_session(store: Counted, seconds: int) -> None:
    """Rewrite the one stored session as if it had last been touched ``seconds`` ago."""
    async for sid, session in _items(store.inner):
        session["cookie"]["expires"] = format_expires(now_ms() + HOUR * 1000 - seconds * 1000)
        await store.inner.set(sid, session)


async def _items(store: Store) -> AsyncIterator[tuple[str, SessionData]]:
    async for sid, session in store.items():
        yield sid, session


# --- touch_after ---------------------------------------------------------------------------


async def test_a_read_inside_the_touch_window_writes_nothing_and_one_after_it_touches(store: Counted) -> None:
    app = make_app(store, resave=False, save_uninitialized=False, touch_after=60)
    cookie = await started(store, app)

    assert (await call(app, "/", cookie)).json == {"data": {"views": 1}}
    assert store.calls == ["get"]  # inside the window: no touch

    await age_stored_session(store, 120)  # last touched two minutes ago
    store.calls.clear()
    assert (await call(app, "/", cookie)).json == {"data": {"views": 1}}
    assert store.calls == ["get", "touch"]
    [(_, stored)] = [item async for item in _items(store.inner)]
    assert stored["cookie"]["expires"] > format_expires(now_ms() + HOUR * 1000 - 30_000)

    store.calls.clear()
    await call(app, "/", cookie)
    assert store.calls == ["get"]  # the touch restarted the window


async def test_without_touch_after_every_read_touches(store: Counted) -> None:
    app = make_app(store, resave=False, save_uninitialized=False)
    cookie = await started(store, app)
    await call(app, "/", cookie)
    assert store.calls == ["get", "touch"]


async def test_touch_after_leaves_writes_and_the_rolling_cookie_alone(store: Counted) -> None:
    app = make_app(store, resave=False, save_uninitialized=False, rolling=True, touch_after=60)
    cookie = await started(store, app)

    read = await call(app, "/", cookie)
    assert store.calls == ["get"]
    assert len(read.set_cookies) == 1  # the cookie still rolls
    assert "Expires=" in read.set_cookies[0]

    store.calls.clear()
    assert (await call(app, "/inc", cookie)).json == {"views": 2}
    assert store.calls == ["get", "set"]  # a modified session is saved as always


def test_touch_after_is_checked() -> None:
    with pytest.raises(ValueError, match="touch_after"):
        SessionEngine(MemoryStore(), secret="s", touch_after=-1)
    with pytest.raises(TypeError, match="touch_after"):
        SessionEngine(MemoryStore(), secret="s", touch_after="60")  # type: ignore[arg-type]
    assert SessionEngine(MemoryStore(), secret="s", touch_after=0).touch_after == 0


# --- lazy loading --------------------------------------------------------------------------


async def test_a_lazy_request_that_never_loads_its_session_makes_no_store_call(store: Counted) -> None:
    app = make_app(store, lazy=True, resave=False, save_uninitialized=False)
    cookie = await started(store, app)
    reply = await call(app, "/none", cookie)
    assert reply.json == {"ok": True}
    assert store.calls == []
    assert reply.set_cookies == []


async def test_a_lazy_request_loads_on_first_access_and_keeps_the_rules(store: Counted) -> None:
    app = make_app(store, lazy=True, resave=False, save_uninitialized=False)
    cookie = await started(store, app)
    assert (await call(app, "/", cookie)).json == {"data": {"views": 1}}
    assert store.calls == ["get", "touch"]
    store.calls.clear()
    assert (await call(app, "/inc", cookie)).json == {"views": 2}
    assert store.calls == ["get", "set"]


async def test_lazy_without_a_cookie_and_save_uninitialized_stores_nothing_until_loaded() -> None:
    async with open_test_store("memory", Path(".")) as inner:
        store = Counted(inner)
        app = make_app(store, lazy=True)  # save_uninitialized=True
        assert (await call(app, "/none")).set_cookies == []
        assert store.calls == []
        reply = await call(app, "/")
        assert len(reply.set_cookies) == 1
        assert store.calls == ["set"]


async def test_concurrent_first_loads_share_one_store_call(store: Counted) -> None:
    app = make_app(store, lazy=True, resave=False, save_uninitialized=False)
    cookie = await started(store, app)
    assert (await call(app, "/twice", cookie)).json == {"same": True}
    assert store.calls.count("get") == 1


async def test_sync_access_to_an_unloaded_session_says_to_await_load_session(store: Counted) -> None:
    app = make_app(store, lazy=True)
    reply = await call(app, "/sync")
    assert "load_session" in reply.json["error"]
    assert store.calls == []
    assert repr(UnloadedSession()) == "UnloadedSession()"


async def test_dropping_an_unloaded_session_with_unset_destroy_destroys_it(store: Counted) -> None:
    app = make_app(store, lazy=True, unset="destroy", resave=False, save_uninitialized=False)
    cookie = await started(store, app)
    await call(app, "/unset", cookie)
    assert store.calls == ["get", "destroy"]
    assert [item async for item in _items(store.inner)] == []


async def test_load_session_returns_the_eager_session_without_a_store_call(store: Counted) -> None:
    app = make_app(store, resave=False, save_uninitialized=False)
    cookie = await started(store, app)
    assert (await call(app, "/", cookie)).json == {"data": {"views": 1}}
    assert store.calls == ["get", "touch"]
