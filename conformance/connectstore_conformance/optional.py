"""Checks of ``touch`` (recommended) and the optional ``all``, ``length``, ``clear``,
``ids`` and ``items``.
"""

from __future__ import annotations

import pytest

from connectstore import Store
from connectstore_conformance.base import ConformanceBase, requires
from connectstore_conformance.sessions import make_session, without_cookie


async def nothing() -> None:
    """Nothing to do while a short-lived session is alive."""


class TouchChecks(ConformanceBase):
    """touch: extends life, never rewrites application data, never creates."""

    @requires("touch")
    async def test_touch_extends_life_past_original_expiry(self, store: Store) -> None:
        """touch() with a later cookie expiry keeps the session alive past its original expiry."""

        async def during() -> None:
            await store.touch("sid", make_session(expires_in=3600, views=1))

        _, expired_by = await self.while_short_lived(store, "sid", during, views=1)
        await self.wait_until(expired_by)
        got = await store.get("sid")
        assert got is not None, "the touched session expired at its original expiry"
        assert without_cookie(got) == {"views": 1}

    @requires("touch")
    async def test_touch_never_changes_application_data(self, store: Store) -> None:
        """touch() with different application data changes only the expiry, never the data."""
        await store.set("sid", make_session(views=1, user={"id": 7}))
        await store.touch("sid", make_session(views=999, user=None, injected=True))
        assert without_cookie(await store.get("sid")) == {"views": 1, "user": {"id": 7}}

    @requires("touch")
    async def test_touch_missing_sid_does_not_create(self, store: Store) -> None:
        """touch() of a sid that does not exist is a no-op: it never creates a session."""
        await store.touch("ghost", make_session(views=1))
        assert await store.get("ghost") is None

    @requires("touch")
    async def test_touch_expired_session_does_not_resurrect(self, store: Store) -> None:
        """touch() after a session expired does not bring it back."""
        _, expired_by = await self.while_short_lived(store, "sid", nothing, views=1)
        await self.wait_until(expired_by)
        await store.touch("sid", make_session(expires_in=3600, views=1))
        assert await store.get("sid") is None

    @requires("touch")
    async def test_touch_after_destroy_does_not_resurrect(self, store: Store) -> None:
        """touch() of a destroyed session (a late request after logout) does not bring it back."""
        await store.set("sid", make_session(views=1))
        await store.destroy("sid")
        await store.touch("sid", make_session(views=1))
        assert await store.get("sid") is None


