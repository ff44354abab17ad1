"""``ConnectSessionMiddleware``: Django with express-session's ``connect.sid`` cookie and
rules, through Django's test ``Client``, over real stores; a session shared with Flask.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from django.contrib.sessions.middleware import SessionMiddleware  # type: ignore[import-untyped]
from django.test import Client, override_settings  # type: ignore[import-untyped]

from connectstore import BlockingStore, MemoryStore
from connectstore.integrations.django import ConnectSessionMiddleware, close_bridge, get_engine
from connectstore.signing import encode_uri_component, sign_cookie, unsign_cookie
from tests.integrations.django.test_session_engine import FailingStore
from tests.integrations.flask.app import make_app
from tests.integrations.flask.bridge import STORE_KINDS, open_bridge

MIDDLEWARE = ["connectstore.integrations.django.ConnectSessionMiddleware"]
SECRET = "keyboard cat"  # Django's SECRET_KEY in conftest


@contextmanager
def configured(bridge: BlockingStore, **session: Any) -> Iterator[None]:
    with override_settings(MIDDLEWARE=MIDDLEWARE, CONNECTSTORE={"store": bridge, "session": session}):
        yield
    close_bridge()


@pytest.fixture
def bridge() -> Iterator[BlockingStore]:
    with BlockingStore(MemoryStore()) as bridge, configured(bridge):
        yield bridge


def sid_of(client: Client) -> str:
    sid = unsign_cookie(client.cookies["connect.sid"].value, [SECRET])
    assert sid is not None
    return sid


def test_the_connect_sid_cookie_is_exactly_express_sessions(bridge: BlockingStore) -> None:
    client = Client()
    response = client.get("/inc")
    assert response.json()["key"] == sid_of(client)
    header = response.cookies["connect.sid"].output(header="").strip()
    assert (
        header == f"connect.sid={encode_uri_component(sign_cookie(sid_of(client), SECRET))}; Path=/; HttpOnly"
    )
    assert response["Vary"] == "Cookie"
    assert bridge.get(sid_of(client)) == {
        "cookie": {"originalMaxAge": None, "expires": None, "httpOnly": True, "path": "/"},
        "views": 1,
    }
    assert client.get("/inc").json() == {"key": sid_of(client), "views": 2}


def test_save_uninitialized_false_sends_no_cookie() -> None:
    with BlockingStore(MemoryStore()) as bridge, configured(bridge, save_uninitialized=False):
        client = Client()
        assert "connect.sid" not in client.get("/").cookies
        assert bridge.length() == 0


def test_a_tampered_cookie_starts_a_new_session(bridge: BlockingStore) -> None:
    client = Client()
    client.get("/inc")
    old = sid_of(client)
    client.cookies["connect.sid"] = encode_uri_component(sign_cookie(old, "another secret"))
    assert client.get("/inc").json()["views"] == 1
    assert sid_of(client) != old
    assert bridge.get(old)["views"] == 1  # type: ignore[index]


def test_login_regenerates_keeping_data_and_logout_destroys(bridge: BlockingStore) -> None:
    client = Client()
    client.get("/inc")
    before = sid_of(client)
    login: Any = client.post("/login", {"user": "alice"}).json()
    assert login["old"] == before
    assert login["key"] == sid_of(client) != before
    assert bridge.get(before) is None
    assert client.get("/profile").json() == {"user": "alice", "cart": []}
    assert bridge.get(login["key"])["views"] == 1  # type: ignore[index]  # cycle_key keeps the data
    client.post("/logout")
    assert bridge.get(login["key"]) is None
    assert client.get("/profile").status_code == 401


def test_a_store_error_is_an_http_500() -> None:
    with BlockingStore(FailingStore()) as failing, configured(failing):
        client = Client(raise_request_exception=False)
        client.cookies["connect.sid"] = encode_uri_component(sign_cookie("some-session", SECRET))
        assert client.get("/profile").status_code == 500


def test_an_empty_secret_setting_is_refused() -> None:
    """``"secret": ""`` is refused, not silently replaced by SECRET_KEY."""
    with (
        BlockingStore(MemoryStore()) as bridge,
        override_settings(MIDDLEWARE=MIDDLEWARE, CONNECTSTORE={"store": bridge, "secret": ""}),
        pytest.raises(ValueError, match="empty"),
    ):
        get_engine()
    close_bridge()


def test_it_is_a_django_session_middleware() -> None:
    """What the admin's check admin.E410 (and any isinstance test) looks for."""
    assert issubclass(ConnectSessionMiddleware, SessionMiddleware)


def test_a_flask_login_is_seen_by_django(bridge: BlockingStore) -> None:
    flask_client = make_app(bridge).test_client()
    flask_client.post("/login", data={"user": "alice"})
    cookie = flask_client.get_cookie("connect.sid")
    assert cookie is not None
    client = Client()
    client.cookies["connect.sid"] = cookie.value
    assert client.get("/profile").json() == {"user": "alice", "cart": []}
    client.post("/cart", {"item": "tea"})
    assert flask_client.get("/profile").json == {"user": "alice", "cart": ["tea"]}


@pytest.mark.parametrize("kind", STORE_KINDS)
def test_login_cart_logout_flow(kind: str, tmp_path: Path) -> None:
    with open_bridge(kind, tmp_path) as bridge, configured(bridge, resave=False, cookie={"max_age": 3600}):
        client = Client()
        assert client.get("/profile").status_code == 401
        client.post("/login", {"user": "alice"})
        sid = sid_of(client)
        for item in ("apple", "pear"):
            client.post("/cart", {"item": item})
        assert client.get("/profile").json() == {"user": "alice", "cart": ["apple", "pear"]}
        stored = bridge.get(sid)
        assert stored is not None
        assert stored["cookie"]["originalMaxAge"] == 3_600_000
        assert {k: v for k, v in stored.items() if k != "cookie"} == {
            "user": "alice",
            "cart": ["apple", "pear"],
        }
        client.post("/logout")
        assert bridge.get(sid) is None
        assert client.get("/profile").status_code == 401
