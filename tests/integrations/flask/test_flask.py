"""The Flask integration through Flask's own test client, over real stores."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from connectstore import BlockingStore, MemoryStore, SessionData, StoreUnavailableError, StoreURLError
from connectstore.integrations.flask import ConnectSession, FlaskSession
from connectstore.signing import decode_uri_component, sign_cookie, unsign_cookie
from tests.integrations.flask.app import make_app
from tests.integrations.flask.bridge import STORE_KINDS, open_bridge

SECRET = "keyboard cat"


@pytest.fixture
def bridge() -> Iterator[BlockingStore]:
    """A MemoryStore behind a sync bridge."""
    with BlockingStore(MemoryStore()) as bridge:
        yield bridge


def set_cookies(response: TestResponse) -> list[str]:
    return response.headers.getlist("Set-Cookie")


def sid_of(set_cookie: str, secret: str = SECRET) -> str:
    """The session id a ``Set-Cookie: connect.sid=...`` header carries (signature checked)."""
    name, _, rest = set_cookie.partition("=")
    assert name == "connect.sid"
    sid = unsign_cookie(decode_uri_component(rest.split(";")[0]), [secret])
    assert sid is not None
    return sid


def client_for(app: Flask) -> FlaskClient:
    return app.test_client()


def test_a_new_session_sends_a_signed_connect_sid_and_is_stored(bridge: BlockingStore) -> None:
    client = client_for(make_app(bridge))
    response = client.get("/inc")
    assert response.status_code == 200
    [header] = set_cookies(response)
    assert header.startswith("connect.sid=s%3A")
    assert "; Path=/; HttpOnly" in header
    sid = sid_of(header)
    assert sid == response.json["id"]  # type: ignore[index]
    stored = bridge.get(sid)
    assert stored == {
        "cookie": {"originalMaxAge": None, "expires": None, "httpOnly": True, "path": "/"},
        "views": 1,
    }
    assert response.headers["Vary"] == "Cookie"


def test_modifications_are_saved_and_the_cookie_is_not_resent(bridge: BlockingStore) -> None:
    client = client_for(make_app(bridge))
    first = client.get("/inc")
    second = client.get("/inc")
    assert second.json == {"id": first.json["id"], "views": 2}  # type: ignore[index]
    assert set_cookies(second) == []  # loaded, browser-session cookie, not rolling: express sends none
    assert bridge.get(first.json["id"])["views"] == 2  # type: ignore[index]


def test_nested_changes_are_seen_without_the_modified_flag(bridge: BlockingStore) -> None:
    client = client_for(make_app(bridge, resave=False))
    client.post("/cart", data={"item": "apple"})
    response = client.post("/cart", data={"item": "pear"})
    assert response.json == {"cart": ["apple", "pear"]}
    [stored] = bridge.all().values()
    assert stored["cart"] == ["apple", "pear"]


def test_save_uninitialized_false_sends_no_cookie_for_an_untouched_session(bridge: BlockingStore) -> None:
    client = client_for(make_app(bridge, save_uninitialized=False))
    untouched = client.get("/")
    assert untouched.json["new"] is True  # type: ignore[index]
    assert set_cookies(untouched) == []
    assert bridge.length() == 0
    modified = client.get("/inc")
    assert len(set_cookies(modified)) == 1
    assert bridge.length() == 1


def test_a_tampered_cookie_starts_a_new_session_and_leaves_the_old_one(bridge: BlockingStore) -> None:
    client = client_for(make_app(bridge))
    old = client.get("/inc").json["id"]  # type: ignore[index]
    client.set_cookie("connect.sid", sign_cookie(old, "another secret"))
    response = client.get("/inc")
    assert response.json["id"] != old  # type: ignore[index]
    assert response.json["views"] == 1  # type: ignore[index]
    assert bridge.get(old)["views"] == 1  # type: ignore[index]


def test_an_unknown_sid_is_never_adopted(bridge: BlockingStore) -> None:
    client = client_for(make_app(bridge))
    client.set_cookie("connect.sid", sign_cookie("chosen-by-the-attacker", SECRET))
    response = client.get("/inc")
    assert response.json["id"] != "chosen-by-the-attacker"  # type: ignore[index]
    assert bridge.get("chosen-by-the-attacker") is None


def test_login_regenerates_the_session(bridge: BlockingStore) -> None:
    client = client_for(make_app(bridge))
    before = client.get("/inc").json["id"]  # type: ignore[index]
    response = client.post("/login", data={"user": "alice"})
    assert response.json["old"] == before  # type: ignore[index]
    new = response.json["id"]  # type: ignore[index]
    assert new != before
    assert sid_of(set_cookies(response)[0]) == new
    assert bridge.get(before) is None
    assert bridge.get(new) == {"cookie": bridge.get(new)["cookie"], "user": "alice"}  # type: ignore[index]


def test_logout_destroys_the_session(bridge: BlockingStore) -> None:
    client = client_for(make_app(bridge))
    sid = client.post("/login", data={"user": "alice"}).json["id"]  # type: ignore[index]
    response = client.post("/logout")
    assert response.json == {"logged_out": True}
    assert set_cookies(response) == []
    assert bridge.get(sid) is None
    assert client.get("/profile").status_code == 401


def test_a_redirect_carries_the_cookie_and_the_saved_session(bridge: BlockingStore) -> None:
    client = client_for(make_app(bridge))
    response = client.get("/save-and-redirect")
    assert response.status_code == 302
    [header] = set_cookies(response)
    sid = sid_of(header)
    assert bridge.get(sid)["flash"] == "saved before the redirect"  # type: ignore[index]
    followed = client.get(response.headers["Location"])
    assert followed.json["id"] == sid  # type: ignore[index]
    assert followed.json["data"] == {"flash": "saved before the redirect"}  # type: ignore[index]


class FailingStore(MemoryStore):
    """A store whose every read fails, as a store that is down does."""

    async def get(self, sid: str) -> SessionData | None:
        raise StoreUnavailableError("the store is down")


def test_a_store_error_is_an_http_500() -> None:
    with BlockingStore(FailingStore()) as failing:
        client = client_for(make_app(failing))
        client.set_cookie("connect.sid", sign_cookie("some-session", SECRET))
        assert client.get("/").status_code == 500


def test_on_store_error_continue_serves_without_a_session() -> None:
    with BlockingStore(FailingStore()) as failing:
        client = client_for(make_app(failing, on_store_error="continue"))
        client.set_cookie("connect.sid", sign_cookie("some-session", SECRET))
        response = client.get("/")
        assert response.status_code == 200
        assert response.json == {"available": False, "id": None, "data": {}, "new": True}
        assert set_cookies(response) == []
        assert client.get("/inc").status_code == 500  # writing to no session is an error


def test_secret_rotation_accepts_the_old_and_signs_with_the_new(bridge: BlockingStore) -> None:
    old_app = make_app(bridge)
    sid = old_app.test_client().get("/inc").json["id"]  # type: ignore[index]
    app = make_app(bridge, rolling=True)
    app.config["SECRET_KEY"] = "new secret"
    app.config["SECRET_KEY_FALLBACKS"] = [SECRET]
    client = client_for(app)
    client.set_cookie("connect.sid", sign_cookie(sid, SECRET))
    response = client.get("/inc")
    assert response.json == {"id": sid, "views": 2}
    assert sid_of(set_cookies(response)[0], "new secret") == sid


def test_an_explicit_secret_and_cookie_options(bridge: BlockingStore) -> None:
    app = make_app(
        bridge, secret=["s1", "s0"], name="app.sid", cookie={"max_age": 3600, "same_site": "strict"}
    )
    response = client_for(app).get("/inc")
    [header] = set_cookies(response)
    name, _, rest = header.partition("=")
    assert name == "app.sid"
    assert unsign_cookie(decode_uri_component(rest.split(";")[0]), ["s1"]) == response.json["id"]  # type: ignore[index]
    assert "Expires=" in header
    assert "SameSite=Strict" in header


def test_permanent_gives_the_cookie_the_app_lifetime(bridge: BlockingStore) -> None:
    app = make_app(bridge)
    app.permanent_session_lifetime = 600
    response = client_for(app).get("/remember-me")
    assert response.json == {"permanent": True, "modified": True}
    [stored] = bridge.all().values()
    assert stored["cookie"]["originalMaxAge"] == 600_000
    assert "Expires=" in set_cookies(response)[0]


def test_remove_with_unset_destroy_deletes_the_session(bridge: BlockingStore) -> None:
    client = client_for(make_app(bridge, unset="destroy"))
    sid = client.get("/inc").json["id"]  # type: ignore[index]
    assert set_cookies(client.get("/remove")) == []
    assert bridge.get(sid) is None


def test_the_test_clients_session_transaction_works(bridge: BlockingStore) -> None:
    client = client_for(make_app(bridge))
    with client.session_transaction() as session:
        assert isinstance(session, FlaskSession)
        session["user"] = "preset"
    assert client.get("/profile").json == {"user": "preset", "cart": []}


def test_no_secret_is_an_error(bridge: BlockingStore) -> None:
    app = Flask(__name__)
    ConnectSession(app, bridge)
    app.testing = True
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        app.test_client().get("/")


def test_the_store_may_be_the_dotted_path_of_a_factory() -> None:
    interface = ConnectSession(None, "tests.integrations.test_store_source.make_store")
    try:
        app = make_app(interface.bridge)
        sid = sid_of(set_cookies(app.test_client().get("/inc"))[0])
        stored = interface.bridge.get(sid)
        assert stored is not None
        assert stored["views"] == 1
        assert isinstance(interface.bridge.store, MemoryStore)
    finally:
        interface.close()


def test_a_store_string_that_names_nothing_is_refused_at_setup() -> None:
    with pytest.raises(StoreURLError, match="neither a store URL"):
        ConnectSession(Flask(__name__), "not a url")


@pytest.mark.parametrize("kind", STORE_KINDS)
def test_login_cart_logout_flow(kind: str, tmp_path: Path) -> None:
    with open_bridge(kind, tmp_path) as bridge:
        client = client_for(
            make_app(bridge, resave=False, save_uninitialized=False, cookie={"max_age": 3600})
        )
        assert client.get("/profile").status_code == 401
        assert set_cookies(client.get("/")) == []
        login = client.post("/login", data={"user": "alice"})
        sid = sid_of(set_cookies(login)[0])
        for item in ("apple", "pear"):
            client.post("/cart", data={"item": item})
        profile: Any = client.get("/profile").json
        assert profile == {"user": "alice", "cart": ["apple", "pear"]}
        stored = bridge.get(sid)
        assert stored is not None
        assert list(stored) == ["cookie", "user", "cart"]
        assert stored["cookie"]["originalMaxAge"] == 3_600_000
        client.post("/logout")
        assert bridge.get(sid) is None
        assert client.get("/profile").status_code == 401


@pytest.mark.parametrize("secret", ["", ["new", ""], []])
def test_an_empty_explicit_secret_is_refused_at_setup(bridge: BlockingStore, secret: Any) -> None:
    with pytest.raises(ValueError, match="secret"):
        ConnectSession(Flask(__name__), bridge, secret=secret)


def test_an_empty_secret_among_the_fallbacks_is_refused(bridge: BlockingStore) -> None:
    app = make_app(bridge)
    app.config["SECRET_KEY_FALLBACKS"] = [""]
    assert app.test_client().get("/").status_code == 500
    app.testing = True
    with pytest.raises(ValueError, match=r"secret\[1\] is empty"):
        app.test_client().get("/")


@pytest.mark.parametrize("query", ["", "?save=1"])
def test_a_session_over_max_session_bytes_is_a_500_and_the_store_keeps_the_old_one(
    bridge: BlockingStore, query: str
) -> None:
    client = client_for(make_app(bridge, max_session_bytes=4096))
    sid = client.get("/grow/10").json["id"]  # type: ignore[index]
    response = client.get(f"/grow/5000{query}")
    assert response.status_code == 500
    assert set_cookies(response) == []
    assert bridge.get(sid)["blob"] == "x" * 10  # type: ignore[index]
