"""Checks with hostile session ids and concurrent callers."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from connectstore import NO_VERSION, Store, Versioned, supports
from connectstore_conformance.base import NOT_SUPPORTED, ConformanceBase, requires
from connectstore_conformance.corruption import answer_or_error
from connectstore_conformance.sessions import HOSTILE_SIDS, make_session, without_cookie
from connectstore_conformance.verdicts import SESSION, Literal, call, shown

#: The methods whose only argument is the sid.
ONE_ARGUMENT = ("get", "destroy", "get_versioned")
#: Versions that are no version of any record: patterns, SQL, and NO_VERSION.
VERSION_LIKE = ["*", "%", "' OR '1'='1", "x'); DROP TABLE sessions; --", NO_VERSION]

#: Session ids of the wrong type, as a caller passing ``request.cookies.get(...)`` bytes, a
#: numeric user id or a missing value would.
NOT_STR_SIDS: tuple[object, ...] = (1, b"1", None)


class HostileSidChecks(ConformanceBase):
    """Session ids with glob, regex, SQL, SurrealQL and path characters are plain strings;
    a sid that is no string is a TypeError.
    """

    async def test_hostile_sids_are_stored_and_found_exactly(self, store: Store) -> None:
        """Each hostile sid (glob/regex characters, %, quotes, SQL and SurrealQL fragments,
        /, spaces, unicode, 1 KiB long) stores and reads back its own session.
        """
        for index, sid in enumerate(HOSTILE_SIDS):
            await store.set(sid, make_session(index=index, sid=sid))
        for index, sid in enumerate(HOSTILE_SIDS):
            await self.expect_data(store, sid, {"index": index, "sid": sid})

    async def test_hostile_sids_never_match_other_sessions(self, store: Store) -> None:
        """get() of a pattern-like sid (``*``, ``%``, ``.*``...) finds nothing when only other
        sessions exist, and destroy() of it removes nothing else.
        """
        await store.set("victim", make_session(owner="victim"))
        await store.set("a", make_session(owner="a"))
        for sid in HOSTILE_SIDS:
            await self.expect_data(store, sid, None, "only 'victim' and 'a' are stored")
            await store.destroy(sid)
        why = "after destroy() of every hostile sid, none of them stored"
        await self.expect_data(store, "victim", {"owner": "victim"}, why)
        await self.expect_data(store, "a", {"owner": "a"}, why)

    async def test_destroying_hostile_sids_removes_only_themselves(self, store: Store) -> None:
        """With every hostile sid stored, destroying one leaves all the others in place."""
        for sid in HOSTILE_SIDS:
            await store.set(sid, make_session(sid=sid))
        await store.set("victim", make_session(sid="victim"))
        for position, sid in enumerate(HOSTILE_SIDS):
            await store.destroy(sid)
            why = f"after {call('destroy', sid)}"
            await self.expect_data(store, sid, None, why)
            for other in [*HOSTILE_SIDS[position + 1 :], "victim"]:
                await self.expect_data(store, other, {"sid": other}, why)

    @requires("all")
    async def test_hostile_sids_are_listed_exactly(self, store: Store) -> None:
        """all() reports hostile sids exactly as they were given, each once."""
        for sid in HOSTILE_SIDS:
            await store.set(sid, make_session(sid=sid))
        listed = await store.all()
        self.expect_equal("sorted(all())", sorted(listed), sorted(HOSTILE_SIDS))
        wrong = {sid: session for sid, session in listed.items() if without_cookie(session) != {"sid": sid}}
        self.expect(not wrong, "all()", "each sid mapped to its own session", wrong)

    @requires("touch")
    async def test_touching_hostile_sids_touches_only_themselves(self, store: Store) -> None:
        """touch() of a pattern-like sid never creates it and never extends another session."""
        await store.set("victim", make_session(owner="victim"))
        for sid in HOSTILE_SIDS:
            await store.touch(sid, make_session(owner="attacker"))
            await self.expect_data(store, sid, None, f"after {call('touch', sid, SESSION)} of a missing sid")
        await self.expect_data(store, "victim", {"owner": "victim"}, "after touch() of every hostile sid")

    async def test_a_sid_that_is_not_a_str_raises_type_error(self, store: Store) -> None:
        """get(), set(), destroy(), touch() and the conditional writes (get_versioned(),
        set_if(), create()) of a sid that is not a str (an int, bytes, None) raise TypeError
        before any write: the store holds nothing new afterwards.
        """
        await store.set("victim", make_session(owner="victim"))
        optional = [name for name in ("touch", "get_versioned", "set_if", "create") if supports(store, name)]
        methods = ["get", "set", "destroy", *optional]
        for sid in NOT_STR_SIDS:
            for method in methods:
                args: tuple[object, ...] = (sid,) if method in ONE_ARGUMENT else (sid, SESSION)
                args += ("v",) if method == "set_if" else ()
                outcome = await answer_or_error(self.call_with(store, method, sid))
                self.expect(
                    isinstance(outcome, TypeError),
                    call(method, *args),
                    "TypeError (a session id is a str)",
                    outcome,
                )
        why = f"after {'/'.join(methods)} of sids that are no str (1, b'1', None)"
        for text in ("1", "b'1'", "None"):
            await self.expect_data(store, text, None, why)
        await self.expect_data(store, "victim", {"owner": "victim"}, why)
        if supports(store, "all"):
            self.expect_equal("sorted(all())", sorted(await store.all()), ["victim"], why)
        if supports(store, "length"):
            self.expect_equal(call("length"), await store.length(), 1, why)

    @staticmethod
    async def call_with(store: Store, method: str, sid: object) -> object:
        """``store.<method>(sid[, session[, version]])``, with a sid of the wrong type on purpose."""
        if method in ONE_ARGUMENT:
            return await getattr(store, method)(sid)
        if method == "set_if":
            return await store.set_if(sid, make_session(owner="intruder"), "v")  # type: ignore[arg-type]
        return await getattr(store, method)(sid, make_session(owner="intruder"))

    async def test_conditional_writes_of_hostile_sids_touch_only_themselves(self, store: Store) -> None:
        """create() and set_if() of each hostile sid write that sid alone: create() finds no
        session where only others are stored, set_if() with another sid's version or a
        pattern-like or SQL-like version writes nothing, and the other sessions keep their
        data and version.
        """
        creates, sets_if = supports(store, "create"), supports(store, "set_if")
        if not (creates or sets_if):
            pytest.skip(f"{NOT_SUPPORTED}: the store declares neither create nor set_if")
        await store.set("victim", make_session(owner="victim"))
        victim = await self.version_of(store, "victim")
        for sid in HOSTILE_SIDS:
            if creates:
                created = await store.create(sid, make_session(sid=sid))
                what = call("create", sid, SESSION)
                self.expect(
                    bool(created) and isinstance(created, str),
                    what,
                    "a version",
                    created,
                    "only 'victim' is stored",
                )
            else:
                await store.set(sid, make_session(sid=sid))
            if sets_if:
                versions = [(Literal("<the version of 'victim'>"), victim)]
                await self.expect_set_if_refused(store, sid, versions + [(v, v) for v in VERSION_LIKE])
                version = await self.version_of(store, sid)
                what = call("set_if", sid, SESSION, Literal("<its version>"))
                written = await store.set_if(sid, make_session(sid=sid, step="rewritten"), version)
                self.expect(bool(written) and isinstance(written, str), what, "a version", written)
        expected = {"step": "rewritten"} if sets_if else {}
        for sid in HOSTILE_SIDS:
            await self.expect_data(store, sid, {"sid": sid, **expected})
        why = "after create()/set_if() of every hostile sid"
        await self.expect_data(store, "victim", {"owner": "victim"}, why)
        if sets_if:
            self.expect_equal(
                call("get_versioned", "victim") + ".version",
                await self.version_of(store, "victim"),
                victim,
                why,
            )

    async def version_of(self, store: Store, sid: str) -> str:
        """The version get_versioned() reports for ``sid`` ("" when the store has none)."""
        if not supports(store, "get_versioned"):
            return ""
        got = await store.get_versioned(sid)
        self.expect(
            isinstance(got, Versioned), call("get_versioned", sid), "Versioned(session, version)", got
        )
        assert isinstance(got, Versioned)
        return got.version

    async def expect_set_if_refused(self, store: Store, sid: str, versions: list[tuple[str, str]]) -> None:
        """Fail unless set_if(sid, ...) with each of ``versions`` (as shown, version; none of
        them ``sid``'s own) returns None and leaves ``sid``'s data as it was.
        """
        for shown_as, version in versions:
            what = call("set_if", sid, SESSION, shown_as)
            got = await store.set_if(sid, make_session(owner="attacker"), version)
            self.expect_equal(what, got, None, "the version is not the one of this sid's record")
        await self.expect_data(store, sid, {"sid": sid}, "after set_if() with versions that are not its own")


class ConcurrencyChecks(ConformanceBase):
    """Hundreds of concurrent operations: no error, and a consistent final state."""

    concurrency: int = 200

    async def test_concurrent_operations_on_distinct_sids(self, store: Store) -> None:
        """Hundreds of concurrent set() then get() then destroy() on distinct sids all succeed
        and each reads its own value.
        """
        n = self.concurrency
        await asyncio.gather(*(store.set(f"c{i}", make_session(i=i)) for i in range(n)))
        got = await asyncio.gather(*(store.get(f"c{i}") for i in range(n)))
        for i, session in enumerate(got):
            self.expect_equal(
                call("get", f"c{i}"), without_cookie(session), {"i": i}, f"{n} concurrent set()"
            )
        await asyncio.gather(*(store.destroy(f"c{i}") for i in range(0, n, 2)))
        got = await asyncio.gather(*(store.get(f"c{i}") for i in range(n)))
        for i, session in enumerate(got):
            expected = None if i % 2 == 0 else {"i": i}
            why = "concurrent destroy() of the even sids"
            self.expect_equal(call("get", f"c{i}"), without_cookie(session), expected, why)

    async def test_concurrent_writes_to_one_sid_leave_one_written_value(self, store: Store) -> None:
        """Hundreds of concurrent set() on one sid end with exactly one of the written values."""
        n = self.concurrency
        await asyncio.gather(*(store.set("hot", make_session(writer=i, pad="x" * i)) for i in range(n)))
        final = without_cookie(await store.get("hot"))
        self.expect(
            final in [{"writer": i, "pad": "x" * i} for i in range(n)],
            call("get", "hot"),
            f"one of the {n} sessions written concurrently, whole",
            final,
        )

    async def test_concurrent_mixed_operations_on_one_sid(self, store: Store) -> None:
        """Concurrent set/get/touch/destroy on one sid raise nothing; every get() sees a whole
        written session or None, never a mix.
        """
        written: list[dict[str, Any]] = [
            {"writer": i, "list": list(range(i % 17))} for i in range(self.concurrency)
        ]
        supports_touch = "touch" in store.capabilities

        async def operate(i: int) -> object:
            kind = i % 4
            if kind == 0:
                await store.set("hot", make_session(**written[i]))
            elif kind == 1:
                return await store.get("hot")
            elif kind == 2 and supports_touch:
                await store.touch("hot", make_session(**written[i]))
            elif kind == 3:
                await store.destroy("hot")
            return None

        results = await asyncio.gather(*(operate(i) for i in range(self.concurrency)))
        for result in results:
            self.expect(
                result is None or (isinstance(result, dict) and without_cookie(result) in written),
                call("get", "hot"),
                "None or one of the sessions written, whole",
                result,
                "racing set/touch/destroy of the same sid",
            )

    @pytest.mark.parametrize("rounds", [3])
    async def test_interleaved_set_and_destroy_end_consistent(self, store: Store, rounds: int) -> None:
        """After concurrent writers and destroyers finish, get() agrees with the last operation
        each sid saw (checked by replaying one sid per task sequentially).
        """
        for _ in range(rounds):

            async def worker(i: int) -> None:
                sid = f"w{i}"
                await store.set(sid, make_session(v=1))
                await store.destroy(sid)
                await store.set(sid, make_session(v=2))
                if i % 2:
                    await store.destroy(sid)

            await asyncio.gather(*(worker(i) for i in range(50)))
            got = await asyncio.gather(*(store.get(f"w{i}") for i in range(50)))
            for i, session in enumerate(got):
                last = "destroy()" if i % 2 else "set() of {'v': 2}"
                self.expect_equal(
                    call("get", f"w{i}"),
                    without_cookie(session),
                    None if i % 2 else {"v": 2},
                    f"its last call: {last}",
                )

    @requires("touch")
    async def test_touch_racing_set_never_undoes_the_set(self, store: Store) -> None:
        """A touch() racing a set() of the same live session never undoes the set: after both,
        get() returns the data the set wrote (rounds of concurrent touch+set on 50 sids, each
        set writing a value of its own; a touch that reads and writes back outside a
        transaction loses them).
        """
        sids = [f"race-{i}" for i in range(50)]
        await asyncio.gather(*(store.set(sid, make_session(round=-1, sid=sid)) for sid in sids))
        undone: list[tuple[str, object, object]] = []
        rounds = 4
        for round_ in range(rounds):

            async def race(index: int, sid: str, round_: int = round_) -> None:
                touch = store.touch(sid, make_session(expires_in=7200, round=round_, stale=True))
                write = store.set(sid, make_session(round=round_, sid=sid))
                # Either may start first; a touch that starts first reads before the set lands.
                await asyncio.gather(*((touch, write) if (index + round_) % 2 == 0 else (write, touch)))

            await asyncio.gather(*(race(index, sid) for index, sid in enumerate(sids)))
            got = await asyncio.gather(*(store.get(sid) for sid in sids))
            for sid, session in zip(sids, got, strict=True):
                expected = {"round": round_, "sid": sid}
                if not (isinstance(session, dict) and without_cookie(session) == expected):
                    undone.append(
                        (sid, expected, without_cookie(session) if isinstance(session, dict) else session)
                    )
        if undone:
            sid, wanted, found = undone[0]
            self.expect(
                False,
                call("get", sid),
                f"the data of the set() that raced {call('touch', sid, SESSION)}: {shown(wanted)}",
                found,
                f"{len(undone)} of {rounds * len(sids)} racing set() calls were undone",
            )
