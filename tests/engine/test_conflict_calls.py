"""The conditional policies make express-session's calls in their conditional form, no more,
and ``save()``, ``reload()``, ``regenerate()`` and ``destroy()`` keep what a later write
compares against consistent. Real MemoryStore (:class:`RecordingStore` logs the calls).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from connectstore import MemoryStore, RequestInfo
from tests.engine.apps import call, make_app
from tests.engine.conflict_helpers import data_of, engine_for, open_request, stored_session
from tests.engine.recording import RecordingStore

ROUTES = ["/", "/inc", "/save", "/regenerate", "/destroy", "/unset", "/reload"]
OPTIONS = [
    {},
    {"resave": False},
    {"resave": False, "save_uninitialized": False, "cookie": {"max_age": 60}},
    {"rolling": True, "unset": "destroy", "cookie": {"max_age": 60}},
]


async def calls_of(on_conflict: str, route: str, options: dict[str, Any]) -> tuple[RecordingStore, list[str]]:
    """The store calls of ``route`` requested with the cookie of a stored session (views=1),
    and the Set-Cookie headers it got.
    """
    store = RecordingStore()
    app = make_app(store, on_conflict=on_conflict, **options)
    cookie = (await call(app, "/inc")).cookie
    assert cookie is not None
    store.calls.clear()
    reply = await call(app, route, cookie)
    assert reply.status == 200
    return store, [header.split(";")[0].split("=")[0] for header in reply.set_cookies]


@pytest.mark.parametrize("options", OPTIONS, ids=["defaults", "no-resave", "minimal", "rolling"])
@pytest.mark.parametrize("route", ROUTES)
async def test_merge_makes_the_same_calls_as_overwrite_in_conditional_form(
    route: str, options: dict[str, Any]
) -> None:
    plain, plain_cookies = await calls_of("overwrite", route, options)
    conditional, conditional_cookies = await calls_of("merge", route, options)
    assert conditional.plain_methods() == plain.methods()  # as many calls: no extra round trip
    assert not {"get", "set"} & set(conditional.methods())  # every read and write is conditional
    assert conditional_cookies == plain_cookies


async def test_a_new_session_is_created_and_a_loaded_one_set_over_its_version() -> None:
    store = RecordingStore()
    engine = engine_for(store)
    sid = await stored_session(engine, {"n": 1})
    assert store.methods() == ["create"]
    store.calls.clear()
    request = await open_request(engine, sid)
    assert request.session is not None
    request.session["n"] = 2
    await request.commit()
    assert store.methods() == ["get_versioned", "set_if"]
    assert await data_of(store, sid) == {"n": 2}


async def test_writes_after_a_save_are_set_over_the_requests_own_write() -> None:
    store = RecordingStore()
    engine = engine_for(store)
    sid = await stored_session(engine, {"n": 1})
    store.calls.clear()
    request = await open_request(engine, sid)
    session = request.session
    assert session is not None
    session["n"] = 2
    await session.save()
    session["m"] = 3
    await request.commit()
    assert store.methods() == ["get_versioned", "set_if", "set_if"]  # no conflict with itself
    assert await data_of(store, sid) == {"n": 2, "m": 3}


async def test_a_save_that_merged_leaves_the_merged_data_in_the_session() -> None:
    store = RecordingStore()
    engine = engine_for(store)
    sid = await stored_session(engine, {"n": 1})
    handler, other = await open_request(engine, sid), await open_request(engine, sid)
    session, other_session = handler.session, other.session
    assert session is not None
    assert other_session is not None
    other_session["other"] = "was here"
    await other.commit()
    session["mine"] = 1
    await session.save()
    assert dict(session) == {"n": 1, "other": "was here", "mine": 1}  # the handler sees the merge
    session["after"] = 2
    store.calls.clear()
    await handler.commit()
    assert store.methods() == ["set_if"]  # over the merged write: no second conflict
    assert await data_of(store, sid) == {"n": 1, "other": "was here", "mine": 1, "after": 2}


async def test_reload_takes_the_new_version() -> None:
    store = RecordingStore()
    engine = engine_for(store)
    sid = await stored_session(engine, {"n": 1})
    handler, other = await open_request(engine, sid), await open_request(engine, sid)
    session, other_session = handler.session, other.session
    assert session is not None
    assert other_session is not None
    other_session["n"] = 2
    await other.commit()
    await session.reload()
    assert dict(session) == {"n": 2}
    session["n"] += 1
    store.calls.clear()
    await handler.commit()
    assert store.methods() == ["set_if"]  # written over the version reloaded: no conflict
    assert await data_of(store, sid) == {"n": 3}


async def test_regenerate_destroys_the_old_id_and_creates_the_new_one() -> None:
    store = RecordingStore()
    engine = engine_for(store)
    sid = await stored_session(engine, {"visits": 1})
    store.calls.clear()
    request = await open_request(engine, sid)
    session = request.session
    assert session is not None
    await session.regenerate()
    session["user"] = "alice"
    await session.save()
    session["role"] = "admin"
    await request.commit()
    new = session.id
    assert store.calls == [
        ("get_versioned", sid),
        ("destroy", sid),
        ("create", new),
        ("set_if", new),
    ]
    assert await store.get(sid) is None
    assert await data_of(store, new) == {"user": "alice", "role": "admin"}


async def test_regenerate_to_the_same_id_creates_it_anew() -> None:
    store = RecordingStore()
    engine = engine_for(store, genid=lambda request: "fixed-id")
    await stored_session(engine, {"visits": 1})
    request = await open_request(engine, "fixed-id")
    session = request.session
    assert session is not None
    await session.regenerate()  # genid gives the same id: destroyed, then created again
    session["user"] = "alice"
    store.calls.clear()
    await request.commit()
    assert store.methods() == ["create"]
    assert await data_of(store, "fixed-id") == {"user": "alice"}


async def test_a_destroyed_session_is_not_written_back_by_a_later_save() -> None:
    store = RecordingStore()
    engine = engine_for(store)
    sid = await stored_session(engine, {"user": "alice"})
    store.calls.clear()
    request = await open_request(engine, sid)
    session = request.session
    assert session is not None
    await session.destroy()
    session["late"] = True
    await session.save()  # express-session would store it again; a logout stays a logout
    assert await request.commit() == []
    assert store.methods() == ["get_versioned", "destroy"]
    assert await store.get(sid) is None


@pytest.mark.parametrize("save_in_handler", [False, True], ids=["at-commit", "session.save"])
async def test_a_session_another_request_destroyed_ends_destroyed(
    save_in_handler: bool, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="connectstore")
    store = MemoryStore()
    engine = engine_for(store, rolling=True)  # a cookie on every response, but for this one
    sid = await stored_session(engine, {"user": "alice"})
    control = await open_request(engine, sid)
    assert len(await control.commit()) == 1  # without the logout, the cookie is sent
    slow, logout = await open_request(engine, sid), await open_request(engine, sid)
    session, logout_session = slow.session, logout.session
    assert session is not None
    assert logout_session is not None
    await logout_session.destroy()
    await logout.commit()
    session["slow"] = "was here"
    if save_in_handler:
        await session.save()
        assert slow.session is None  # the request has no session any more
        await session.save()  # and a second save still writes nothing
    assert await slow.commit() == []  # no Set-Cookie
    assert await store.get(sid) is None
    logged = [r.getMessage() for r in caplog.records if "destroyed by another request" in r.getMessage()]
    assert len(logged) == 1
    assert sid not in logged[0]  # no session id (a credential) in the log


async def test_a_session_whose_expiry_passed_is_created_again_by_a_later_save() -> None:
    store = RecordingStore()
    engine = engine_for(store, cookie={"max_age": 60})
    request = await engine.open(RequestInfo(cookie_header=None))
    session = request.session
    assert session is not None
    session.cookie.expires = datetime(2000, 1, 1, tzinfo=timezone.utc)  # already past
    await session.save()  # the store deletes it at once
    assert store.methods() == ["create"]
    assert await store.get(session.id) is None
    store.calls.clear()
    session.cookie.expires = datetime.now(timezone.utc) + timedelta(hours=1)
    session["n"] = 1
    await session.save()
    assert store.methods() == ["create"]  # the record is gone: created again, not set_if
    assert await data_of(store, session.id) == {"n": 1}
