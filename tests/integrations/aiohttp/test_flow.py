"""The login / cart / logout flow through aiohttp's test client, on every real store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from connectstore import Store
from tests.integrations.aiohttp.app import client_for, make_app, set_cookies, sid_of
from tests.integrations.stores import STORE_KINDS, open_test_store

# The security best-practice settings of the product documentation.
BEST_PRACTICE = {
    "resave": False,
    "save_uninitialized": False,
    "cookie": {"max_age": 3600, "http_only": True, "same_site": "strict"},
}


@pytest_asyncio.fixture(params=STORE_KINDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    async with open_test_store(request.param, tmp_path) as store:
        yield store


async def test_login_cart_logout(store: Store) -> None:
    async with client_for(make_app(store, **BEST_PRACTICE)) as client:
        anonymous = await client.get("/profile")
        assert anonymous.status == 401
        assert set_cookies(anonymous) == []

        login = await client.post("/login", data={"user": "alice"}, allow_redirects=False)
        assert login.status == 302
        [header] = set_cookies(login)
        assert "SameSite=Strict" in header
        sid = sid_of(header)
        stored = await store.get(sid)
        assert stored is not None
        assert stored["user"] == "alice"
        assert stored["cookie"]["originalMaxAge"] == 3_600_000

        for item in ("apple", "pear"):
            added = await client.post(f"/cart/{item}")
            assert added.status == 200
        profile = await client.get("/profile")
        assert await profile.json() == {"user": "alice", "cart": ["apple", "pear"]}
        stored = await store.get(sid)
        assert stored is not None
        assert stored["cart"] == ["apple", "pear"]

        logout = await client.post("/logout", allow_redirects=False)
        assert logout.status == 302
        assert await store.get(sid) is None
        after = await client.get("/profile")
        assert after.status == 401
    assert await store.get(sid) is None
