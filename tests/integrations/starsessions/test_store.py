"""ConnectSessionStore under starsessions' own middleware, through Starlette's test client."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from connectstore import Cookie, MemoryStore, SessionData, StoreUnavailableError, now_ms, parse_expires
from connectstore.integrations.starsessions import ConnectSessionStore
from tests.integrations.starsessions.app import Harness, harness, session_cookie
from tests.integrations.stores import STORE_KINDS

HOUR = 3600


@pytest.fixture
def memory(tmp_path: Path) -> Iterator[Harness]:
    with harness("memory", tmp_path) as h:
        yield h


@pytest.fixture(params=STORE_KINDS)
def each_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    with harness(request.param, tmp_path) as h:
        yield h


def stored(h: Harness, sid: str) -> SessionData | None:
    return h.run(h.store.get, sid)


def seconds_left_between(expires_ms: int, before_ms: int, after_ms: int) -> range:
    """What starsessions may report as the seconds left of a session expiring at
    ``expires_ms``, asked at some moment between ``before_ms`` and ``after_ms``: bounds
    from the clock around the request, never from how fast the machine is.
    """
    return range((expires_ms - after_ms) // 1000 - 1, (expires_ms - before_ms) // 1000 + 1)


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


def test_browser_session_lifetime_stores_no_expiry(memory: Harness) -> None:
    with memory.client(lifetime=0) as client:
        response = client.get("/inc")
    sid = session_cookie(response)
    assert sid
    assert "max-age" not in response.headers["set-cookie"]
    session = stored(memory, sid)
    assert session is not None
    assert session["cookie"]["expires"] is None
    assert session["cookie"]["originalMaxAge"] is None


def test_fixed_lifetime_keeps_its_exact_expiry_across_writes(memory: Harness) -> None:
    with memory.client(lifetime=HOUR) as client:
        sid = session_cookie(client.get("/inc"))
        assert sid
        first = stored(memory, sid)
        for _ in range(3):
            client.get("/inc")
        before = now_ms()
        meta = client.get("/meta").json()
        after = now_ms()
    last = stored(memory, sid)
    assert first is not None
    assert last is not None
    assert last["cookie"]["expires"] == first["cookie"]["expires"]
    assert meta["lifetime"] == HOUR
    expires = parse_expires(last["cookie"]["expires"])
    assert expires is not None
    assert meta["remaining"] in seconds_left_between(expires, before, after)
    assert meta["remaining"] <= HOUR


def test_rolling_lifetime_moves_the_expiry(memory: Harness) -> None:
    ten_seconds_ago = now_ms() - 10_000
    cookie = Cookie.create(max_age_ms=HOUR * 1000, now=ten_seconds_ago)
    memory.run(memory.store.set, "rolling", {"cookie": cookie.to_json(), "views": 1})
    with memory.client(lifetime=HOUR, rolling=True) as client:
        client.cookies.set("session", "rolling")
        response = client.get("/inc")
    assert session_cookie(response) == "rolling"
    assert f"max-age={HOUR}" in response.headers["set-cookie"]
    last = stored(memory, "rolling")
    assert last is not None
    expires = parse_expires(last["cookie"]["expires"])
    assert expires is not None
    assert expires - (cookie.expires_ms or 0) >= 9_000


def test_fixed_lifetime_keeps_the_expiry_of_an_older_session(memory: Harness) -> None:
    cookie = Cookie.create(max_age_ms=HOUR * 1000, now=now_ms() - 10_000)
    memory.run(memory.store.set, "fixed", {"cookie": cookie.to_json(), "views": 1})
    with memory.client(lifetime=HOUR) as client:
        client.cookies.set("session", "fixed")
        client.get("/inc")
    last = stored(memory, "fixed")
    assert last is not None
    assert last["cookie"]["expires"] == cookie.to_json()["expires"]
    assert last["views"] == 2


def test_a_session_written_by_express_is_read_with_its_expiry(memory: Harness) -> None:
    cookie = Cookie.create(max_age_ms=600_000)
    express_session = {"cookie": cookie.to_json(), "user": "bob", "cart": ["tea"]}
    memory.run(memory.store.set, "fromexpress", express_session)
    with memory.client(lifetime=HOUR) as client:
        client.cookies.set("session", "fromexpress")
        data = client.get("/").json()
        before = now_ms()
        meta = client.get("/meta").json()
        after = now_ms()
    assert data == {"data": {"user": "bob", "cart": ["tea"]}}
    assert meta["lifetime"] == 600
    assert meta["remaining"] in seconds_left_between(cookie.expires_ms or 0, before, after)
    assert meta["remaining"] <= 600


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


def test_a_new_session_expires_exactly_at_created_plus_lifetime(memory: Harness) -> None:
    """starsessions counts a fixed lifetime down from ``created`` in whole seconds; the stored
    expiry is that instant to the millisecond, not one second short, whatever the rounding.
    """
    for _ in range(40):
        with memory.client(lifetime=HOUR) as client:
            response = client.get("/inc-meta")
        sid = session_cookie(response)
        assert sid
        session = stored(memory, sid)
        assert session is not None
        created = response.json()["metadata"]["created"]
        assert parse_expires(session["cookie"]["expires"]) == round(created * 1000) + HOUR * 1000
        assert session["cookie"]["originalMaxAge"] == HOUR * 1000


def test_metadata_holds_only_starsessions_own_keys(memory: Harness) -> None:
    with memory.client(lifetime=HOUR) as client:
        new = client.get("/inc-meta").json()["metadata"]
        loaded = client.get("/inc-meta").json()["metadata"]
    assert set(new) == {"lifetime", "created", "last_access"}
    assert set(loaded) == {"lifetime", "created", "last_access"}
    assert loaded["created"] == round(new["created"] * 1000) / 1000
    assert loaded["lifetime"] == HOUR


@pytest.mark.parametrize("options", [{"lifetime": 0}, {"lifetime": HOUR, "rolling": True}])
def test_created_stays_when_the_cookie_cannot_carry_it(memory: Harness, options: dict[str, Any]) -> None:
    """A browser-session cookie (``lifetime=0``, starsessions' default) has no expiry to
    rebuild ``created`` from, and a rolling one moves it: ``created`` is kept beside.
    """
    with memory.client(**options) as client:
        first = client.get("/inc-meta")
        later = [client.get("/inc-meta").json()["metadata"] for _ in range(3)]
    created = first.json()["metadata"]["created"]
    assert [round(meta["created"] * 1000) for meta in later] == [round(created * 1000)] * 3  # to the ms
    assert all(meta["last_access"] >= created for meta in later)
    sid = session_cookie(first)
    assert sid
    session = stored(memory, sid)
    assert session is not None
    assert round(session["__metadata__"]["created"] * 1000) == round(created * 1000)
    assert session["views"] == 4


def test_an_express_session_without_expiry_gets_created_at_its_first_read(memory: Harness) -> None:
    memory.run(memory.store.set, "fromexpress", {"cookie": Cookie.create().to_json(), "user": "bob"})
    before = now_ms()
    with memory.client() as client:
        client.cookies.set("session", "fromexpress")
        first = client.get("/inc-meta").json()["metadata"]
        second = client.get("/inc-meta").json()["metadata"]
    assert before <= first["created"] * 1000
    assert second["created"] == first["created"]
    session = stored(memory, "fromexpress")
    assert session is not None
    assert session["user"] == "bob"


def test_a_session_loaded_in_another_task_keeps_its_id_and_unknown_ids_are_refused(memory: Harness) -> None:
    """With a ``BaseHTTPMiddleware`` between starsessions' middlewares the session is read in
    one task and written in another: the store itself then tells a live id from a new one.
    """
    with memory.client(lifetime=HOUR, load_in_other_task=True) as client:
        first = client.get("/inc-meta")
        second = client.get("/inc-meta")
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
