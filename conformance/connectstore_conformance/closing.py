"""Checks of ``close()``: it releases what the store holds, and the store stays usable.

The contract (see :mod:`connectstore.store`): any call after ``close()`` works, opening what
it needs again (as redis-py clients and SQLAlchemy engines do); ``close()`` is idempotent
and releases again after the store was used again; data in a persistent backend is
unchanged by closing and reopening.
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from typing import ClassVar, TypeVar

from connectstore import Store, Versioned, supports
from connectstore_conformance.base import ConformanceBase
from connectstore_conformance.sessions import make_session, without_cookie
from connectstore_conformance.verdicts import SESSION, Literal, call, violation

T = TypeVar("T")


class CloseChecks(ConformanceBase):
    """Every method works after close(), and close() can be called again at any time.

    ``close_keeps_data``: whether sessions written before ``close()`` are still there after
    it (True for every persistent backend and for MemoryStore; a store whose data lives only
    as long as its connection, such as an in-memory database engine it owns, sets False).
    """

    close_keeps_data: ClassVar[bool] = True

    async def test_every_method_works_after_close(self, store: Store) -> None:
        """After close(), get/set/touch/destroy, the declared conditional writes
        (get_versioned/set_if/create), listings and clear() work (the store opens what it
        needs again), and a session written before close() is still there (for a store whose
        data outlives its connection: ``close_keeps_data``).
        """
        await store.set("before", make_session(n=1))
        await store.close()
        why = "called after close(), which must leave the store usable"
        got = await self.after_close(call("get", "before"), store.get("before"))
        if self.close_keeps_data:
            self.expect(
                isinstance(got, dict) and without_cookie(got) == {"n": 1},
                call("get", "before"),
                "the session {'n': 1} written before close()",
                got,
                why,
            )
        else:
            await store.destroy("before")  # whatever close() left of it
        await store.set("after", make_session(n=2))
        await self.expect_data(store, "after", {"n": 2}, why)
        if supports(store, "touch"):
            await store.touch("after", make_session(expires_in=7200, n=2))
            await self.expect_data(
                store, "after", {"n": 2}, f"{why}; after {call('touch', 'after', SESSION)}"
            )
        await self.conditional_writes_after_close(store, why)
        expected = {"after": {"n": 2}} | ({"before": {"n": 1}} if self.close_keeps_data else {})
        await self.expect_listings(store, expected, why)
        await store.destroy("after")
        await self.expect_data(store, "after", None, f"{why}; after {call('destroy', 'after')}")
        if supports(store, "clear"):
            await store.set("cleared", make_session(n=3))
            await store.clear()
            await self.expect_data(store, "cleared", None, f"{why}; after {call('clear')}")

    async def test_close_twice_and_again_after_reuse(self, store: Store) -> None:
        """close() twice in a row is fine; a store used again after close() can be closed
        again, and used again after that.
        """
        await store.close()
        await store.close()
        await self.after_close(call("set", "first", SESSION), store.set("first", make_session(n=1)))
        await self.expect_data(store, "first", {"n": 1}, "set() after close() twice")
        await store.close()
        await store.set("second", make_session(n=2))
        await self.expect_data(store, "second", {"n": 2}, "set() after close(), use, close()")
        if self.close_keeps_data:
            await self.expect_data(store, "first", {"n": 1}, "written before the second close()")

    async def conditional_writes_after_close(self, store: Store, why: str) -> None:
        """Each declared conditional write, made right after a close(): create() of a new sid
        (destroyed again), then get_versioned() and set_if() of ``"after"`` (rewriting its
        data as it is; written again first where closing ended the data).
        """
        if supports(store, "create"):
            await store.close()
            what = call("create", "created", SESSION)
            created = await self.after_close(what, store.create("created", make_session(n=4)))
            self.expect(isinstance(created, str) and created != "", what, "its version", created, why)
            await self.expect_data(store, "created", {"n": 4}, f"{why}; after {what}")
            await store.destroy("created")
            if not self.close_keeps_data:
                await store.set("after", make_session(n=2))  # closing ended it
        if not supports(store, "get_versioned"):
            return
        await store.close()
        if not self.close_keeps_data:
            await store.set("after", make_session(n=2))
        what = call("get_versioned", "after")
        got = await self.after_close(what, store.get_versioned("after"))
        self.expect(isinstance(got, Versioned), what, "the session {'n': 2} and its version", got, why)
        if supports(store, "set_if") and isinstance(got, Versioned):
            if self.close_keeps_data:
                await store.close()
            what = call("set_if", "after", SESSION, Literal("<its version>"))
            written = await self.after_close(what, store.set_if("after", make_session(n=2), got.version))
            self.expect(isinstance(written, str) and written != "", what, "its new version", written, why)
        await self.expect_data(store, "after", {"n": 2}, why)

    async def after_close(self, what: str, step: Awaitable[T]) -> T:
        """What ``step`` (the call ``what``, made after close()) returns; any exception it
        raises fails the clause naming the call.
        """
        try:
            return await step
        except Exception as error:
            raise violation(
                self.clause, what, "an answer: a store stays usable after close()", error
            ) from error

    async def expect_listings(self, store: Store, expected: Mapping[str, object], why: str) -> None:
        """Fail unless each declared listing reports exactly ``expected`` (sid -> data)."""
        if supports(store, "all"):
            listed = {sid: without_cookie(session) for sid, session in (await store.all()).items()}
            self.expect_equal(call("all"), listed, expected, why)
        if supports(store, "items"):
            listed = {sid: without_cookie(session) async for sid, session in store.items()}
            self.expect_equal(call("items"), listed, expected, why)
        if supports(store, "ids"):
            self.expect_equal(call("ids"), sorted([sid async for sid in store.ids()]), sorted(expected), why)
        if supports(store, "length"):
            self.expect_equal(call("length"), await store.length(), len(expected), why)
