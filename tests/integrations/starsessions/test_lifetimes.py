"""starsessions' lifetimes through ConnectSessionStore: browser-session, fixed and rolling
expiries, and the metadata (``created``, ``lifetime``) kept beside express-session's cookie.
"""

from __future__ import annotations

from typing import Any

import pytest

from connectstore import Cookie, now_ms
from connectstore.cookie import parse_expires
from tests.integrations.starsessions.app import HOUR, Harness, seconds_left_between, session_cookie, stored


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
