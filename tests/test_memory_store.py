"""MemoryStore: express-session's MemoryStore semantics plus isolation.

The full contract is checked by the conformance suite (tests/test_conformance_*.py);
these tests pin what is particular to this store: the fake clock, ``ttl``, express
behaviour on read.
"""

from __future__ import annotations

from typing import Any

import pytest

from connectstore import Cookie, MemoryStore, SerializationError, SessionDecodeError
from connectstore.cookie import format_expires

T0 = 1_893_553_445_678


class Clock:
    """A settable clock in epoch milliseconds."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> int:
        return self.now


def session(expires: int | None, **data: Any) -> dict[str, Any]:
    return {
        "cookie": {"originalMaxAge": None, "expires": None if expires is None else format_expires(expires)},
        **data,
    }


async def test_expired_sessions_vanish_on_read_and_from_listings() -> None:
    clock = Clock()
    store = MemoryStore(clock=clock)
    await store.set("a", session(T0 + 1000, n=1))
    await store.set("b", session(None, n=2))
    assert await store.length() == 2
    clock.now = T0 + 999
    assert await store.get("a") == session(T0 + 1000, n=1)
    clock.now = T0 + 1000
    assert await store.get("a") is None
    assert await store.all() == {"b": session(None, n=2)}
    assert await store.length() == 1


async def test_ttl_bounds_sessions_without_expiry() -> None:
    clock = Clock()
    store = MemoryStore(ttl=2, clock=clock)
    await store.set("a", session(None))
    clock.now = T0 + 1999
    assert await store.get("a") is not None
    clock.now = T0 + 2000
    assert await store.get("a") is None


async def test_touch_replaces_only_the_cookie() -> None:
    clock = Clock()
    store = MemoryStore(clock=clock)
    await store.set("a", session(T0 + 1000, views=1))
    await store.touch("a", session(T0 + 5000, views=999))
    clock.now = T0 + 4000
    assert await store.get("a") == session(T0 + 5000, views=1)
    await store.touch("missing", session(T0 + 5000))
    assert await store.get("missing") is None


async def test_set_with_past_expiry_deletes() -> None:
    clock = Clock()
    store = MemoryStore(clock=clock)
    await store.set("a", session(T0 + 10))
    await store.set("a", session(T0 - 10))
    assert await store.get("a") is None
    assert await store.length() == 0


async def test_isolation_from_caller_mutation() -> None:
    store = MemoryStore()
    data = session(None, cart=[1])
    await store.set("a", data)
    data["cart"].append(2)
    got = await store.get("a")
    assert got is not None
    assert got["cart"] == [1]
    got["cart"].append(3)
    assert (await store.get("a") or {})["cart"] == [1]


async def test_bad_values_are_refused_before_writing() -> None:
    store = MemoryStore()
    await store.set("a", session(None, ok=1))
    with pytest.raises(SerializationError):
        await store.set("a", session(None, bad={1, 2}))
    assert await store.get("a") == session(None, ok=1)


async def test_cookie_objects_are_accepted() -> None:
    store = MemoryStore()
    await store.set("a", {"cookie": Cookie.create(max_age_ms=60000), "x": 1})
    got = await store.get("a")
    assert got is not None
    assert got["cookie"]["originalMaxAge"] == 60000


async def test_the_cookie_expiry_wins_over_ttl() -> None:
    """The rule of every store: a session whose own ``cookie.expires`` is past is expired,
    whatever else (here a day of ``ttl``) would keep it.
    """
    clock = Clock()
    store = MemoryStore(ttl=86400, clock=clock)
    await store.set("short", session(T0 + 1000, n=1))
    await store.set("open", session(None, n=2))
    clock.now = T0 + 1000
    assert await store.get("short") is None
    assert await store.length() == 1
    assert list(await store.all()) == ["open"]
    assert [sid async for sid in store.ids()] == ["open"]
    await store.touch("open", session(T0 + 500, n=2))  # touching with a past expiry expires it
    assert await store.get("open") is None
    assert await store.length() == 0


@pytest.mark.parametrize("sid", [1, b"a", None])
async def test_a_sid_that_is_not_a_str_is_a_type_error_and_writes_nothing(sid: object) -> None:
    store = MemoryStore()
    for call in (
        store.get(sid),  # type: ignore[arg-type]
        store.set(sid, session(None, n=1)),  # type: ignore[arg-type]
        store.touch(sid, session(None, n=1)),  # type: ignore[arg-type]
        store.destroy(sid),  # type: ignore[arg-type]
    ):
        with pytest.raises(TypeError, match=f"^a session id is a str, not {type(sid).__name__}$"):
            await call
    assert await store.length() == 0


async def test_listings_skip_a_corrupt_record_with_one_warning_naming_the_sid(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = MemoryStore()
    for sid in ("a", "b", "c"):
        await store.set(sid, session(None, secret=f"content-{sid}"))
    _, deadline = store._sessions["b"]
    store._sessions["b"] = ("{not json", deadline)
    with caplog.at_level("WARNING", logger="connectstore"):
        assert sorted(await store.all()) == ["a", "c"]
    warnings = [record for record in caplog.records if record.name == "connectstore"]
    assert len(warnings) == 1
    assert "'b'" in warnings[0].getMessage()
    assert await store.length() == 2
    assert sorted([sid async for sid in store.ids()]) == ["a", "c"]
    assert "not json" not in caplog.text
    with pytest.raises(SessionDecodeError):
        await store.get("b")
    await store.destroy("b")
    assert await store.get("b") is None


async def test_close_keeps_the_sessions_and_the_store_usable() -> None:
    store = MemoryStore()
    await store.set("a", session(None, n=1))
    await store.close()
    await store.close()
    assert await store.get("a") == session(None, n=1)
    await store.set("b", session(None, n=2))
    assert await store.length() == 2
