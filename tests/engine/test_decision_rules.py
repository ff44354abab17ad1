"""express-session's decision rules, observed through the ASGI middleware.

Each test names the row of express-session's behaviour it reproduces (index.js 1.19:
shouldSave / shouldTouch / shouldSetCookie / shouldDestroy, connect-contract.md 1.6).
The engine runs with ``on_conflict="overwrite"``, so the store sees express-session's very
calls (get/set); tests/engine/test_conflict_calls.py shows the other policies make the same
calls in their conditional form.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from starlette.applications import Starlette

from connectstore import MemoryStore, Store
from connectstore.signing import decode_uri_component, sign_cookie, unsign_cookie
from tests.engine import apps
from tests.engine.apps import call
from tests.engine.recording import RecordingStore

MINUTE = {"max_age": 60}


def make_app(store: Store, **options: Any) -> Starlette:
    """The test app, its engine making express-session's plain calls."""
    return apps.make_app(store, on_conflict="overwrite", **options)


def sid_of(set_cookie: str) -> str | None:
    value = decode_uri_component(set_cookie.split(";")[0].split("=", 1)[1])
    return unsign_cookie(value, "keyboard cat")


async def logged_in(store: RecordingStore, **options: Any) -> tuple[Any, str]:
    """An app and the cookie of a session holding views=1 (store log cleared)."""
    app = make_app(store, **options)
    first = await call(app, "/inc")
    assert first.cookie is not None
    store.calls.clear()
    return app, first.cookie


async def test_new_unmodified_session_without_save_uninitialized_stores_nothing_sends_nothing() -> None:
    store = RecordingStore()
    app = make_app(store, save_uninitialized=False, resave=False)
    reply = await call(app, "/")
    assert reply.set_cookies == []
    assert store.calls == []
    assert await store.length() == 0


async def test_new_unmodified_session_with_save_uninitialized_is_stored_and_sent() -> None:
    store = RecordingStore()
    app = make_app(store)
    reply = await call(app, "/")
    assert len(reply.set_cookies) == 1
    sid = sid_of(reply.set_cookies[0])
    assert store.calls == [("set", sid)]
    assert await store.get(sid or "") == {
        "cookie": {"originalMaxAge": None, "expires": None, "httpOnly": True, "path": "/"}
    }


async def test_new_modified_session_is_saved_and_cookie_sent() -> None:
    store = RecordingStore()
    app = make_app(store, save_uninitialized=False, resave=False, cookie=MINUTE)
    reply = await call(app, "/inc")
    sid = sid_of(reply.set_cookies[0])
    assert store.methods() == ["set"]
    stored = await store.get(sid or "")
    assert stored is not None
    assert stored["views"] == 1
    assert stored["cookie"]["originalMaxAge"] == 60000


async def test_unmodified_loaded_session_with_resave_false_is_touched_not_saved() -> None:
    store = RecordingStore()
    app, cookie = await logged_in(store, resave=False, save_uninitialized=False, cookie=MINUTE)
    reply = await call(app, "/", cookie)
    assert store.methods() == ["get", "touch"]
    assert reply.set_cookies == []  # not rolling, not modified


async def test_unmodified_loaded_session_with_resave_true_is_saved_again() -> None:
    store = RecordingStore()
    app, cookie = await logged_in(store, cookie=MINUTE)
    await call(app, "/", cookie)
    assert store.methods() == ["get", "set"]


async def test_modified_loaded_session_is_saved_and_cookie_resent_when_it_expires() -> None:
    store = RecordingStore()
    app, cookie = await logged_in(store, resave=False, cookie=MINUTE)
    reply = await call(app, "/inc", cookie)
    assert store.methods() == ["get", "set"]
    assert reply.json["views"] == 2
    assert reply.cookie == cookie  # same sid, re-sent with a new Expires


async def test_modified_browser_session_cookie_is_not_resent() -> None:
    store = RecordingStore()
    app, cookie = await logged_in(store, resave=False)  # no max_age: browser-session cookie
    reply = await call(app, "/inc", cookie)
    assert store.methods() == ["get", "set"]
    assert reply.set_cookies == []


async def test_rolling_resends_the_cookie_of_an_unmodified_session() -> None:
    store = RecordingStore()
    app, cookie = await logged_in(store, resave=False, rolling=True, cookie=MINUTE)
    reply = await call(app, "/", cookie)
    assert reply.cookie == cookie
    assert store.methods() == ["get", "touch"]


