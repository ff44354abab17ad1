"""The aiohttp middleware through aiohttp's own test client: express-session's rules as an
aiohttp app sees them.
"""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from connectstore import MemoryStore, SessionData, SessionEngine, StoreUnavailableError
from connectstore.integrations.aiohttp import get_session, session_middleware
from connectstore.signing import encode_uri_component, sign_cookie
from tests.integrations.aiohttp.app import SECRET, client_for, make_app, set_cookies, show, sid_of


class FlakyStore(MemoryStore):
    """A MemoryStore whose ``get`` fails while ``down`` is set (Redis gone, say)."""

    down = False

    async def get(self, sid: str) -> SessionData | None:
        if self.down:
            raise StoreUnavailableError("the store is down")
        return await super().get(sid)


def cookie_header(sid: str, secret: str = SECRET) -> dict[str, str]:
    return {"Cookie": f"connect.sid={encode_uri_component(sign_cookie(sid, secret))}"}


async def test_new_session_sends_a_signed_connect_sid_cookie_and_is_stored() -> None:
    store = MemoryStore()
    async with client_for(make_app(store)) as client:
        response = await client.get("/")
        body = await response.json()
    [header] = set_cookies(response)
    assert header.startswith("connect.sid=s%3A")
    assert "HttpOnly" in header
    assert "Path=/" in header
    sid = sid_of(header)
    assert sid == body["id"]
    assert await store.get(sid) == {
        "cookie": {"originalMaxAge": None, "expires": None, "httpOnly": True, "path": "/"}
    }


async def test_modifications_are_saved_and_seen_by_the_next_request() -> None:
    store = MemoryStore()
    async with client_for(make_app(store)) as client:
        first = await (await client.get("/inc")).json()
        second = await (await client.get("/inc")).json()
    assert second == {"id": first["id"], "views": 2}
    stored = await store.get(first["id"])
    assert stored is not None
    assert stored["views"] == 2


async def test_untouched_new_session_is_neither_stored_nor_sent_without_save_uninitialized() -> None:
    store = MemoryStore()
    async with client_for(make_app(store, save_uninitialized=False)) as client:
        untouched = await client.get("/")
        assert set_cookies(untouched) == []
        assert await store.length() == 0
        modified = await client.get("/inc")
    [header] = set_cookies(modified)
    assert await store.get(sid_of(header)) is not None


async def test_unmodified_loaded_session_sends_no_cookie_unless_rolling() -> None:
    for rolling, expected in ((False, 0), (True, 1)):
        store = MemoryStore()
        async with client_for(make_app(store, rolling=rolling)) as client:
            await client.get("/inc")
            again = await client.get("/")
        assert len(set_cookies(again)) == expected


async def test_tampered_cookie_starts_a_new_session_and_leaves_the_old_one_alone() -> None:
    store = MemoryStore()
    async with client_for(make_app(store)) as client:
        first = await (await client.get("/inc")).json()
        before = await store.get(first["id"])
        forged = cookie_header(first["id"], secret="not the secret")
        client.session.cookie_jar.clear()  # send only the forged cookie
        response = await client.get("/", headers=forged)
        body = await response.json()
    assert body["id"] != first["id"]
    assert body["data"] == {}
    assert sid_of(set_cookies(response)[0]) == body["id"]
    assert await store.get(first["id"]) == before


async def test_cookie_for_an_unknown_sid_is_never_adopted() -> None:
    store = MemoryStore()
    async with client_for(make_app(store)) as client:
        body = await (await client.get("/", headers=cookie_header("chosen-by-attacker"))).json()
    assert body["id"] != "chosen-by-attacker"
    assert await store.get("chosen-by-attacker") is None


