"""``max_session_bytes``: a session whose stored form is too large is refused before anything
is written, by ``session.save()`` and at the end of the request alike.
"""

from __future__ import annotations

from typing import Any

import pytest

from connectstore import (
    JSONSerializer,
    MemoryStore,
    RequestInfo,
    SessionEngine,
    SessionTooLargeError,
    StoreError,
)
from tests.engine.apps import call, make_app
from tests.engine.recording import RecordingStore


def stored_size(data: dict[str, Any], engine: SessionEngine) -> int:
    """The size the engine measures: the session's JSON as a store receives it, UTF-8."""
    cookie = engine.new_cookie(RequestInfo(cookie_header=None)).to_json()
    return len(JSONSerializer().dumps({"cookie": cookie, **data}).encode("utf-8"))


async def test_a_session_over_the_limit_is_refused_at_the_end_of_the_request() -> None:
    store = RecordingStore()
    probe = SessionEngine(store, secret="s")
    limit = stored_size({"blob": "€" * 100}, probe)  # 3 bytes a character in UTF-8
    engine = SessionEngine(store, secret="s", max_session_bytes=limit)
    fits = await engine.open(RequestInfo(cookie_header=None))
    assert fits.session is not None
    fits.session["blob"] = "€" * 100
    assert len(await fits.commit()) == 1
    too_large = await engine.open(RequestInfo(cookie_header=None))
    assert too_large.session is not None
    too_large.session["blob"] = "€" * 100 + "x"  # one byte over
    store.calls.clear()
    with pytest.raises(SessionTooLargeError) as info:
        await too_large.commit()
    assert (info.value.size, info.value.limit) == (limit + 1, limit)
    assert isinstance(info.value, StoreError)
    assert str(info.value) == f"the session is {limit + 1} bytes when stored, over max_session_bytes={limit}"
    assert store.calls == []  # nothing was written
    assert await store.length() == 1


async def test_save_refuses_too_and_the_store_keeps_the_previous_session() -> None:
    store = MemoryStore()
    engine = SessionEngine(store, secret="s", max_session_bytes=1000)
    request = await engine.open(RequestInfo(cookie_header=None))
    session = request.session
    assert session is not None
    session["blob"] = "small"
    await session.save()
    session["blob"] = "x" * 1000
    with pytest.raises(SessionTooLargeError):
        await session.save()
    assert (await store.get(session.id) or {})["blob"] == "small"


async def test_no_limit_by_default() -> None:
    store = MemoryStore()
    reply = await call(make_app(store), "/grow?size=2000000")
    assert reply.status == 200
    assert await store.length() == 1


@pytest.mark.parametrize("path", ["/grow?size=5000", "/grow?size=5000&save=1"])
async def test_the_asgi_middleware_answers_as_for_any_store_error(path: str) -> None:
    store = MemoryStore()
    app = make_app(store, max_session_bytes=4096)
    small = await call(app, "/grow?size=10")
    assert small.status == 200
    reply = await call(app, path, small.cookie)
    assert reply.status == 500
    assert reply.set_cookies == []
    if "save" not in path:  # a failed end of request is answered by the middleware itself
        assert reply.json == {"error": "SessionTooLargeError"}
    assert (await store.get(small.json["id"]) or {})["blob"] == "x" * 10


@pytest.mark.parametrize(
    ("value", "error"),
    [(0, ValueError), (-1, ValueError), (1.5, TypeError), ("10", TypeError), (True, TypeError)],
)
def test_the_limit_is_checked_at_construction(value: Any, error: type[Exception]) -> None:
    with pytest.raises(error, match="max_session_bytes"):
        SessionEngine(MemoryStore(), secret="s", max_session_bytes=value)