async def test_rolling_does_not_send_a_cookie_for_an_uninitialized_new_session() -> None:
    store = RecordingStore()
    app = make_app(store, resave=False, rolling=True, save_uninitialized=False)
    assert (await call(app, "/")).set_cookies == []


@pytest.mark.parametrize(
    "tamper",
    [
        lambda c: c[:-3] + ("AAA" if not c.endswith("AAA") else "BBB"),  # signature changed
        lambda c: c.replace("s%3A", "s%3AX", 1),  # sid changed
        lambda c: c.split(".")[0],  # signature removed
        lambda c: "connect.sid=" + decode_uri_component(c.split("=", 1)[1])[2:].split(".")[0],  # unsigned
    ],
    ids=["signature", "sid", "truncated", "unsigned"],
)
async def test_tampered_or_unsigned_cookie_starts_a_new_session_and_leaves_the_old_one(tamper: Any) -> None:
    store = RecordingStore()
    app, cookie = await logged_in(store, resave=False, cookie=MINUTE)
    old_sid = sid_of(cookie + ";")
    reply = await call(app, "/", tamper(cookie))
    assert reply.json["id"] != old_sid
    assert reply.json["data"] == {}
    assert ("get", old_sid) not in store.calls
    assert (await store.get(old_sid or ""))["views"] == 1  # type: ignore[index]


async def test_valid_cookie_for_an_unknown_sid_gets_a_new_id() -> None:
    store = RecordingStore()
    app = make_app(store, resave=False, save_uninitialized=False, cookie=MINUTE)
    forged = "connect.sid=" + sign_cookie("attacker-chosen-id", "keyboard cat")
    reply = await call(app, "/inc", forged)
    assert reply.json["id"] != "attacker-chosen-id"
    assert await store.get("attacker-chosen-id") is None


async def test_secret_rotation_accepts_old_signs_with_new() -> None:
    store = RecordingStore()
    old_app, cookie = await logged_in(store, secret="old secret", resave=False, cookie=MINUTE)
    sid = unsign_cookie(decode_uri_component(cookie.split("=", 1)[1]), "old secret")
    new_app = make_app(store, secret=["new secret", "old secret"], resave=False, cookie=MINUTE)
    reply = await call(new_app, "/inc", cookie)
    assert reply.json == {"id": sid, "views": 2}
    assert reply.cookie == "connect.sid=" + sign_cookie(sid or "", "new secret").replace(":", "%3A").replace(
        "/", "%2F"
    ).replace("+", "%2B")
    assert (await call(old_app, "/", reply.cookie)).json["id"] != sid  # the old-only app cannot read it


async def test_save_inside_the_handler_is_not_repeated_at_the_end() -> None:
    store = RecordingStore()
    app, cookie = await logged_in(store, resave=False, cookie=MINUTE)
    await call(app, "/save", cookie)
    assert store.methods() == ["get", "set", "touch"]


async def test_regenerate_destroys_the_old_session_and_sends_a_new_id() -> None:
    store = RecordingStore()
    app, cookie = await logged_in(store, resave=False, cookie=MINUTE)
    reply = await call(app, "/regenerate", cookie)
    old, new = reply.json["old"], reply.json["id"]
    assert old != new
    assert sid_of(reply.set_cookies[0]) == new
    assert ("destroy", old) in store.calls
    assert await store.get(old) is None
    assert (await store.get(new))["user"] == "alice"  # type: ignore[index]


async def test_destroy_deletes_and_sends_no_cookie() -> None:
    store = RecordingStore()
    app, cookie = await logged_in(store, resave=False, cookie=MINUTE)
    reply = await call(app, "/destroy", cookie)
    assert reply.set_cookies == []
    assert store.methods() == ["get", "destroy"]
    assert await store.length() == 0


@pytest.mark.parametrize(("unset", "destroyed"), [("destroy", True), ("keep", False)])
async def test_unset_removing_the_session(unset: str, destroyed: bool) -> None:
    store = RecordingStore()
    app, cookie = await logged_in(store, resave=False, unset=unset, cookie=MINUTE)
    reply = await call(app, "/unset", cookie)
    assert reply.set_cookies == []
    assert ("destroy" in store.methods()) is destroyed
    assert (await store.length() == 0) is destroyed


