"""Checks of ``touch`` (recommended) and the optional ``all``, ``length``, ``clear``,
``ids`` and ``items``.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from connectstore import SessionData, Store
from connectstore_conformance.base import EXPIRY_MARGIN, ConformanceBase, requires
from connectstore_conformance.sessions import make_session
from connectstore_conformance.verdicts import SESSION, Literal, call


async def nothing() -> None:
    """Nothing to do while a short-lived session is alive."""


class TouchChecks(ConformanceBase):
    """touch: extends life, never rewrites application data, never creates."""

    @requires("touch")
    async def test_touch_extends_life_past_original_expiry(self, store: Store) -> None:
        """touch() with a later cookie expiry keeps the session alive past its original expiry
        (while an untouched twin with the same expiry is gone, so get() is seen to honour it).
        """

        async def during() -> float:
            twin = make_session(expires_in=self.short_lifetime(), views=2)
            twin_expired_by = time.monotonic() + self.short_lifetime() + self.expiry_slack * self.time_scale
            await store.set("untouched", twin)
            await store.touch("sid", make_session(expires_in=3600, views=1))
            return twin_expired_by + EXPIRY_MARGIN

        twin_expired_by, expired_by = await self.while_short_lived(store, "sid", during, views=1)
        await self.wait_until(max(expired_by, twin_expired_by))
        await self.expect_get_honours_expiry(store, "untouched")
        await self.expect_data(
            store,
            "sid",
            {"views": 1},
            f"{call('touch', 'sid', SESSION)} gave it an hour more before its original expiry, "
            "which has now passed",
        )

    @requires("touch")
    async def test_touch_never_changes_application_data(self, store: Store) -> None:
        """touch() with different application data changes only the expiry, never the data."""
        await store.set("sid", make_session(views=1, user={"id": 7}))
        await store.touch("sid", make_session(views=999, user=None, injected=True))
        await self.expect_data(
            store,
            "sid",
            {"views": 1, "user": {"id": 7}},
            f"after {call('touch', 'sid', SESSION)} with other application data",
        )

    @requires("touch")
    async def test_touch_missing_sid_does_not_create(self, store: Store) -> None:
        """touch() of a sid that does not exist is a no-op: it never creates a session."""
        await store.touch("ghost", make_session(views=1))
        await self.expect_data(
            store, "ghost", None, f"after {call('touch', 'ghost', SESSION)} of a missing sid"
        )

    @requires("touch")
    async def test_touch_expired_session_does_not_resurrect(self, store: Store) -> None:
        """touch() after a session expired does not bring it back."""
        _, expired_by = await self.while_short_lived(store, "sid", nothing, views=1)
        await self.wait_until(expired_by)
        await self.expect_get_honours_expiry(store, "sid")
        await store.touch("sid", make_session(expires_in=3600, views=1))
        await self.expect_data(
            store, "sid", None, f"after {call('touch', 'sid', SESSION)} of a session that had expired"
        )

    @requires("touch")
    async def test_touch_after_destroy_does_not_resurrect(self, store: Store) -> None:
        """touch() of a destroyed session (a late request after logout) does not bring it back."""
        await store.set("sid", make_session(views=1))
        await store.destroy("sid")
        await store.touch("sid", make_session(views=1))
        await self.expect_data(
            store, "sid", None, f"after destroy('sid') then {call('touch', 'sid', SESSION)}"
        )

    async def expect_get_honours_expiry(self, store: Store, sid: str) -> None:
        """Fail, blaming get() and not touch(), when ``get(sid)`` of an expired, untouched
        session still returns it.
        """
        got = await store.get(sid)
        self.expect(
            got is None,
            call("get", sid),
            "None",
            got,
            "get() returned a session whose cookie expiry (and expiry_slack) had passed, before any "
            "touch() of it: get() ignores the expiry (see test_get_after_expiry_returns_none); "
            "touch() is not judged",
        )


#: Sessions the streaming-listing checks write: more than any reasonable page of a paging
#: ids()/items(), so an off-by-one between pages shows.
LISTED_SESSIONS = 1500
#: How many of them are written at once.
WRITE_BATCH = 100


def missing_and_extra(seen: list[str], expected: set[str]) -> str:
    """What differs between the sids a listing yielded and those expected, in short."""
    counts: dict[str, int] = {}
    for sid in seen:
        counts[sid] = counts.get(sid, 0) + 1
    missing = sorted(expected - counts.keys())
    extra = sorted(counts.keys() - expected)
    twice = sorted(sid for sid, n in counts.items() if n > 1)
    parts = [f"{len(seen)} yielded for {len(expected)} live sessions"]
    for label, sids in (("missing", missing), ("not stored", extra), ("yielded more than once", twice)):
        if sids:
            parts.append(f"{label}: {len(sids)}, e.g. {', '.join(repr(sid) for sid in sids[:5])}")
    return "; ".join(parts)


class ListingChecks(ConformanceBase):
    """all / length / ids / items / clear: live sessions only, and agreeing with each other."""

    async def write_many(self, store: Store, count: int) -> dict[str, SessionData]:
        """Store ``count`` sessions (each holding its own number), :data:`WRITE_BATCH` at a time."""
        sessions = {f"listed-{i:05d}": make_session(n=i) for i in range(count)}
        sids = list(sessions)
        for start in range(0, count, WRITE_BATCH):
            batch = sids[start : start + WRITE_BATCH]
            await asyncio.gather(*(store.set(sid, sessions[sid]) for sid in batch))
        return sessions

    @requires("all")
    async def test_all_returns_live_sessions_keyed_by_sid(self, store: Store) -> None:
        """all() returns every live session as a dict keyed by sid."""
        sessions = {f"sid-{i}": make_session(n=i) for i in range(5)}
        for sid, session in sessions.items():
            await store.set(sid, session)
        self.expect_equal("all()", await store.all(), sessions)

    @requires("all")
    async def test_all_of_empty_store_is_empty_dict(self, store: Store) -> None:
        """all() of an empty store returns {}."""
        self.expect_equal("all()", await store.all(), {})

    @requires("length")
    async def test_length_counts_sessions(self, store: Store) -> None:
        """length() is 0 for an empty store and counts each set sid once (overwrites too)."""
        self.expect_equal("length()", await store.length(), 0, "of an empty store")
        for i in range(7):
            await store.set(f"sid-{i}", make_session(n=i))
        await store.set("sid-0", make_session(n=100))
        self.expect_equal("length()", await store.length(), 7, "after set() of 7 sids, 'sid-0' twice")
        await store.destroy("sid-3")
        self.expect_equal("length()", await store.length(), 6, "after destroy('sid-3')")

    @requires("ids")
    async def test_ids_streams_each_live_sid_once(self, store: Store) -> None:
        """ids() yields every live sid exactly once (1,500 sessions: more than a page)."""
        sids = set(await self.write_many(store, LISTED_SESSIONS))
        seen = [sid async for sid in store.ids()]
        self.expect(
            len(seen) == len(sids) and set(seen) == sids,
            "ids()",
            f"each of the {len(sids)} live sids once",
            Literal(missing_and_extra(seen, sids)),
        )

    @requires("items")
    async def test_items_streams_live_sessions(self, store: Store) -> None:
        """items() yields (sid, session) for every live session exactly once (1,500 sessions:
        more than a page).
        """
        sessions = await self.write_many(store, LISTED_SESSIONS)
        seen = [pair async for pair in store.items()]
        sids = [sid for sid, _ in seen]
        self.expect(
            len(seen) == len(sessions) and set(sids) == set(sessions),
            "items()",
            f"each of the {len(sessions)} live sessions once",
            Literal(missing_and_extra(sids, set(sessions))),
        )
        wrong = [(sid, session) for sid, session in seen if session != sessions[sid]]
        self.expect(
            not wrong,
            "items()",
            "each sid paired with its own session",
            wrong[0] if wrong else None,
            f"{len(wrong)} pairs wrong",
        )

    async def test_listings_exclude_expired_sessions(self, store: Store) -> None:
        """Expired sessions never appear in all(), length(), ids() or items()."""
        listings = [name for name in ("all", "length", "ids", "items") if name in store.capabilities]
        if not listings:
            pytest.skip("not supported: the store declares none of all, length, ids, items")

        async def during() -> None:
            await store.set("live", make_session(a=1))

        _, expired_by = await self.while_short_lived(store, "short", during)
        await self.wait_until(expired_by)
        why = "'short' had expired, 'live' has an hour to live"
        # length first: a store that purges expired entries while listing must not hide a
        # length() that counts them.
        if "length" in listings:
            self.expect_equal("length()", await store.length(), 1, why)
        if "all" in listings:
            self.expect_equal("list(all())", list(await store.all()), ["live"], why)
        if "ids" in listings:
            self.expect_equal("ids()", [sid async for sid in store.ids()], ["live"], why)
        if "items" in listings:
            self.expect_equal("items() (sids)", [sid async for sid, _ in store.items()], ["live"], why)

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
        why = "40 sessions set, every third destroyed"
        if "all" in listings:
            self.expect_equal("set(all())", set(await store.all()), expected, why)
        if "length" in listings:
            self.expect_equal("length()", await store.length(), len(expected), why)
        if "ids" in listings:
            self.expect_equal("set(ids())", {sid async for sid in store.ids()}, expected, why)
        if "items" in listings:
            self.expect_equal("items() (sids)", {sid async for sid, _ in store.items()}, expected, why)

    @requires("clear")
    async def test_clear_removes_every_session(self, store: Store) -> None:
        """clear() removes every session of the store; the store stays usable."""
        for i in range(30):
            await store.set(f"sid-{i}", make_session(n=i))
        await store.clear()
        for i in range(30):
            await self.expect_data(store, f"sid-{i}", None, "after clear()")
        if "length" in store.capabilities:
            self.expect_equal("length()", await store.length(), 0, "after clear()")
        await store.set("after", make_session(n=1))
        await self.expect_data(store, "after", {"n": 1}, "set() after clear()")

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
        await self.expect_data(store, "shared-sid", None, "after clear()")
        why = "read from the other namespace after clear() of the first"
        await self.expect_data(second_namespace, "shared-sid", {"owner": "other"}, why)
        await self.expect_data(second_namespace, "only-other", {"owner": "other"}, why)

    async def test_namespaces_do_not_see_each_other(self, store: Store, second_namespace: Store) -> None:
        """Two namespaces on one backend keep separate sessions under the same sid."""
        await store.set("sid", make_session(owner="store"))
        await self.expect_data(second_namespace, "sid", None, "read from the other namespace")
        await second_namespace.set("sid", make_session(owner="other"))
        await second_namespace.destroy("sid")
        await self.expect_data(
            store, "sid", {"owner": "store"}, "after set() and destroy() in the other namespace"
        )
        if "length" in store.capabilities:
            self.expect_equal("length()", await store.length(), 1, "one session in this namespace")
            self.expect_equal(
                "length() of the other namespace", await second_namespace.length(), 0, "none in the other"
            )
