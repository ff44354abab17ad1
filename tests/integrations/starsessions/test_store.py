"""ConnectSessionStore under starsessions' own middleware, through Starlette's test client."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from connectstore import Cookie, MemoryStore, SessionData, StoreUnavailableError, now_ms
from connectstore.cookie import parse_expires
from connectstore.integrations.starsessions import ConnectSessionStore
from tests.integrations.starsessions.app import HOUR, Harness, harness, session_cookie, stored


def test_new_session_is_stored_in_express_session_shape(memory: Harness) -> None:
    before = now_ms()
    with memory.client(lifetime=HOUR) as client:
        response = client.get("/inc")
    after = now_ms()
    sid = session_cookie(response)
    assert sid
    session = stored(memory, sid)
    assert session is not None
    assert list(session) == ["cookie", "views"]  # no starsessions __metadata__
    assert session["views"] == 1
    cookie = session["cookie"]
    assert cookie["originalMaxAge"] == HOUR * 1000
    assert cookie["httpOnly"] is True
    assert cookie["path"] == "/"
    expires = parse_expires(cookie["expires"])
    assert expires is not None
    assert before + HOUR * 1000 <= expires <= after + 1 + HOUR * 1000


def test_modification_is_saved_under_the_same_id(memory: Harness) -> None:
    with memory.client(lifetime=HOUR) as client:
        first = client.get("/inc")
        second = client.get("/inc")
        assert second.json() == {"views": 2}
    sid = session_cookie(first)
    assert sid is not None
    assert session_cookie(second) == sid
    session = stored(memory, sid)
    assert session is not None
    assert session["views"] == 2


def test_untouched_new_session_stores_nothing_and_sends_no_cookie(memory: Harness) -> None:
    with memory.client() as client:
        response = client.get("/")
    assert session_cookie(response) is None
    assert memory.run(memory.store.length) == 0


def test_unknown_session_id_from_the_cookie_is_never_adopted(memory: Harness) -> None:
    with memory.client() as client:
        client.cookies.set("session", "chosen-by-attacker")
        response = client.get("/inc")
    sid = session_cookie(response)
    assert sid
    assert sid != "chosen-by-attacker"
    assert stored(memory, "chosen-by-attacker") is None
    assert stored(memory, sid) is not None


def test_regenerate_on_login_destroys_the_old_record_and_redirect_carries_the_new_id(
    memory: Harness,
) -> None:
    with memory.client() as client:
        old = session_cookie(client.get("/inc"))
        response = client.post("/login", json={"user": "alice"}, follow_redirects=False)
    assert response.status_code == 302
    new = session_cookie(response)
    assert old
    assert new
    assert new != old
    assert stored(memory, old) is None
    session = stored(memory, new)
    assert session is not None
    assert session["user"] == "alice"


def test_clearing_the_session_destroys_it_and_clears_the_cookie(memory: Harness) -> None:
    with memory.client() as client:
        sid = session_cookie(client.get("/inc"))
        response = client.post("/logout", follow_redirects=False)
    assert sid
    assert session_cookie(response) == ""
    assert stored(memory, sid) is None


def test_the_cookie_key_is_reserved(memory: Harness) -> None:
    with memory.client() as client, pytest.raises(ValueError, match="reserved"):
        client.get("/cookie-key")


def test_store_error_is_a_500() -> None:
    class DownStore(MemoryStore):
        async def get(self, sid: str) -> SessionData | None:
            raise StoreUnavailableError("the store is down")

    with (
        harness("memory", Path()) as h,
        h.client(ConnectSessionStore(DownStore()), raise_errors=False) as client,
    ):
        client.cookies.set("session", "some-id")
        response = client.get("/")
    assert response.status_code == 500


def test_hung_store_is_bounded_by_the_timeout() -> None:
    class HungStore(MemoryStore):
        async def get(self, sid: str) -> SessionData | None:
            await asyncio.sleep(30)
            return None

    with harness("memory", Path()) as h, h.client(ConnectSessionStore(HungStore(), timeout=0.2)) as client:
        client.cookies.set("session", "some-id")
        with pytest.raises(StoreUnavailableError, match=r"did not answer within 0\.2 s"):
            client.get("/")


def test_cookie_options_describe_the_stored_cookie() -> None:
    options = {"secure": True, "same_site": "lax", "domain": "example.test"}
    session_store = ConnectSessionStore(MemoryStore(), cookie=options)
    with harness("memory", Path()) as h:
        session_store.store = h.store
        with h.client(session_store, lifetime=HOUR) as client:
            sid = session_cookie(client.get("/inc"))
        assert sid
        session = stored(h, sid)
    assert session is not None
    assert session["cookie"]["secure"] is True
    assert session["cookie"]["sameSite"] == "lax"
    assert session["cookie"]["domain"] == "example.test"


def test_cookie_options_may_not_set_the_lifetime() -> None:
    with pytest.raises(ValueError, match="lifetime"):
        ConnectSessionStore(MemoryStore(), cookie={"max_age": 60})


def test_exists_answers_from_the_store(memory: Harness) -> None:
    memory.run(memory.store.set, "here", {"cookie": Cookie.create().to_json()})
    session_store = ConnectSessionStore(memory.store)
    assert memory.run(session_store.exists, "here") is True
    assert memory.run(session_store.exists, "gone") is False


def test_login_cart_logout(each_store: Harness) -> None:
    h = each_store
    with h.client(lifetime=HOUR) as client:
        assert client.get("/profile").status_code == 401
        login = client.post("/login", json={"user": "alice"}, follow_redirects=False)
        assert login.status_code == 302
        sid = session_cookie(login)
        assert sid
        for item in ("apple", "pear"):
            assert client.post(f"/cart/{item}").status_code == 200
        assert client.get("/profile").json() == {"user": "alice", "cart": ["apple", "pear"]}
        session = stored(h, sid)
        assert session is not None
        assert session["user"] == "alice"
        assert session["cart"] == ["apple", "pear"]
        assert session["cookie"]["originalMaxAge"] == HOUR * 1000
        logout = client.post("/logout", follow_redirects=False)
        assert logout.status_code == 302
        assert stored(h, sid) is None
        assert client.get("/profile").status_code == 401


def test_a_session_loaded_in_another_task_keeps_its_id_and_unknown_ids_are_refused(memory: Harness) -> None:
    """With a ``BaseHTTPMiddleware`` between starsessions' middlewares the session is read in
    one task and written in another: the store itself then tells a live id from a new one.
    """
    with memory.client(lifetime=HOUR, load_in_other_task=True) as client:
        first = client.get("/inc-meta")
        second = client.get("/inc-meta")
        # Replace the jar's cookie: beside it, the two would go in an order that depends on the
        # Python version (3.10 puts the one set here first), and the server takes the last.
        client.cookies.clear()
        client.cookies.set("session", "chosen-by-attacker")
        third = client.get("/inc")
    sid = session_cookie(first)
    assert sid
    assert session_cookie(second) == sid
    assert second.json()["metadata"]["created"] == round(first.json()["metadata"]["created"] * 1000) / 1000
    session = stored(memory, sid)
    assert session is not None
    assert session["views"] == 2
    adopted = session_cookie(third)
    assert adopted
    assert adopted != "chosen-by-attacker"
    assert stored(memory, "chosen-by-attacker") is None


def test_login_in_another_task_still_gets_a_new_id(memory: Harness) -> None:
    with memory.client(load_in_other_task=True) as client:
        old = session_cookie(client.get("/inc"))
        response = client.post("/login", json={"user": "alice"}, follow_redirects=False)
    new = session_cookie(response)
    assert old
    assert new
    assert new != old
    session = stored(memory, new)
    assert session is not None
    assert session["user"] == "alice"


def test_a_session_over_max_session_bytes_is_refused_and_the_stored_one_kept() -> None:
    with harness("memory", Path()) as h:
        session_store = ConnectSessionStore(h.store, max_session_bytes=1000)
        with h.client(session_store, raise_errors=False, lifetime=HOUR) as client:
            sid = session_cookie(client.get("/inc"))
            assert sid
            grown = client.get("/grow/2000")
            kept = client.get("/grow/100")
        assert grown.status_code == 500
        assert session_cookie(grown) is None
        assert kept.status_code == 200
        session = stored(h, sid)
    assert session is not None
    assert session["blob"] == "x" * 100


def test_max_session_bytes_is_checked_at_construction() -> None:
    with pytest.raises(ValueError, match="positive"):
        ConnectSessionStore(MemoryStore(), max_session_bytes=0)
    with pytest.raises(TypeError, match="int"):
        ConnectSessionStore(MemoryStore(), max_session_bytes=1.5)  # type: ignore[arg-type]


def test_a_corrupt_session_reads_as_new_and_its_id_is_not_logged(
    memory: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    """starsessions' cookie is the bare session id, a credential: the log line names no id."""
    assert isinstance(memory.store, MemoryStore)
    memory.store._sessions["secret-session-id"] = ("{not json", None)  # corrupt behind the store's back
    with caplog.at_level("WARNING", logger="connectstore"), memory.client(lifetime=HOUR) as client:
        client.cookies.set("session", "secret-session-id")
        response = client.get("/inc")
    assert response.json() == {"views": 1}
    assert session_cookie(response) != "secret-session-id"
    assert "corrupt" in caplog.text
    assert "secret-session-id" not in caplog.text
