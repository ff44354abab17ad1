"""A failing or hung store: a clear server error by default, or no session on request; never a hang."""

from __future__ import annotations

import asyncio

import pytest

from connectstore import MemoryStore, SessionData, SessionEngine, StoreUnavailableError
from connectstore.signing import sign_cookie
from tests.engine.apps import call, make_app

COOKIE = "connect.sid=" + sign_cookie("known", "keyboard cat").replace(":", "%3A")


class FailingStore(MemoryStore):
    """get() fails like a store whose backend is down."""

    async def get(self, sid: str) -> SessionData | None:
        raise StoreUnavailableError("backend down")


class HungStore(MemoryStore):
    """Every call hangs, like a server that accepted the connection and never answers."""

    async def get(self, sid: str) -> SessionData | None:
        await asyncio.sleep(3600)
        return None

    async def set(self, sid: str, session: SessionData) -> None:
        await asyncio.sleep(3600)


async def test_store_error_on_load_is_a_server_error_by_default() -> None:
    reply = await call(make_app(FailingStore()), "/", COOKIE)
    assert reply.status == 500
    assert reply.set_cookies == []


async def test_store_error_on_load_can_continue_without_a_session() -> None:
    reply = await call(make_app(FailingStore(), on_store_error="continue"), "/", COOKIE)
    assert reply.status == 200
    assert reply.json == {"session": None}
    assert reply.set_cookies == []


OUTER_BOUND = 120.0
"""Seconds a test waits for a request that must end; reached only if the bound under test
failed (the hung store sleeps an hour), never because the machine is slow."""


async def test_a_hung_store_fails_the_request_within_the_timeout() -> None:
    app = make_app(HungStore(), store_timeout=0.3)
    loaded = await asyncio.wait_for(call(app, "/", COOKIE), OUTER_BOUND)
    saved = await asyncio.wait_for(call(app, "/inc"), OUTER_BOUND)
    assert loaded.status == 500  # loading: the framework's server error, as in express
    assert saved.status == 503  # saving at response start: the middleware answers itself
    assert saved.json == {"error": "StoreUnavailableError"}


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"secret": []}, "secret is required"),
        ({"secret": "s", "name": "bad name"}, "invalid cookie name"),
        ({"secret": "s", "unset": "drop"}, "unset must be"),
        ({"secret": "s", "on_store_error": "ignore"}, "on_store_error must be"),
        ({"secret": "s", "cookie": {"max_age": 1, "colour": "red"}}, "invalid cookie options"),
    ],
)
def test_bad_options_are_refused_at_construction(options: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SessionEngine(MemoryStore(), **options)  # type: ignore[arg-type]


def test_store_must_be_a_store() -> None:
    with pytest.raises(TypeError, match=r"connectstore\.Store"):
        SessionEngine(object(), secret="s")  # type: ignore[arg-type]


async def test_is_new_and_is_modified_for_integrations() -> None:
    from connectstore import RequestInfo

    engine = SessionEngine(MemoryStore(), secret="keyboard cat")
    fresh = await engine.open(RequestInfo(cookie_header=None))
    assert fresh.is_new
    assert not fresh.is_modified
    assert fresh.session is not None
    fresh.session["a"] = 1
    assert fresh.is_modified
    header = (await fresh.commit())[0]
    loaded = await engine.open(RequestInfo(cookie_header=header.split(";")[0]))
    assert not loaded.is_new
    assert not loaded.is_modified
    loaded.remove()
    assert loaded.is_modified


class FailingOnSave(MemoryStore):
    """set() fails like a store whose backend went away during the request."""

    def __init__(self, error: Exception) -> None:
        super().__init__()
        self.error = error

    async def set(self, sid: str, session: SessionData) -> None:
        raise self.error


@pytest.mark.parametrize(
    ("error", "status"),
    [(StoreUnavailableError("backend down"), 503), (RuntimeError("bug in a store"), 500)],
)
async def test_store_failure_while_saving_gets_a_clean_error_response(error: Exception, status: int) -> None:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    from connectstore import StoreError
    from connectstore.integrations.asgi import SessionMiddleware

    async def handled(request: Request, exc: Exception) -> Response:
        return JSONResponse({"handled": True}, status_code=418)

    async def write(request: Request) -> Response:
        request.session["x"] = 1
        return JSONResponse({"ok": True})

    app = Starlette(routes=[Route("/", write)], exception_handlers={StoreError: handled})
    wrapped = SessionMiddleware(app, SessionEngine(FailingOnSave(error), secret="s"))
    reply = await call(wrapped, "/")  # type: ignore[arg-type]
    assert reply.status == status
    assert reply.json == {"error": type(error).__name__}
    assert reply.set_cookies == []


class SlowStore(MemoryStore):
    """``get`` takes at least 0.5 s and ``set`` at least 1.6 s: each alone is within a 2 s
    timeout, both together are not, however slow the machine (a sleep never ends early;
    the load keeps 1.5 s of room for a slow machine).
    """

    async def get(self, sid: str) -> SessionData | None:
        await asyncio.sleep(0.5)
        return await super().get(sid)

    async def set(self, sid: str, session: SessionData) -> None:
        await asyncio.sleep(1.6)
        await super().set(sid, session)


async def test_store_timeout_bounds_all_store_calls_of_a_request_together() -> None:
    store = SlowStore()
    await MemoryStore.set(store, "known", {"cookie": {"expires": None}, "n": 1})
    app = make_app(store, store_timeout=2.0)
    reply = await asyncio.wait_for(call(app, "/inc", COOKIE), OUTER_BOUND)
    assert reply.status == 503  # the set had only what the get left of the 2 s, and was cancelled
    assert (await MemoryStore.get(store, "known") or {})["n"] == 1
