"""Django's test ``Client`` with ``ConnectSessionMiddleware``: ``force_login()``, ``login()``,
``logout()`` and presetting ``client.session`` reach the middleware's sessions through
``SESSION_ENGINE = "connectstore.integrations.django.express"``, with the real
``django.contrib.auth`` on an in-memory SQLite database, over real stores.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User  # type: ignore[import-untyped]
from django.core.exceptions import ImproperlyConfigured  # type: ignore[import-untyped]
from django.db import connection  # type: ignore[import-untyped]
from django.test import AsyncClient, Client, override_settings  # type: ignore[import-untyped]

from connectstore import BlockingStore, MemoryStore
from connectstore.integrations.django import ExpressSessionStore, close_bridge
from connectstore.signing import decode_uri_component, encode_uri_component, sign_cookie, unsign_cookie
from tests.integrations.flask.bridge import STORE_KINDS, open_bridge

SECRET = "keyboard cat"  # Django's SECRET_KEY in conftest
EXPRESS_MODE: dict[str, Any] = {
    "MIDDLEWARE": [
        "connectstore.integrations.django.ConnectSessionMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
    ],
    "SESSION_ENGINE": "connectstore.integrations.django.express",
    "SESSION_COOKIE_NAME": "connect.sid",
}


@pytest.fixture(scope="module")
def database() -> Iterator[None]:
    """Django's test database (auth's tables), created by Django's own test machinery."""
    # (no serialize=: Django 6.1 deprecates the argument; serializing an empty database is cheap)
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        yield
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


@pytest.fixture
def alice(database: None) -> Iterator[Any]:
    user = User.objects.create_user("alice", password="wonderland")
    try:
        yield user
    finally:
        user.delete()


@contextmanager
def express_mode(bridge: BlockingStore, **session: Any) -> Iterator[None]:
    with override_settings(**EXPRESS_MODE, CONNECTSTORE={"store": bridge, "session": session}):
        yield
    close_bridge()


@pytest.fixture
def bridge() -> Iterator[BlockingStore]:
    with BlockingStore(MemoryStore()) as bridge, express_mode(bridge):
        yield bridge


def sid_of(client: Client) -> str:
    """The session id of the client's ``connect.sid`` cookie (which must be signed)."""
    sid = unsign_cookie(decode_uri_component(client.cookies["connect.sid"].value), [SECRET])
    assert sid is not None
    return sid


def whoami(client: Client) -> Any:
    return client.get("/whoami").json()["user"]


@pytest.mark.parametrize("kind", STORE_KINDS)
def test_force_login_reaches_the_middleware(kind: str, tmp_path: Path, alice: Any) -> None:
    with open_bridge(kind, tmp_path) as bridge, express_mode(bridge, cookie={"max_age": 3600}):
        client = Client()
        assert whoami(client) is None
        client.force_login(alice)
        stored = bridge.get(sid_of(client))
        assert stored is not None
        assert stored["_auth_user_id"] == str(alice.pk)
        assert stored["cookie"]["originalMaxAge"] == 3_600_000  # the middleware's cookie option
        assert whoami(client) == "alice"
        client.post("/cart", {"item": "tea"})
        assert client.get("/").json()["data"]["cart"] == ["tea"]


def test_login_with_credentials(bridge: BlockingStore, alice: Any) -> None:
    client = Client()
    assert client.login(username="alice", password="not the password") is False
    assert whoami(client) is None
    assert client.login(username="alice", password="wonderland") is True
    assert whoami(client) == "alice"


def test_login_after_a_request_cycles_the_session(bridge: BlockingStore, alice: Any) -> None:
    client = Client()
    assert client.get("/inc").json()["views"] == 1  # a session from the middleware first
    before = sid_of(client)
    client.force_login(alice)
    assert sid_of(client) != before  # login() cycles the key: no session fixation
    assert bridge.get(before) is None
    assert whoami(client) == "alice"
    assert client.get("/inc").json()["views"] == 2  # the data came along