async def test_login_regenerates_the_session_and_the_redirect_carries_the_new_cookie() -> None:
    store = MemoryStore()
    async with client_for(make_app(store)) as client:
        anonymous = await (await client.get("/inc")).json()
        response = await client.post("/login", data={"user": "alice"}, allow_redirects=False)
    assert response.status == 302
    assert response.headers["Location"] == "/profile"
    [header] = set_cookies(response)
    new_sid = sid_of(header)
    assert new_sid != anonymous["id"]
    assert await store.get(anonymous["id"]) is None
    stored = await store.get(new_sid)
    assert stored is not None
    assert stored["user"] == "alice"
    assert "views" not in stored


async def test_logout_destroys_the_session_and_sends_no_cookie() -> None:
    store = MemoryStore()
    async with client_for(make_app(store)) as client:
        await client.get("/inc")
        sid = next(iter(await store.all()))
        response = await client.post("/logout", allow_redirects=False)
    assert response.status == 302
    assert set_cookies(response) == []
    assert await store.get(sid) is None


@pytest.mark.parametrize(("unset", "kept"), [("keep", True), ("destroy", False)])
async def test_removing_the_session_follows_unset(unset: Any, kept: bool) -> None:
    store = MemoryStore()
    async with client_for(make_app(store, unset=unset)) as client:
        sid = (await (await client.get("/inc")).json())["id"]
        response = await client.get("/unset")
    assert response.status == 200
    assert set_cookies(response) == []
    assert (await store.get(sid) is not None) is kept


async def test_store_error_while_loading_is_a_500_by_default() -> None:
    store = FlakyStore()
    async with client_for(make_app(store)) as client:
        await client.get("/inc")
        store.down = True
        response = await client.get("/inc")
    assert response.status == 500


async def test_store_error_with_continue_serves_the_request_without_a_session() -> None:
    store = FlakyStore()
    async with client_for(make_app(store, on_store_error="continue")) as client:
        sid = (await (await client.get("/inc")).json())["id"]
        store.down = True
        response = await client.get("/")
        body = await response.json()
        store.down = False
        later = await (await client.get("/")).json()
    assert response.status == 200
    assert body == {"session": None}
    assert set_cookies(response) == []
    assert later == {"id": sid, "data": {"views": 1}}


async def test_hung_store_is_bounded_by_store_timeout() -> None:
    class HungStore(MemoryStore):
        async def get(self, sid: str) -> SessionData | None:
            await __import__("asyncio").sleep(30)
            return None

    store = HungStore()
    async with client_for(make_app(store, store_timeout=0.2)) as client:
        response = await client.get("/", headers=cookie_header("anything"))
    assert response.status == 500


async def test_secure_auto_trusts_x_forwarded_proto_only_behind_a_trusted_proxy() -> None:
    proto = {"X-Forwarded-Proto": "https"}
    for trust_proxy, secure in ((True, True), (False, False)):
        app = make_app(MemoryStore(), trust_proxy=trust_proxy, cookie={"secure": "auto"})
        async with client_for(app) as client:
            [header] = set_cookies(await client.get("/", headers=proto))
        assert ("; Secure" in header) is secure


async def test_secure_cookie_is_not_sent_over_plain_http() -> None:
    async with client_for(make_app(MemoryStore(), cookie={"secure": True})) as client:
        response = await client.get("/inc")
    assert response.status == 200
    assert set_cookies(response) == []


async def test_cookie_options_shape_the_header() -> None:
    cookie = {"max_age": 3600, "same_site": "strict", "domain": "example.test"}
    async with client_for(make_app(MemoryStore(), name="sid", cookie=cookie)) as client:
        [header] = set_cookies(await client.get("/"))
    assert header.startswith("sid=s%3A")
    assert "Expires=" in header  # express-session sends Expires, never Max-Age
    assert "SameSite=Strict" in header
    assert "Domain=example.test" in header


async def test_requests_outside_the_cookie_path_have_no_session() -> None:
    store = MemoryStore()
    async with client_for(make_app(store, cookie={"path": "/app"})) as client:
        outside = await client.get("/")
        assert await outside.json() == {"session": None}
        inside = await client.get("/app/")
    assert set_cookies(outside) == []
    assert "Path=/app" in set_cookies(inside)[0]


