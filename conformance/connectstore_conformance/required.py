"""Checks of the required methods: ``get``, ``set`` and ``destroy``."""

from __future__ import annotations

import copy
from datetime import datetime

import pytest

from connectstore import SerializationError, SessionData, Store, now_ms
from connectstore.cookie import format_expires
from connectstore_conformance.base import ConformanceBase, same_json
from connectstore_conformance.sessions import EVERY_JSON_TYPE, make_session, without_cookie
from connectstore_conformance.verdicts import SESSION, call, shown, violation


class RequiredMethodChecks(ConformanceBase):
    """get / set / destroy, and the isolation of what callers hold."""

    async def test_get_missing_sid_returns_none(self, store: Store) -> None:
        """get() of a sid that was never set returns None, not an error."""
        await self.expect_data(store, "never-set", None)

    async def test_set_then_get_returns_the_session(self, store: Store) -> None:
        """set() then get() returns an equal session, cookie included."""
        session = make_session(views=1)
        await store.set("sid", copy.deepcopy(session))
        self.expect_equal(call("get", "sid"), await store.get("sid"), session)

    async def test_set_round_trips_every_json_type(self, store: Store) -> None:
        """Every JSON type (null, booleans, ints up to 2**53-1, floats, strings, arrays,
        objects, empty containers, unicode and empty keys) comes back unchanged.
        """
        session = make_session(**copy.deepcopy(EVERY_JSON_TYPE))
        await store.set("types", session)
        got = await store.get("types")
        data = without_cookie(got) if isinstance(got, dict) else got
        self.expect(
            same_json(data, EVERY_JSON_TYPE),
            call("get", "types"),
            f"the data stored, value for value and type for type: {shown(EVERY_JSON_TYPE)}",
            data,
        )

    async def test_set_round_trips_empty_session(self, store: Store) -> None:
        """A session holding only its cookie is stored and comes back as it was."""
        session = make_session()
        await store.set("empty", session)
        self.expect_equal(call("get", "empty"), await store.get("empty"), session)

    async def test_set_round_trips_deep_nesting(self, store: Store) -> None:
        """Data nested 100 levels deep (objects and arrays) comes back unchanged."""
        deep: object = "bottom"
        for level in range(100):
            deep = {"level": level, "next": deep} if level % 2 else [deep]
        session = make_session(deep=deep)
        await store.set("deep", session)
        self.expect_equal(call("get", "deep"), await store.get("deep"), session)

    async def test_set_round_trips_large_session(self, store: Store) -> None:
        """A session of more than 1 MiB is stored and read back whole."""
        blob = "".join(chr(0x41 + i % 26) for i in range(1024 * 1024))
        session = make_session(blob=blob, items=list(range(20000)))
        await store.set("large", session)
        self.expect_equal(call("get", "large"), await store.get("large"), session)

    async def test_set_overwrites_previous_session(self, store: Store) -> None:
        """set() on an existing sid replaces its session entirely (no merge)."""
        await store.set("sid", make_session(a=1, keep="old"))
        replacement = make_session(b=2)
        await store.set("sid", replacement)
        self.expect_equal(
            call("get", "sid"), await store.get("sid"), replacement, "set() must replace, not merge"
        )

    async def test_set_with_past_expiry_deletes(self, store: Store) -> None:
        """set() with a cookie expiry already past deletes the session instead of storing it."""
        await store.set("sid", make_session(a=1))
        past = make_session(a=2)
        past["cookie"]["expires"] = format_expires(now_ms() - 5000)
        await store.set("sid", past)
        await self.expect_data(store, "sid", None, "set() with an expiry 5 s past must delete the session")

    async def test_set_with_expiry_one_millisecond_past_is_not_stored(self, store: Store) -> None:
        """Boundary: an expiry 1 ms in the past is already expired; the session is not stored."""
        session = make_session(a=1)
        session["cookie"]["expires"] = format_expires(now_ms() - 1)
        await store.set("sid", session)
        await self.expect_data(store, "sid", None, "set() with an expiry 1 ms past must not store it")

    async def test_set_with_null_expiry_keeps_session(self, store: Store) -> None:
        """A cookie with expires: null gets the store's default lifetime: the session is there."""
        session = make_session(expires_in=None, user="alice")
        await store.set("browser-session", session)
        self.expect_equal(call("get", "browser-session"), await store.get("browser-session"), session)

    async def test_set_with_far_future_expiry_keeps_session(self, store: Store) -> None:
        """Boundary: an expiry years ahead (longer than any default TTL) is stored."""
        session = make_session(expires_in=10 * 365 * 86400.0, a=1)
        await store.set("far", session)
        self.expect_equal(call("get", "far"), await store.get("far"), session)

    async def test_set_refuses_values_json_cannot_carry(self, store: Store) -> None:
        """set() raises SerializationError for a value JSON cannot carry (a set, NaN, an int
        beyond 2**53-1, a datetime, bytes) and leaves the stored session as it was.
        """
        good = make_session(ok=True)
        await store.set("sid", good)
        for bad in ({1, 2}, float("nan"), 2**53 + 1, b"bytes", datetime(2030, 1, 1)):
            with pytest.raises(SerializationError):
                await store.set("sid", make_session(bad=bad))
        self.expect_equal(
            call("get", "sid"),
            await store.get("sid"),
            good,
            "a refused set() must leave the session as it was",
        )

    async def test_get_returns_an_independent_copy(self, store: Store) -> None:
        """Mutating a dict returned by get() does not change what is stored."""
        await store.set("sid", make_session(cart=[1], profile={"name": "a"}))
        await self.expect_data(store, "sid", {"cart": [1], "profile": {"name": "a"}})
        got = await store.get("sid")
        if not isinstance(got, dict):
            raise violation(self.clause, call("get", "sid"), "a session (dict)", got)
        got["cart"].append(2)
        got["profile"]["name"] = "changed"
        got["new"] = True
        await self.expect_data(
            store,
            "sid",
            {"cart": [1], "profile": {"name": "a"}},
            "the dict an earlier get() returned was mutated; the stored session must not change",
        )

    async def test_set_stores_a_snapshot_of_the_caller_dict(self, store: Store) -> None:
        """Mutating the dict passed to set() afterwards does not change what is stored."""
        session = make_session(cart=[1], profile={"name": "a"})
        await store.set("sid", session)
        session["cart"].append(2)
        session["profile"]["name"] = "changed"
        session["cookie"]["path"] = "/changed"
        got = await store.get("sid")
        expected = make_session(cart=[1], profile={"name": "a"})
        expected["cookie"]["expires"] = session["cookie"]["expires"]
        self.expect_equal(
            call("get", "sid"), got, expected, "the dict passed to set() was mutated afterwards"
        )

    async def test_get_returns_expires_as_stored_iso_string(self, store: Store) -> None:
        """get() returns cookie.expires as the ISO-8601 string express-session stored."""
        session = make_session()
        await store.set("sid", session)
        got = await store.get("sid")
        cookie = got.get("cookie") if isinstance(got, dict) else None
        expires = cookie.get("expires") if isinstance(cookie, dict) else cookie
        self.expect_equal(call("get", "sid") + '["cookie"]["expires"]', expires, session["cookie"]["expires"])

    async def test_destroy_removes_session(self, store: Store) -> None:
        """destroy() removes the session: get() returns None afterwards."""
        await store.set("sid", make_session())
        await store.destroy("sid")
        await self.expect_data(store, "sid", None, "after destroy('sid')")

    async def test_destroy_missing_sid_is_not_an_error(self, store: Store) -> None:
        """destroy() of a sid that does not exist succeeds silently (idempotent)."""
        await store.destroy("never-set")
        await store.set("sid", make_session())
        await store.destroy("sid")
        await store.destroy("sid")

    async def test_destroy_touches_only_that_sid(self, store: Store) -> None:
        """destroy() of one sid leaves every other session in place."""
        await store.set("a", make_session(n=1))
        await store.set("b", make_session(n=2))
        await store.set("ab", make_session(n=3))
        await store.destroy("a")
        await self.expect_data(store, "a", None, "after destroy('a')")
        await self.expect_data(store, "b", {"n": 2}, "after destroy('a')")
        await self.expect_data(store, "ab", {"n": 3}, "after destroy('a')")

    async def test_get_after_expiry_returns_none(self, store: Store) -> None:
        """A session whose cookie expiry has passed reads as None (not an error, not stale data)."""

        async def during() -> SessionData | None:
            await store.set("long", make_session(a=2))
            return await store.get("short")

        seen, expired_by = await self.while_short_lived(store, "short", during, a=1)
        self.expect(
            isinstance(seen, dict) and without_cookie(seen) == {"a": 1},
            call("get", "short"),
            "the short-lived session {'a': 1}, still alive",
            seen,
            "read before its expiry",
        )
        await self.wait_until(expired_by)
        await self.expect_data(store, "short", None, "read after its cookie expiry (and expiry_slack) passed")
        await self.expect_data(store, "long", {"a": 2}, "a session with an hour to live")

    async def test_set_again_replaces_the_expiry(self, store: Store) -> None:
        """set() over a live session replaces its expiry with the new one, not only its data
        (an upsert that keeps the old expiry lets a re-saved session vanish at its first expiry).
        """
        later = make_session(expires_in=3600, a=2)

        async def during() -> None:
            await store.set("resaved", later)

        _, expired_by = await self.while_short_lived(store, "resaved", during, a=1)
        await self.wait_until(expired_by)
        await self.expect_data(
            store,
            "resaved",
            {"a": 2},
            f"the session was set() again with an hour to live ({call('set', 'resaved', SESSION)}) "
            "before its first, short expiry, which has now passed",
        )
