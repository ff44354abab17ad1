"""The documented usage (examples/fastapi_app) works end to end through FastAPI's client."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI, Request

from connectstore import CookieOptions, MemoryStore, SessionEngine, Store
from connectstore.integrations.asgi import SessionMiddleware
from connectstore.signing import decode_uri_component, unsign_cookie
from examples.fastapi_app.app import create_app
from tests.integrations.stores import STORE_KINDS, open_test_store


@pytest_asyncio.fixture(params=STORE_KINDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    """The flow runs on every store: memory, SQLite (file), SurrealDB (embedded), Redis."""
    async with open_test_store(request.param, tmp_path) as opened:
        yield opened


def client(store: Store, https: bool = True) -> httpx.AsyncClient:
    app = create_app(store, "keyboard cat")
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="https://test" if https else "http://test"
    )


def sid_in(response: httpx.Response) -> str | None:
    header = response.headers.get("set-cookie")
    if header is None:
        return None
    return unsign_cookie(decode_uri_component(header.split(";")[0].split("=", 1)[1]), "keyboard cat")


async def test_login_profile_cart_flash_logout(store: Store) -> None:
    async with client(store) as http:
        anonymous = await http.get("/cart")
        assert anonymous.headers.get("set-cookie") is None  # save_uninitialized=False
        assert await store.length() == 0
        assert (await http.get("/profile")).status_code == 401

        before = await http.post("/cart", json={"product_id": "p1", "quantity": 2})
        pre_login_sid = sid_in(before)
        assert pre_login_sid is not None

        login = await http.post("/login", json={"username": "alice", "password": "wonderland"})
        assert login.status_code == 200
        sid = sid_in(login)
        assert sid is not None
        assert sid != pre_login_sid  # regenerated
        assert await store.get(pre_login_sid) is None
        header = login.headers["set-cookie"]
        assert header.endswith(
            "; Path=/; Expires="
            + header.split("Expires=")[1].split(";")[0]
            + "; HttpOnly; Secure; SameSite=Strict"
        )

        assert (await http.get("/profile")).json() == {"user": "alice", "cart_items": 0}
        assert (await http.get("/messages")).json() == {
            "messages": [{"type": "success", "message": "Welcome, alice"}]
        }
        assert (await http.get("/messages")).json() == {"messages": []}  # read once

        await http.post("/cart", json={"product_id": "p1"})
        await http.post("/cart", json={"product_id": "p2", "quantity": 3})
        await http.post("/cart", json={"product_id": "p1", "quantity": 4})
        assert (await http.get("/cart")).json() == {
            "cart": [{"product_id": "p1", "quantity": 5}, {"product_id": "p2", "quantity": 3}]
        }
        stored = await store.get(sid)
        assert stored is not None
        assert stored["user_id"] == "alice"
        assert stored["cookie"]["originalMaxAge"] == 3600000
        assert stored["cookie"]["secure"] is True
        assert stored["cookie"]["sameSite"] == "strict"

        assert (await http.post("/logout")).json() == {"logged_out": True}
        assert await store.get(sid) is None
        assert (await http.get("/profile")).status_code == 401


async def test_wrong_password_is_refused_and_stores_nothing() -> None:
    store = MemoryStore()
    async with client(store) as http:
        reply = await http.post("/login", json={"username": "alice", "password": "nope"})
        assert reply.status_code == 401
        assert reply.headers.get("set-cookie") is None
    assert await store.length() == 0


async def test_the_app_works_over_plain_http_as_documented() -> None:
    """Run as docs/integrations.md says (uvicorn, plain HTTP), logging in keeps the user logged in:
    the cookie is sent without ``Secure`` (``secure="auto"``) and comes back.
    """
    store = MemoryStore()
    async with client(store, https=False) as http:
        login = await http.post("/login", json={"username": "bob", "password": "builder"})
        assert login.status_code == 200
        header = login.headers["set-cookie"]
        assert "Secure" not in header
        assert header.endswith("; HttpOnly; SameSite=Strict")
        assert (await http.get("/profile")).json() == {"user": "bob", "cart_items": 0}
        stored = await store.get(sid_in(login) or "")
        assert stored is not None
        assert stored["cookie"]["secure"] is False  # what express-session stores for "auto" on HTTP


async def test_behind_a_tls_proxy_the_cookie_is_secure_when_the_proxy_is_trusted() -> None:
    store = MemoryStore()
    app = create_app(store, "keyboard cat", trust_proxy=True)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        login = await http.post(
            "/login",
            json={"username": "bob", "password": "builder"},
            headers={"x-forwarded-proto": "https"},
        )
        assert login.headers["set-cookie"].endswith("; HttpOnly; Secure; SameSite=Strict")


async def test_a_secure_cookie_over_plain_http_is_a_visible_warning(caplog: pytest.LogCaptureFixture) -> None:
    """The README's old mistake (secure=True served over HTTP: login answers 200, the next
    request is anonymous) is explained by a WARNING, not a DEBUG line nobody sees.
    """
    engine = SessionEngine(MemoryStore(), secret="s", cookie=CookieOptions(secure=True))
    app = FastAPI()
    app.add_middleware(SessionMiddleware, engine=engine)

    @app.post("/login")
    async def login(request: Request) -> dict[str, str]:
        request.scope["session"]["user"] = "alice"
        return {"ok": "yes"}

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
        with caplog.at_level(logging.WARNING, logger="connectstore"):
            reply = await http.post("/login")
    assert reply.status_code == 200
    assert reply.headers.get("set-cookie") is None
    [record] = [r for r in caplog.records if r.name == "connectstore"]
    assert record.levelno == logging.WARNING
    assert "Secure session cookie over plain HTTP" in record.getMessage()
    assert "secure='auto'" in record.getMessage()