def test_logout(bridge: BlockingStore, alice: Any) -> None:
    client = Client()
    client.force_login(alice)
    sid = sid_of(client)
    client.logout()
    assert bridge.get(sid) is None
    assert whoami(client) is None


def test_a_logout_view_ends_a_forced_login(bridge: BlockingStore, alice: Any) -> None:
    client = Client()
    client.force_login(alice)
    sid = sid_of(client)
    client.post("/logout")  # request.session.flush(), what django.contrib.auth.logout does
    assert bridge.get(sid) is None
    assert whoami(client) is None


def test_presetting_client_session(bridge: BlockingStore) -> None:
    client = Client()
    session = client.session
    session["cart"] = ["tea"]
    session.save()
    shown = client.get("/").json()
    assert shown == {"key": sid_of(client), "data": {"cart": ["tea"]}}
    client.get("/inc")
    session = client.session  # now from the cookie the middleware sent
    assert session["views"] == 1
    session["views"] = 41
    session.save()
    assert client.get("/inc").json()["views"] == 42


def test_the_stored_cookie_is_the_middlewares(bridge: BlockingStore) -> None:
    with express_mode(bridge, cookie={"max_age": 7200, "same_site": "strict"}):
        client = Client()
        session = client.session
        session.save()
        stored = bridge.get(sid_of(client))
        assert stored is not None
        assert stored["cookie"]["originalMaxAge"] == 7_200_000
        assert stored["cookie"]["sameSite"] == "strict"


def test_genid_makes_the_ids_and_gets_no_request(bridge: BlockingStore, alice: Any) -> None:
    requests: list[Any] = []

    def genid(request: Any) -> str:
        requests.append(request)
        return f"made-by-genid-{len(requests)}"

    with express_mode(bridge, genid=genid):
        client = Client()
        client.force_login(alice)
        assert sid_of(client).startswith("made-by-genid-")
        assert requests[0] is None  # the test client's sessions are made outside any request
        assert whoami(client) == "alice"


async def test_async_force_login(bridge: BlockingStore, alice: Any) -> None:
    client = AsyncClient()
    await client.aforce_login(alice)
    response = await client.get("/whoami")
    assert response.json() == {"user": "alice"}
    session = await client.asession()
    assert await session.aget("_auth_user_id") == str(alice.pk)


def test_the_key_is_the_signed_cookie_value(bridge: BlockingStore) -> None:
    session = ExpressSessionStore()
    session["a"] = 1
    session.save()
    assert session.session_key == encode_uri_component(sign_cookie(session.sid or "", SECRET))
    assert ExpressSessionStore(session.session_key)["a"] == 1
    assert ExpressSessionStore(decode_uri_component(session.session_key))["a"] == 1  # as Client reads it
    assert ExpressSessionStore(session.sid).session_key is None  # an unsigned id is no key
    forged = encode_uri_component(sign_cookie(session.sid or "", "another secret"))
    assert ExpressSessionStore(forged).session_key is None
    assert ExpressSessionStore(forged).exists(forged) is False
    assert session.exists(session.session_key) is True


def test_a_key_signed_with_an_old_secret_is_re_signed(alice: Any) -> None:
    with (
        BlockingStore(MemoryStore()) as bridge,
        override_settings(SECRET_KEY="new secret", SECRET_KEY_FALLBACKS=[SECRET]),
        express_mode(bridge),
    ):
        old = ExpressSessionStore(encode_uri_component(sign_cookie("an-existing-session-id", SECRET)))
        assert old.sid == "an-existing-session-id"
        assert old.session_key == encode_uri_component(sign_cookie("an-existing-session-id", "new secret"))


def test_a_cookie_name_other_than_the_middlewares_is_refused(bridge: BlockingStore) -> None:
    with override_settings(SESSION_COOKIE_NAME="sessionid"), pytest.raises(ImproperlyConfigured) as raised:
        Client().session  # noqa: B018
    assert "SESSION_COOKIE_NAME = 'connect.sid'" in str(raised.value)