async def test_streaming_handler_commits_before_prepare() -> None:
    store = MemoryStore()
    async with client_for(make_app(store)) as client:
        response = await client.get("/stream")
        assert await response.text() == "streamed"
    [header] = set_cookies(response)
    stored = await store.get(sid_of(header))
    assert stored is not None
    assert stored["streamed"] is True


async def test_handler_failure_leaves_the_store_untouched() -> None:
    async def fail(request: web.Request) -> web.Response:
        session = get_session(request)
        assert session is not None
        session["half"] = "done"
        raise RuntimeError("boom")

    store = MemoryStore()
    app = web.Application(middlewares=[session_middleware(store, secret=SECRET)])
    app.router.add_get("/fail", fail)
    async with client_for(app) as client:
        response = await client.get("/fail")
    assert response.status == 500
    assert await store.length() == 0


def test_get_session_without_the_middleware_says_so() -> None:
    with pytest.raises(RuntimeError, match="session_middleware is not installed"):
        get_session(make_mocked_request("GET", "/"))


def test_middleware_needs_a_store_or_an_engine() -> None:
    with pytest.raises(TypeError, match="needs a store"):
        session_middleware(secret=SECRET)


async def test_a_ready_engine_can_be_shared() -> None:
    store = MemoryStore()
    engine = SessionEngine(store, secret=SECRET, name="shared.sid")
    app = web.Application(middlewares=[session_middleware(engine=engine)])
    app.router.add_get("/", show)
    async with client_for(app) as client:
        response = await client.get("/")
        body = await response.json()
    assert set_cookies(response)[0].startswith("shared.sid=")
    assert sid_of(set_cookies(response)[0]) == body["id"]
    assert await store.get(body["id"]) is not None
    with pytest.raises(TypeError, match="not both"):
        session_middleware(store, engine=engine)


@pytest.mark.parametrize("secret", ["", [SECRET, ""], []])
def test_an_empty_secret_is_refused_when_the_middleware_is_made(secret: Any) -> None:
    with pytest.raises(ValueError, match="secret"):
        session_middleware(MemoryStore(), secret=secret)


@pytest.mark.parametrize("query", ["", "?save=1"])
async def test_a_session_over_max_session_bytes_is_a_500_and_the_store_keeps_the_old_one(query: str) -> None:
    store = MemoryStore()
    async with client_for(make_app(store, max_session_bytes=4096)) as client:
        small = await client.get("/grow/10")
        sid = (await small.json())["id"]
        large = await client.get(f"/grow/5000{query}")
    assert small.status == 200
    assert large.status == 500
    assert set_cookies(large) == []
    assert (await store.get(sid) or {})["blob"] == "x" * 10


async def test_a_conflict_under_on_conflict_raise_is_a_409_and_the_other_write_stands(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = MemoryStore()
    app = make_app(store, on_conflict="raise")

    async def meanwhile(request: web.Request) -> web.Response:
        """Change the session, while another request changes and saves it first."""
        session = get_session(request)
        assert session is not None
        session["mine"] = 1
        stored = await store.get(session.id)
        assert stored is not None
        await store.set(session.id, {**stored, "theirs": 2})
        return web.json_response({})

    app.router.add_get("/meanwhile", meanwhile)
    async with client_for(app) as client:
        sid = (await (await client.get("/inc")).json())["id"]
        response = await client.get("/meanwhile")
        assert response.status == 409
        assert await response.json() == {"error": "SessionConflictError"}
    stored = await store.get(sid)
    assert stored is not None
    assert (stored.get("theirs"), stored.get("mine")) == (2, None)
    [warning] = [r for r in caplog.records if "were not written" in r.getMessage()]
    assert (warning.levelname, warning.exc_info) == ("WARNING", None)
