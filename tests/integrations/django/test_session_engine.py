"""``SESSION_ENGINE = "connectstore.integrations.django"`` behind Django's own
``SessionMiddleware``, through Django's test ``Client``, over real stores.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.sessions.middleware import SessionMiddleware  # type: ignore[import-untyped]
from django.http import HttpRequest, HttpResponse  # type: ignore[import-untyped]
from django.test import Client, RequestFactory, override_settings  # type: ignore[import-untyped]

from connectstore import BlockingStore, Cookie, MemoryStore, SessionData, StoreUnavailableError, now_ms
from connectstore.integrations.django import SessionStore, UpdateError, close_bridge, get_bridge
from tests.integrations.flask.bridge import STORE_KINDS, open_bridge
from tests.integrations.test_store_source import MADE


@pytest.fixture
def bridge() -> Iterator[BlockingStore]:
    """A MemoryStore behind a sync bridge, configured as ``CONNECTSTORE["store"]``."""
    with BlockingStore(MemoryStore()) as bridge, override_settings(CONNECTSTORE={"store": bridge}):
        yield bridge


def key_of(client: Client) -> str:
    key: str = client.cookies["sessionid"].value
    return key


def test_a_new_session_is_stored_in_the_express_shape(bridge: BlockingStore) -> None:
    client = Client()
    before = now_ms()
    assert client.get("/inc").json() == {"key": None, "views": 1}  # Django names it when saving
    after = now_ms()
    key = key_of(client)
    assert len(key) == 32  # express-session's id format
    stored = bridge.get(key)
    assert stored is not None
    assert list(stored) == ["cookie", "views"]
    assert stored["views"] == 1
    cookie = Cookie.from_json(stored["cookie"])
    assert cookie.original_max_age == 1_209_600_000  # SESSION_COOKIE_AGE, two weeks
    assert cookie.expires_ms is not None  # two weeks from when the request saved it, however slow
    assert before + 1_209_600_000 <= cookie.expires_ms <= after + 1_209_600_000
    assert stored["cookie"]["httpOnly"] is True
    assert stored["cookie"]["path"] == "/"
    assert stored["cookie"]["sameSite"] == "lax"


def test_modifications_are_saved(bridge: BlockingStore) -> None:
    client = Client()
    client.get("/inc")
    key = key_of(client)
    assert client.get("/inc").json() == {"key": key, "views": 2}
    assert bridge.get(key)["views"] == 2  # type: ignore[index]


def test_an_untouched_session_stores_nothing_and_sends_no_cookie(bridge: BlockingStore) -> None:
    client = Client()
    response = client.get("/")
    assert "sessionid" not in response.cookies
    assert bridge.length() == 0


def test_an_unknown_key_is_never_adopted(bridge: BlockingStore) -> None:
    client = Client()
    client.cookies["sessionid"] = "chosen-by-the-attacker"
    client.get("/inc")
    assert key_of(client) != "chosen-by-the-attacker"
    assert bridge.get("chosen-by-the-attacker") is None


def test_a_session_written_by_express_is_read(bridge: BlockingStore) -> None:
    express_session = {
        "cookie": Cookie.create(max_age_ms=3_600_000).to_json(),
        "user": "bob",
        "cart": ["tea"],
    }
    bridge.set("written-by-express-0123456789abc", express_session)
    client = Client()
    client.cookies["sessionid"] = "written-by-express-0123456789abc"
    assert client.get("/profile").json() == {"user": "bob", "cart": ["tea"]}


def test_login_cycles_the_key_and_logout_destroys(bridge: BlockingStore) -> None:
    client = Client()
    client.get("/inc")
    before = key_of(client)
    login: Any = client.post("/login", {"user": "alice"}).json()
    assert login["old"] == before
    assert login["key"] != before
    assert key_of(client) == login["key"]
    assert bridge.get(before) is None
    stored = bridge.get(login["key"])
    assert stored is not None
    assert {k: v for k, v in stored.items() if k != "cookie"} == {"views": 1, "user": "alice"}
    response = client.post("/logout")
    assert response.cookies["sessionid"].value == ""  # Django deletes its cookie
    assert bridge.get(login["key"]) is None
    assert client.get("/profile").status_code == 401


def test_a_redirect_carries_the_cookie(bridge: BlockingStore) -> None:
    client = Client()
    response = client.get("/flash")
    assert response.status_code == 302
    key = response.cookies["sessionid"].value
    assert bridge.get(key)["flash"] == "kept across the redirect"  # type: ignore[index]
    followed = client.get(response["Location"]).json()
    assert followed == {"key": key, "data": {"flash": "kept across the redirect"}}


def test_set_expiry_is_the_express_cookie_lifetime(bridge: BlockingStore) -> None:
    client = Client()
    client.get("/remember")
    stored = bridge.get(key_of(client))
    assert stored is not None
    assert stored["cookie"]["originalMaxAge"] == 3_600_000
    assert stored["_session_expiry"] == 3600


def test_a_session_deleted_meanwhile_is_not_resurrected(bridge: BlockingStore) -> None:
    client = Client()
    client.get("/inc")
    key = key_of(client)
    store = SessionStore(key)
    store["views"] = 5
    bridge.destroy(key)
    with pytest.raises(UpdateError):
        store.save()
    assert bridge.get(key) is None


def test_saving_a_session_that_is_gone_raises_update_error(bridge: BlockingStore) -> None:
    store = SessionStore("no-such-session-0123456789abcdef")
    with pytest.raises(UpdateError):
        store.save()  # loading found nothing: never created under a key the caller chose
    assert bridge.length() == 0


def test_an_emptied_session_is_saved(bridge: BlockingStore) -> None:
    """Django's rule (its test_empty_session_saved reads it through the db backend's model):
    a session emptied of data but not flushed is still saved, and its cookie still sent.
    """

    def set_foo(request: HttpRequest) -> HttpResponse:
        request.session["foo"] = "bar"
        return HttpResponse()

    request = RequestFactory().get("/")
    middleware = SessionMiddleware(set_foo)
    middleware(request)
    key = request.session.session_key
    assert bridge.get(key)["foo"] == "bar"  # type: ignore[index]
    del request.session["foo"]
    response = middleware.process_response(request, HttpResponse())
    stored = bridge.get(key)
    assert stored is not None
    assert list(stored) == ["cookie"]
    assert response.cookies["sessionid"].value == key


def test_the_async_methods(bridge: BlockingStore) -> None:
    client = Client()
    assert client.get("/async-inc").json() == {"views": 1}
    key = key_of(client)
    assert client.get("/async-inc?cycle=1").json() == {"views": 2}
    assert key_of(client) != key
    assert bridge.get(key) is None
    assert bridge.get(key_of(client))["views"] == 2  # type: ignore[index]


class FailingStore(MemoryStore):
    """A store whose every read fails, as a store that is down does."""

    async def get(self, sid: str) -> SessionData | None:
        raise StoreUnavailableError("the store is down")


def test_a_store_error_is_an_http_500() -> None:
    with BlockingStore(FailingStore()) as failing, override_settings(CONNECTSTORE={"store": failing}):
        client = Client(raise_request_exception=False)
        client.cookies["sessionid"] = "some-session-key"
        assert client.get("/profile").status_code == 500


def test_the_store_may_be_a_url_made_on_first_use() -> None:
    with override_settings(CONNECTSTORE={"store": "memory://", "timeout": 120.0}):
        client = Client()
        client.get("/inc")
        key = key_of(client)
        bridge = get_bridge()
        assert bridge.timeout == 120.0
        assert bridge.get(key)["views"] == 1  # type: ignore[index]
        loop = bridge.loop
    assert loop.is_closed()  # the setting change closed the bridge made for it (thread and loop)
    assert bridge.get(key)["views"] == 1  # type: ignore[index]  # as every store, it works after close()
    bridge.close()
    close_bridge()  # and closing again is safe


def test_the_store_may_be_the_dotted_path_of_a_factory_given_the_store_options() -> None:
    MADE.clear()
    setting = {"store": "tests.integrations.test_store_source.make_store", "store_options": {"ttl": 60}}
    with override_settings(CONNECTSTORE=setting):
        client = Client()
        client.get("/inc")
        store = get_bridge().store
        assert isinstance(store, MemoryStore)
        assert store.ttl == 60
        assert MADE == [{"ttl": 60}]
        assert get_bridge().get(key_of(client))["views"] == 1  # type: ignore[index]


@pytest.mark.parametrize("kind", STORE_KINDS)
def test_login_cart_logout_flow(kind: str, tmp_path: Path) -> None:
    with open_bridge(kind, tmp_path) as bridge, override_settings(CONNECTSTORE={"store": bridge}):
        client = Client()
        assert client.get("/profile").status_code == 401
        client.post("/login", {"user": "alice"})
        key = key_of(client)
        for item in ("apple", "pear"):
            client.post("/cart", {"item": item})
        assert client.get("/profile").json() == {"user": "alice", "cart": ["apple", "pear"]}
        stored = bridge.get(key)
        assert stored is not None
        assert list(stored) == ["cookie", "user", "cart"]
        client.post("/logout")
        assert bridge.get(key) is None
        assert client.get("/profile").status_code == 401