async def test_requests_outside_the_cookie_path_get_no_session() -> None:
    store = RecordingStore()
    app = make_app(store, cookie={"path": "/app"})
    outside = await call(app, "/")
    assert outside.json == {"session": None}
    assert outside.set_cookies == []
    inside = await call(app, "/app/")
    assert inside.set_cookies[0].endswith("; Path=/app; HttpOnly")
    assert store.methods() == ["set"]


async def test_secure_cookie_is_not_sent_over_http() -> None:
    store = RecordingStore()
    app = make_app(store, cookie={"secure": True})
    assert (await call(app, "/inc")).set_cookies == []
    assert "; Secure" in (await call(app, "/inc", https=True)).set_cookies[0]


async def test_secure_auto_and_trusted_proxy() -> None:
    store = RecordingStore()
    app = make_app(store, cookie={"secure": "auto", "same_site": "auto"}, trust_proxy=True)
    plain = await call(app, "/inc")
    assert "Secure" not in plain.set_cookies[0]
    assert plain.set_cookies[0].endswith("SameSite=Lax")
    proxied = await call(app, "/inc", headers={"x-forwarded-proto": "https"})
    assert proxied.set_cookies[0].endswith("; HttpOnly; Secure; SameSite=None")
    untrusted = make_app(store, cookie={"secure": "auto"})
    assert (
        "Secure" not in (await call(untrusted, "/inc", headers={"x-forwarded-proto": "https"})).set_cookies[0]
    )


async def test_set_cookie_header_has_express_sessions_form() -> None:
    app = make_app(MemoryStore(), cookie={"max_age": 3600, "domain": "example.com", "same_site": "strict"})
    header = (await call(app, "/inc")).set_cookies[0]
    assert re.fullmatch(
        r"connect\.sid=s%3A[A-Za-z0-9_-]{32}\.[A-Za-z0-9%]+; Domain=example\.com; Path=/; "
        r"Expires=\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT; HttpOnly; SameSite=Strict",
        header,
    )


async def test_first_cookie_occurrence_wins() -> None:
    store = RecordingStore()
    app, cookie = await logged_in(store, resave=False, cookie=MINUTE)
    other = (await call(app, "/inc")).cookie
    assert other is not None
    reply = await call(app, "/", [f"{cookie}; {other}"])
    assert reply.json["id"] == sid_of(cookie + ";")
    reply = await call(app, "/", [other, cookie])
    assert reply.json["id"] == sid_of(other + ";")


async def test_reload_replaces_data_with_the_stored_session() -> None:
    store = RecordingStore()
    app, cookie = await logged_in(store, resave=False, cookie=MINUTE)
    reply = await call(app, "/reload", cookie)
    assert reply.json == {"data": {"views": 1}}


async def test_corrupt_stored_session_starts_a_new_session() -> None:
    store = RecordingStore()
    app, cookie = await logged_in(store, resave=False, cookie=MINUTE)
    sid = sid_of(cookie + ";") or ""
    store._sessions[sid] = ('{"views": 1}', None)  # no cookie object: express would answer 500
    reply = await call(app, "/", cookie)
    assert reply.status == 200
    assert reply.json["id"] != sid
    store._sessions[sid] = ("{not json", None)
    assert (await call(app, "/", cookie)).json["id"] != sid


async def test_cookie_options_may_depend_on_the_request() -> None:
    def per_request(scope: Any) -> dict[str, Any]:
        return {"max_age": 10 if scope["path"] == "/inc" else None}

    app = make_app(MemoryStore(), cookie=per_request)
    assert "Expires=" in (await call(app, "/inc")).set_cookies[0]
    assert "Expires=" not in (await call(app, "/")).set_cookies[0]


@pytest.mark.parametrize("bad", ["", "a\r\nSet-Cookie: x=y", "x" * 1025, 42, None])
async def test_unsafe_genid_results_are_refused(bad: Any) -> None:
    app = make_app(MemoryStore(), genid=lambda request: bad)
    reply = await call(app, "/inc")
    assert reply.status == 500
    assert reply.set_cookies == []


async def test_custom_genid_and_name() -> None:
    store = RecordingStore()
    app = make_app(store, genid=lambda request: "fixed-id", name="app.sid")
    reply = await call(app, "/inc")
    assert reply.cookie == "app.sid=" + sign_cookie("fixed-id", "keyboard cat").replace(":", "%3A").replace(
        "/", "%2F"
    ).replace("+", "%2B")