class ListingChecks(ConformanceBase):
    """all / length / ids / items / clear: live sessions only, and agreeing with each other."""

    @requires("all")
    async def test_all_returns_live_sessions_keyed_by_sid(self, store: Store) -> None:
        """all() returns every live session as a dict keyed by sid."""
        sessions = {f"sid-{i}": make_session(n=i) for i in range(5)}
        for sid, session in sessions.items():
            await store.set(sid, session)
        assert await store.all() == sessions

    @requires("all")
    async def test_all_of_empty_store_is_empty_dict(self, store: Store) -> None:
        """all() of an empty store returns {}."""
        assert await store.all() == {}

    @requires("length")
    async def test_length_counts_sessions(self, store: Store) -> None:
        """length() is 0 for an empty store and counts each set sid once (overwrites too)."""
        assert await store.length() == 0
        for i in range(7):
            await store.set(f"sid-{i}", make_session(n=i))
        await store.set("sid-0", make_session(n=100))
        assert await store.length() == 7
        await store.destroy("sid-3")
        assert await store.length() == 6

    @requires("ids")
    async def test_ids_streams_each_live_sid_once(self, store: Store) -> None:
        """ids() yields every live sid exactly once."""
        sids = {f"sid-{i}" for i in range(250)}
        for sid in sids:
            await store.set(sid, make_session())
        seen = [sid async for sid in store.ids()]
        assert sorted(seen) == sorted(sids)

    @requires("items")
    async def test_items_streams_live_sessions(self, store: Store) -> None:
        """items() yields (sid, session) for every live session exactly once."""
        sessions = {f"sid-{i}": make_session(n=i) for i in range(120)}
        for sid, session in sessions.items():
            await store.set(sid, session)
        seen = [pair async for pair in store.items()]
        assert len(seen) == len(sessions)
        assert dict(seen) == sessions

    async def test_listings_exclude_expired_sessions(self, store: Store) -> None:
        """Expired sessions never appear in all(), length(), ids() or items()."""
        listings = [name for name in ("all", "length", "ids", "items") if name in store.capabilities]
        if not listings:
            pytest.skip("not supported: the store declares none of all, length, ids, items")

        async def during() -> None:
            await store.set("live", make_session(a=1))

        _, expired_by = await self.while_short_lived(store, "short", during)
        await self.wait_until(expired_by)
        # length first: a store that purges expired entries while listing must not hide a
        # length() that counts them.
        if "length" in listings:
            assert await store.length() == 1
        if "all" in listings:
            assert list(await store.all()) == ["live"]
        if "ids" in listings:
            assert [sid async for sid in store.ids()] == ["live"]
        if "items" in listings:
            assert [sid async for sid, _ in store.items()] == ["live"]

    async def test_listings_agree_with_each_other(self, store: Store) -> None:
        """all(), length(), ids() and items() report the same set of sessions."""
        listings = [name for name in ("all", "length", "ids", "items") if name in store.capabilities]
        if len(listings) < 2:
            pytest.skip("not supported: the store declares fewer than two of all, length, ids, items")
        for i in range(40):
            await store.set(f"s{i}", make_session(n=i))
        for i in range(0, 40, 3):
            await store.destroy(f"s{i}")
        expected = {f"s{i}" for i in range(40) if i % 3}
        if "all" in listings:
            assert set(await store.all()) == expected
        if "length" in listings:
            assert await store.length() == len(expected)
        if "ids" in listings:
            assert {sid async for sid in store.ids()} == expected
        if "items" in listings:
            assert {sid async for sid, _ in store.items()} == expected

    @requires("clear")
    async def test_clear_removes_every_session(self, store: Store) -> None:
        """clear() removes every session of the store; the store stays usable."""
        for i in range(30):
            await store.set(f"sid-{i}", make_session(n=i))
        await store.clear()
        for i in range(30):
            assert await store.get(f"sid-{i}") is None
        if "length" in store.capabilities:
            assert await store.length() == 0
        await store.set("after", make_session())
        assert await store.get("after") is not None

    @requires("clear")
    async def test_clear_of_empty_store_is_fine(self, store: Store) -> None:
        """clear() of an empty store succeeds."""
        await store.clear()
        await store.clear()

    @requires("clear")
    async def test_clear_leaves_other_namespace_alone(self, store: Store, second_namespace: Store) -> None:
        """clear() of one store leaves the sessions of another namespace on the same backend."""
        await store.set("shared-sid", make_session(owner="store"))
        await second_namespace.set("shared-sid", make_session(owner="other"))
        await second_namespace.set("only-other", make_session(owner="other"))
        await store.clear()
        assert await store.get("shared-sid") is None
        assert without_cookie(await second_namespace.get("shared-sid")) == {"owner": "other"}
        assert without_cookie(await second_namespace.get("only-other")) == {"owner": "other"}

    async def test_namespaces_do_not_see_each_other(self, store: Store, second_namespace: Store) -> None:
        """Two namespaces on one backend keep separate sessions under the same sid."""
        await store.set("sid", make_session(owner="store"))
        assert await second_namespace.get("sid") is None
        await second_namespace.set("sid", make_session(owner="other"))
        await second_namespace.destroy("sid")
        assert without_cookie(await store.get("sid")) == {"owner": "store"}
        if "length" in store.capabilities:
            assert await store.length() == 1
            assert await second_namespace.length() == 0
