"""The documented usage (examples/fastapi_app) works end to end through FastAPI's client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

from connectstore import MemoryStore, Store, unsign_cookie
from connectstore.signing import decode_uri_component
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


async def test_secure_cookie_is_never_sent_over_plain_http() -> None:
    async with client(MemoryStore(), https=False) as http:
        reply = await http.post("/login", json={"username": "bob", "password": "builder"})
        assert reply.status_code == 200
        assert reply.headers.get("set-cookie") is None
