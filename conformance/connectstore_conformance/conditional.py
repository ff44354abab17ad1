"""Checks of the optional conditional writes: ``get_versioned``, ``set_if`` and ``create``.

The contract (see :mod:`connectstore.store`): a version is an opaque, non-empty ``str``, a
function of the stored record, and any write that changes the record changes it.
``set_if`` writes only over the very record whose version it is given (never over a
destroyed or expired one), ``create`` only where no live session is stored; both raise as
``set`` does before writing anything. Their races are checked by
:class:`~connectstore_conformance.conditional_races.ConditionalRaceChecks`, their hostile
sids by :class:`~connectstore_conformance.hostile.HostileSidChecks`, corrupt records, calls
after ``close()``, outages and the model by the groups of those.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import pytest

from connectstore import NO_VERSION, SerializationError, SessionData, Store, Versioned, now_ms, supports
from connectstore.cookie import format_expires
from connectstore_conformance.base import NOT_SUPPORTED, ConformanceBase, requires
from connectstore_conformance.corruption import answer_or_error
from connectstore_conformance.sessions import make_session, without_cookie
from connectstore_conformance.verdicts import SESSION, Literal, call

#: How a version argument appears in a described call.
CURRENT = Literal("<its current version>")
STALE = Literal("<the version it had before>")
#: Values JSON cannot carry (as in the ``set`` clause): each must be refused before writing.
UNSTORABLE: tuple[object, ...] = ({1, 2}, float("nan"), 2**53 + 1, b"bytes", datetime(2030, 1, 1))


def past_session(**data: Any) -> SessionData:
    """A session whose cookie expired 5 s ago."""
    session = make_session(**data)
    session["cookie"]["expires"] = format_expires(now_ms() - 5000)
    return session


async def nothing() -> None:
    """Nothing to do while a short-lived session is alive."""


class ConditionalWriteChecks(ConformanceBase):
    """get_versioned / set_if / create: versions follow the record, conditional writes never
    write over a record they were not given, nor bring back a destroyed or expired session.
    """

    async def read_version(self, store: Store, sid: str, why: str = "") -> str:
        """The version ``get_versioned(sid)`` reports of a live session; fails the clause
        unless it returns a :class:`~connectstore.Versioned` with a non-empty ``str`` version.
        """
        got = await store.get_versioned(sid)
        self.expect_versioned(call("get_versioned", sid), got, why)
        assert isinstance(got, Versioned)
        return got.version

    def expect_versioned(self, what: str, got: object, why: str = "") -> None:
        """Fail unless ``got`` (what ``what`` returned) is a Versioned with a non-empty str version."""
        self.expect(
            isinstance(got, Versioned) and isinstance(got.version, str) and got.version != NO_VERSION,
            what,
            "Versioned(session, version) with a non-empty str version",
            got,
            why,
        )

    def expect_new_version(self, what: str, got: object, why: str = "") -> None:
        """Fail unless ``got`` (what the write ``what`` returned) is a non-empty str version."""
        self.expect(
            isinstance(got, str) and got != NO_VERSION,
            what,
            "the version of the record written (a non-empty str)",
            got,
            why,
        )

    @requires("get_versioned")
    async def test_get_versioned_agrees_with_get(self, store: Store) -> None:
        """get_versioned() returns what get() returns, with a non-empty str version: the
        session of a live sid (cookie included, null expiry too, a dict the caller owns),
        None for a sid never set or destroyed.
        """
        session = make_session(views=1, user={"id": 7})
        await store.set("sid", copy.deepcopy(session))
        got = await store.get_versioned("sid")
        self.expect_versioned(call("get_versioned", "sid"), got)
        assert isinstance(got, Versioned)
        self.expect_equal(call("get_versioned", "sid") + ".session", got.session, session)
        got.session["views"] = 2
        got.session["user"]["id"] = 8
        await self.expect_data(
            store, "sid", {"views": 1, "user": {"id": 7}}, "the session get_versioned() returned was mutated"
        )
        browser = make_session(expires_in=None, user="alice")
        await store.set("browser", browser)
        got = await store.get_versioned("browser")
        self.expect(
            isinstance(got, Versioned) and got.session == browser,
            call("get_versioned", "browser"),
            f"the session stored with a null expiry: {browser!r}",
            got,
        )
        self.expect_equal(call("get_versioned", "never-set"), await store.get_versioned("never-set"), None)
        await store.destroy("sid")
        self.expect_equal(
            call("get_versioned", "sid"), await store.get_versioned("sid"), None, "after destroy('sid')"
        )

    @requires("get_versioned")
    async def test_get_versioned_of_an_expired_session_is_none(self, store: Store) -> None:
        """get_versioned() of a session whose cookie expiry has passed returns None, as get() does."""

        async def during() -> Versioned | None:
            return await store.get_versioned("short")

        seen, expired_by = await self.while_short_lived(store, "short", during, a=1)
        self.expect(
            isinstance(seen, Versioned) and without_cookie(seen.session) == {"a": 1},
            call("get_versioned", "short"),
            "the short-lived session {'a': 1} and its version, still alive",
            seen,
            "read before its expiry",
        )
        await self.wait_until(expired_by)
        self.expect_equal(
            call("get_versioned", "short"),
            await store.get_versioned("short"),
            None,
            "read after its cookie expiry (and expiry_slack) passed",
        )

    @requires("get_versioned")
    async def test_version_is_stable_while_the_record_is_unchanged(self, store: Store) -> None:
        """The same record read twice has the same version, whatever happened meanwhile to
        other sessions and however it was read (get(), get_versioned()).
        """
        await store.set("sid", make_session(n=1))
        first = await self.read_version(store, "sid")
        await store.get("sid")
        await store.set("other", make_session(n=2))
        await self.read_version(store, "other")
        await store.destroy("ghost")
        second = await self.read_version(store, "sid")
        self.expect_equal(
            call("get_versioned", "sid") + ".version",
            second,
            first,
            "read again with nothing written to 'sid' since (only get('sid'), another sid set and read)",
        )

    @requires("get_versioned")
    async def test_version_changes_with_every_write_that_changes_the_record(self, store: Store) -> None:
        """set() of other data, touch() to a later expiry (when it rewrites the stored cookie)
        and destroy() then set() each change the version: a write nobody saw coming is never
        mistaken for the record read before it.
        """
        await store.set("sid", make_session(n=1))
        seen = [await self.read_version(store, "sid")]
        await store.set("sid", make_session(n=2))
        await self.expect_version_changed(store, seen, f"after {call('set', 'sid', SESSION)} of other data")
        if supports(store, "touch"):
            later = make_session(expires_in=7200, n=2)
            await store.touch("sid", later)
            touched = await store.get("sid")
            if isinstance(touched, dict) and touched.get("cookie") == later["cookie"]:
                why = f"after {call('touch', 'sid', SESSION)} rewrote the stored cookie"
                await self.expect_version_changed(store, seen, why)
        await store.destroy("sid")
        await store.set("sid", make_session(n=3))
        await self.expect_version_changed(store, seen, "after destroy('sid') and set() of other data")

    async def expect_version_changed(self, store: Store, seen: list[str], why: str) -> None:
        """Fail unless the version of ``"sid"`` is none of the versions ``seen`` before; add it."""
        version = await self.read_version(store, "sid", why)
        self.expect(
            version not in seen,
            call("get_versioned", "sid") + ".version",
            "a version it never had before",
            version,
            why,
        )
        seen.append(version)

    @requires("set_if")
    async def test_set_if_with_the_current_version_writes(self, store: Store) -> None:
        """set_if() with the record's current version writes the session and returns the new
        record's version, the one get_versioned() reports next (and set_if() accepts next).
        """
        await store.set("sid", make_session(n=1))
        version = await self.read_version(store, "sid")
        new = make_session(n=2)
        written = await store.set_if("sid", copy.deepcopy(new), version)
        what = call("set_if", "sid", SESSION, CURRENT)
        self.expect_new_version(what, written)
        self.expect_equal(call("get", "sid"), await store.get("sid"), new, f"after {what}")
        self.expect_equal(
            call("get_versioned", "sid") + ".version",
            await self.read_version(store, "sid"),
            written,
            f"the version {what} returned",
        )
        again = await store.set_if("sid", make_session(n=3), str(written))
        what = call("set_if", "sid", SESSION, Literal("<the version the last set_if() returned>"))
        self.expect_new_version(what, again)
        await self.expect_data(store, "sid", {"n": 3}, f"after {what}")

    @requires("set_if")
    async def test_set_if_with_a_stale_version_writes_nothing(self, store: Store) -> None:
        """set_if() with a version the record no longer has (another writer set it since), or
        with NO_VERSION or a made-up one, returns None and the other write stays.
        """
        await store.set("sid", make_session(n=1))
        version = await self.read_version(store, "sid")
        await store.set("sid", make_session(n=2, by="another writer"))
        for stale in (version, NO_VERSION, "not-a-version"):
            shown = STALE if stale == version else stale
            what = call("set_if", "sid", SESSION, shown)
            self.expect_equal(what, await store.set_if("sid", make_session(n=3), stale), None)
            await self.expect_data(store, "sid", {"n": 2, "by": "another writer"}, f"after {what}")

    @requires("set_if")
    async def test_set_if_after_destroy_never_brings_the_session_back(self, store: Store) -> None:
        """set_if() of a session destroyed since its version was read (a late request after a
        logout) returns None and writes nothing: the session stays gone.
        """
        await store.set("sid", make_session(user="alice"))
        version = await self.read_version(store, "sid")
        await store.destroy("sid")
        what = call("set_if", "sid", SESSION, STALE)
        self.expect_equal(what, await store.set_if("sid", make_session(user="alice", n=2), version), None)
        await self.expect_data(store, "sid", None, f"destroy('sid') then {what}: a logout is never undone")
        self.expect_equal(
            call("get_versioned", "sid"), await store.get_versioned("sid"), None, f"after {what}"
        )

    @requires("set_if")
    async def test_set_if_over_an_expired_session_returns_none(self, store: Store) -> None:
        """set_if() with the version of a session that has expired since returns None and
        nothing appears (an expired session is gone, even where the backend still holds it).
        """

        async def during() -> Versioned | None:
            return await store.get_versioned("short")

        seen, expired_by = await self.while_short_lived(store, "short", during, a=1)
        self.expect_versioned(call("get_versioned", "short"), seen, "read before its expiry")
        assert isinstance(seen, Versioned)
        await self.wait_until(expired_by)
        what = call("set_if", "short", SESSION, STALE)
        written = await store.set_if("short", make_session(expires_in=3600, a=2), seen.version)
        why = "its cookie expiry (and expiry_slack) had passed"
        self.expect_equal(what, written, None, why)
        await self.expect_data(store, "short", None, f"{what} after {why}")

    @requires("set_if")
    async def test_set_if_with_a_past_expiry_deletes_the_matching_record(self, store: Store) -> None:
        """set_if() of a session whose expiry is already past deletes the record and returns
        NO_VERSION ("") when the version matches; with a stale version it returns None and the
        record stays.
        """
        await store.set("sid", make_session(n=0))
        stale = await self.read_version(store, "sid")
        await store.set("sid", make_session(n=1))
        what = call("set_if", "sid", Literal("<a session expired 5 s ago>"), STALE)
        self.expect_equal(what, await store.set_if("sid", past_session(n=2), stale), None)
        await self.expect_data(store, "sid", {"n": 1}, f"after {what}")
        version = await self.read_version(store, "sid")
        what = call("set_if", "sid", Literal("<a session expired 5 s ago>"), CURRENT)
        deleted = await store.set_if("sid", past_session(n=2), version)
        self.expect(deleted == NO_VERSION, what, "NO_VERSION ('')", deleted)
        await self.expect_data(store, "sid", None, f"after {what}")

    async def test_conditional_writes_refuse_unstorable_values(self, store: Store) -> None:
        """set_if() and create() raise SerializationError for a value JSON cannot carry, before
        any comparison and before writing: the stored session, its version and an absent sid
        stay as they were.
        """
        declared = [name for name in ("set_if", "create") if supports(store, name)]
        if not declared:
            pytest.skip(f"{NOT_SUPPORTED}: the store declares neither set_if nor create")
        good = make_session(ok=True)
        await store.set("sid", good)
        version = await self.read_version(store, "sid") if supports(store, "get_versioned") else None
        for bad in UNSTORABLE:
            for what, attempt in self.conditional_writes(store, declared, version, make_session(bad=bad)):
                outcome = await answer_or_error(attempt())
                self.expect(
                    isinstance(outcome, SerializationError),
                    what,
                    "SerializationError",
                    outcome,
                    f"the session holds {bad!r}, which JSON cannot carry",
                )
        why = "after set_if()/create() refused values JSON cannot carry"
        self.expect_equal(call("get", "sid"), await store.get("sid"), good, why)
        if version is not None:
            self.expect_equal(
                call("get_versioned", "sid") + ".version", await self.read_version(store, "sid"), version, why
            )
        await self.expect_data(store, "fresh", None, why)

    @staticmethod
    def conditional_writes(
        store: Store, declared: list[str], version: str | None, session: SessionData
    ) -> list[tuple[str, Callable[[], Awaitable[str | None]]]]:
        """Each conditional write of ``session`` (described, not yet called) the refusal clause
        makes: set_if() over ``"sid"`` with its current and a stale version, create() over
        ``"sid"`` (present) and ``"fresh"`` (absent).
        """
        writes: list[tuple[str, Callable[[], Awaitable[str | None]]]] = []
        if version is not None and "set_if" in declared:
            writes.append(
                (
                    call("set_if", "sid", SESSION, CURRENT),
                    functools.partial(store.set_if, "sid", session, version),
                )
            )
            writes.append(
                (
                    call("set_if", "sid", SESSION, "stale"),
                    functools.partial(store.set_if, "sid", session, "stale"),
                )
            )
        if "create" in declared:
            writes.append((call("create", "sid", SESSION), functools.partial(store.create, "sid", session)))
            writes.append(
                (call("create", "fresh", SESSION), functools.partial(store.create, "fresh", session))
            )
        return writes

    @requires("create")
    async def test_create_stores_a_session_where_none_is(self, store: Store) -> None:
        """create() of a sid holding no session stores it and returns its version (the one
        get_versioned() reports).
        """
        session = make_session(n=1)
        created = await store.create("new", copy.deepcopy(session))
        what = call("create", "new", SESSION)
        self.expect_new_version(what, created)
        self.expect_equal(call("get", "new"), await store.get("new"), session, f"after {what}")
        if supports(store, "get_versioned"):
            self.expect_equal(
                call("get_versioned", "new") + ".version",
                await self.read_version(store, "new"),
                created,
                f"the version {what} returned",
            )

    @requires("create")
    async def test_create_over_a_live_session_returns_none(self, store: Store) -> None:
        """create() where a live session is stored (set() or created before) returns None and
        leaves that session (and its version) as it was.
        """
        await store.set("sid", make_session(n=1))
        version = await self.read_version(store, "sid") if supports(store, "get_versioned") else None
        what = call("create", "sid", SESSION)
        self.expect_equal(what, await store.create("sid", make_session(n=2)), None, "'sid' holds a session")
        await self.expect_data(store, "sid", {"n": 1}, f"after {what}")
        if version is not None:
            self.expect_equal(
                call("get_versioned", "sid") + ".version", await self.read_version(store, "sid"), version
            )
        await store.create("twice", make_session(n=1))
        what = call("create", "twice", SESSION)
        self.expect_equal(what, await store.create("twice", make_session(n=2)), None, "created before")
        await self.expect_data(store, "twice", {"n": 1}, f"after a second {what}")

    @requires("create")
    async def test_create_over_an_expired_session_succeeds(self, store: Store) -> None:
        """create() where the stored session has expired (even if the backend still holds
        it) stores the new session: an expired session counts as absent.
        """
        _, expired_by = await self.while_short_lived(store, "short", nothing, a=1)
        await self.wait_until(expired_by)
        what = call("create", "short", SESSION)
        why = "the session stored there has expired (cookie expiry and expiry_slack passed)"
        self.expect_new_version(what, await store.create("short", make_session(a=2)), why)
        await self.expect_data(store, "short", {"a": 2}, f"after {what}")

    @requires("create")
    async def test_create_after_destroy_succeeds(self, store: Store) -> None:
        """create() of a sid whose session was destroyed stores the new session."""
        await store.set("sid", make_session(n=1))
        await store.destroy("sid")
        what = call("create", "sid", SESSION)
        self.expect_new_version(what, await store.create("sid", make_session(n=2)), "after destroy('sid')")
        await self.expect_data(store, "sid", {"n": 2}, f"destroy('sid') then {what}")
