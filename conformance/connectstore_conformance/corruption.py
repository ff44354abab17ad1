"""Checks of a store that finds garbage where a session should be.

They need the store author's ``corrupt_record`` fixture: an async callable
``corrupt_record(sid)`` that overwrites the stored record of ``sid`` with bytes that are no
session (not JSON), behind the store's back, as a crash mid-write, another program or a
bad migration would. Without it the checks report "not supported".

The contract (see :mod:`connectstore.store`): ``get`` of a corrupt record raises
:class:`~connectstore.SessionDecodeError` naming its sid; the listings
(``all``/``ids``/``items``/``length``) skip it and list the live sessions around it;
``destroy`` removes it and ``set`` replaces it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import TypeVar

import pytest

from connectstore import SessionDecodeError, Store, supports
from connectstore_conformance.base import NOT_SUPPORTED, ConformanceBase, author_fixture
from connectstore_conformance.sessions import make_session, without_cookie
from connectstore_conformance.verdicts import SESSION, Literal, call, shown

#: What the ``corrupt_record`` fixture provides: ``await corrupt_record(sid)``.
Corrupter = Callable[[str], Awaitable[None]]

T = TypeVar("T")


async def answer_or_error(call: Awaitable[T]) -> T | Exception:
    """What ``call`` returned, or the exception it raised."""
    try:
        return await call
    except Exception as error:
        return error


class CorruptRecordChecks(ConformanceBase):
    """A corrupt record is reported as SessionDecodeError naming its sid, and nothing else breaks."""

    @pytest.fixture
    def corrupter(self, request: pytest.FixtureRequest) -> Corrupter:
        """The author's ``corrupt_record`` fixture, or a "not supported" skip when there is none."""
        corrupt: Corrupter = author_fixture(request, "corrupt_record", "corrupt stored data")
        return corrupt

    async def test_corrupt_record_get_raises_session_decode_error(
        self, store: Store, corrupter: Corrupter
    ) -> None:
        """get() of a sid whose stored record is garbage raises SessionDecodeError whose
        ``sid`` is that sid (not a bare JSONDecodeError, not None, not a made-up session).
        """
        await store.set("bad", make_session(n=1))
        await corrupter("bad")
        outcome = await answer_or_error(store.get("bad"))
        if not isinstance(outcome, BaseException):
            raise AssertionError(
                f"get('bad') of a corrupt record returned {outcome!r}; expected SessionDecodeError(sid='bad')"
            )
        if not isinstance(outcome, SessionDecodeError):
            raise AssertionError(
                f"get('bad') of a corrupt record raised {type(outcome).__name__}: {outcome}; "
                "expected SessionDecodeError(sid='bad')"
            ) from outcome
        assert outcome.sid == "bad", (
            f"get('bad') raised SessionDecodeError with sid={outcome.sid!r}; expected 'bad'"
        )
        assert repr("bad") in str(outcome), f"the message {str(outcome)!r} does not name the sid 'bad'"

    async def test_corrupt_record_leaves_other_sessions_working(
        self, store: Store, corrupter: Corrupter
    ) -> None:
        """A corrupt record breaks only itself: other sessions read, write and destroy as
        before; set() over the corrupt sid replaces it and destroy() removes it.
        """
        good = make_session(n=1)
        await store.set("good", good)
        await store.set("bad", make_session(n=2))
        await store.set("gone", make_session(n=3))
        await corrupter("bad")
        with pytest.raises(SessionDecodeError):
            await store.get("bad")
        assert await store.get("good") == good, "get('good') changed after another record was corrupted"
        new = make_session(n=4)
        await store.set("new", new)
        assert await store.get("new") == new, "set('new') then get('new') failed beside a corrupt record"
        await store.destroy("gone")
        assert await store.get("gone") is None, "destroy('gone') did not work beside a corrupt record"
        fixed = make_session(n=5)
        await store.set("bad", fixed)
        assert await store.get("bad") == fixed, "set('bad') did not replace the corrupt record"
        await corrupter("bad")
        await store.destroy("bad")
        assert await store.get("bad") is None, "destroy('bad') did not remove the corrupt record"

    async def test_corrupt_record_is_skipped_by_listings(self, store: Store, corrupter: Corrupter) -> None:
        """all(), ids(), items() and length() skip a corrupt record (never raise) and list the
        live sessions around it; length() counts exactly what all() lists; get() of it still
        raises SessionDecodeError, and destroy() and clear() remove it.
        """
        listings = [name for name in ("all", "ids", "items", "length") if supports(store, name)]
        if not listings:
            pytest.skip(f"{NOT_SUPPORTED}: the store declares none of all, ids, items, length")
        live = {"a-live": {"n": 1}, "c-live": {"n": 3}}
        for sid, data in live.items():
            await store.set(sid, make_session(**data))
        await store.set("b-corrupt", make_session(n=2))
        await corrupter("b-corrupt")
        why = "'b-corrupt' holds a corrupt record, between the live 'a-live' and 'c-live'"
        await self.expect_listed(store, listings, live, why)
        outcome = await answer_or_error(store.get("b-corrupt"))
        self.expect(
            isinstance(outcome, SessionDecodeError),
            call("get", "b-corrupt"),
            "SessionDecodeError (listings skip a corrupt record; get() of it reports it)",
            outcome,
        )
        await store.destroy("b-corrupt")
        await self.expect_data(store, "b-corrupt", None, "destroy() of a corrupt record removes it")
        await self.expect_listed(store, listings, live, "after destroy('b-corrupt')")
        if supports(store, "clear"):
            await corrupter("c-live")
            await store.clear()
            await self.expect_data(store, "c-live", None, "clear() removes a corrupt record too")
            await self.expect_listed(store, listings, {}, "after clear() of a store holding a corrupt record")

    async def test_corrupt_record_counts_as_present_for_conditional_writes(
        self, store: Store, corrupter: Corrupter
    ) -> None:
        """A corrupt record is no session, yet it is there: get_versioned() of it raises
        SessionDecodeError naming its sid, create() over it and set_if() with the version read
        before it was corrupted return None and write nothing (get() still raises); after
        destroy() removes it, create() succeeds.
        """
        declared = [name for name in ("get_versioned", "set_if", "create") if supports(store, name)]
        if not declared:
            pytest.skip(f"{NOT_SUPPORTED}: the store declares none of get_versioned, set_if, create")
        await store.set("bad", make_session(n=1))
        before = await store.get_versioned("bad") if "get_versioned" in declared else None
        await corrupter("bad")
        why = "'bad' holds a corrupt record"
        if "get_versioned" in declared:
            versioned = await answer_or_error(store.get_versioned("bad"))
            self.expect(
                isinstance(versioned, SessionDecodeError) and versioned.sid == "bad",
                call("get_versioned", "bad"),
                "SessionDecodeError(sid='bad'), as get() raises",
                versioned,
                why,
            )
        if "create" in declared:
            outcome = await answer_or_error(store.create("bad", make_session(n=2)))
            self.expect(
                outcome is None,
                call("create", "bad", SESSION),
                "None (a corrupt record is there)",
                outcome,
                why,
            )
        if "set_if" in declared and before is not None:
            what = call("set_if", "bad", SESSION, Literal("<its version before it was corrupted>"))
            written = await answer_or_error(store.set_if("bad", make_session(n=3), before.version))
            self.expect(written is None, what, "None (the record changed since)", written, why)
        got = await answer_or_error(store.get("bad"))
        self.expect(
            isinstance(got, SessionDecodeError),
            call("get", "bad"),
            "SessionDecodeError: the corrupt record still there, nothing written over it",
            got,
            f"after the conditional writes over it ({', '.join(declared)})",
        )
        if "create" in declared:
            await store.destroy("bad")
            created = await store.create("bad", make_session(n=4))
            what = call("create", "bad", SESSION)
            self.expect(
                isinstance(created, str) and created != "", what, "a version", created, "after destroy('bad')"
            )
            await self.expect_data(store, "bad", {"n": 4}, f"destroy('bad') then {what}")

    async def expect_listed(
        self, store: Store, listings: list[str], live: Mapping[str, object], detail: str
    ) -> None:
        """Fail unless each of ``listings`` reports exactly the sessions ``live`` (sid -> data),
        without raising.
        """
        for name in listings:
            got = await answer_or_error(_listed(store, name))
            if name == "length":
                expected = f"{len(live)} (the number of live sessions)"
                self.expect(got == len(live), call(name), expected, got, detail)
            elif name == "ids":
                self.expect(
                    got == sorted(live), call(name), f"the live sids {shown(sorted(live))}", got, detail
                )
            else:
                self.expect(got == live, call(name), f"the live sessions {shown(live)}", got, detail)


async def _listed(store: Store, name: str) -> object:
    """What the listing ``name`` reports: the count, the sorted ids, or sid -> application data."""
    if name == "length":
        return await store.length()
    if name == "ids":
        return sorted([sid async for sid in store.ids()])
    pairs = (await store.all()).items() if name == "all" else [pair async for pair in store.items()]
    return {sid: without_cookie(session) for sid, session in pairs}
