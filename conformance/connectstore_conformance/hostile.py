"""Checks with hostile session ids and concurrent callers."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from connectstore import Store
from connectstore_conformance.base import ConformanceBase, requires
from connectstore_conformance.sessions import HOSTILE_SIDS, make_session, without_cookie


class HostileSidChecks(ConformanceBase):
    """Session ids with glob, regex, SQL, SurrealQL and path characters are plain strings."""

    async def test_hostile_sids_are_stored_and_found_exactly(self, store: Store) -> None:
        """Each hostile sid (glob/regex characters, %, quotes, SQL and SurrealQL fragments,
        /, spaces, unicode, 1 KiB long) stores and reads back its own session.
        """
        for index, sid in enumerate(HOSTILE_SIDS):
            await store.set(sid, make_session(index=index, sid=sid))
        for index, sid in enumerate(HOSTILE_SIDS):
            assert without_cookie(await store.get(sid)) == {"index": index, "sid": sid}, sid

    async def test_hostile_sids_never_match_other_sessions(self, store: Store) -> None:
        """get() of a pattern-like sid (``*``, ``%``, ``.*``...) finds nothing when only other
        sessions exist, and destroy() of it removes nothing else.
        """
        await store.set("victim", make_session(owner="victim"))
        await store.set("a", make_session(owner="a"))
        for sid in HOSTILE_SIDS:
            assert await store.get(sid) is None, sid
            await store.destroy(sid)
        assert without_cookie(await store.get("victim")) == {"owner": "victim"}
        assert without_cookie(await store.get("a")) == {"owner": "a"}

    async def test_destroying_hostile_sids_removes_only_themselves(self, store: Store) -> None:
        """With every hostile sid stored, destroying one leaves all the others in place."""
        for sid in HOSTILE_SIDS:
            await store.set(sid, make_session(sid=sid))
        await store.set("victim", make_session(sid="victim"))
        for position, sid in enumerate(HOSTILE_SIDS):
            await store.destroy(sid)
            assert await store.get(sid) is None, sid
            for other in [*HOSTILE_SIDS[position + 1 :], "victim"]:
                assert without_cookie(await store.get(other)) == {"sid": other}, (sid, other)

    @requires("all")
    async def test_hostile_sids_are_listed_exactly(self, store: Store) -> None:
        """all() reports hostile sids exactly as they were given, each once."""
        for sid in HOSTILE_SIDS:
            await store.set(sid, make_session(sid=sid))
        listed = await store.all()
        assert sorted(listed) == sorted(HOSTILE_SIDS)
        assert all(without_cookie(session) == {"sid": sid} for sid, session in listed.items())

    @requires("touch")
    async def test_touching_hostile_sids_touches_only_themselves(self, store: Store) -> None:
        """touch() of a pattern-like sid never creates it and never extends another session."""
        await store.set("victim", make_session(owner="victim"))
        for sid in HOSTILE_SIDS:
            await store.touch(sid, make_session(owner="attacker"))
            assert await store.get(sid) is None, sid
        assert without_cookie(await store.get("victim")) == {"owner": "victim"}


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
        assert [without_cookie(s) for s in got] == [{"i": i} for i in range(n)]
        await asyncio.gather(*(store.destroy(f"c{i}") for i in range(0, n, 2)))
        got = await asyncio.gather(*(store.get(f"c{i}") for i in range(n)))
        assert [s is None for s in got] == [i % 2 == 0 for i in range(n)]

    async def test_concurrent_writes_to_one_sid_leave_one_written_value(self, store: Store) -> None:
        """Hundreds of concurrent set() on one sid end with exactly one of the written values."""
        n = self.concurrency
        await asyncio.gather(*(store.set("hot", make_session(writer=i, pad="x" * i)) for i in range(n)))
        final = without_cookie(await store.get("hot"))
        assert final is not None
        assert final in [{"writer": i, "pad": "x" * i} for i in range(n)]

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
            if result is not None:
                assert isinstance(result, dict)
                assert without_cookie(result) in written

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
            assert [without_cookie(s) for s in got] == [None if i % 2 else {"v": 2} for i in range(50)]
