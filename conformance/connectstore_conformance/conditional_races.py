"""Real races of the optional conditional writes: ``set_if`` and ``create`` are atomic.

Many writers start at once on one event loop (``asyncio.gather``): of those that compare
against the same record, exactly one may write. A store that reads, then writes in a second
round trip (or yields to the event loop in between) lets several win and loses their writes.
"""

from __future__ import annotations

import asyncio

from connectstore import Store, Versioned
from connectstore_conformance.base import ConformanceBase, requires
from connectstore_conformance.sessions import make_session
from connectstore_conformance.verdicts import SESSION, Literal, call, violation

#: How many writers race in the one-winner checks.
RACERS = 20
#: The counter check: tasks, and increments by each.
COUNTER_TASKS = 8
COUNTER_INCREMENTS = 10


class ConditionalRaceChecks(ConformanceBase):
    """Concurrent set_if() and create(): one winner per record, no lost increment."""

    @requires("set_if")
    async def test_concurrent_set_if_on_one_version_has_one_winner(self, store: Store) -> None:
        """20 concurrent set_if() of one sid with the same version: exactly one writes (returns
        a version), the 19 others return None, and the stored session is the winner's.
        """
        await store.set("contested", make_session(writer=-1))
        versioned = await store.get_versioned("contested")
        self.expect(
            isinstance(versioned, Versioned), call("get_versioned", "contested"), "Versioned", versioned
        )
        assert isinstance(versioned, Versioned)
        results = await asyncio.gather(
            *(store.set_if("contested", make_session(writer=i), versioned.version) for i in range(RACERS))
        )
        what = f"{RACERS} concurrent {call('set_if', 'contested', SESSION, Literal('<its version>'))}"
        await self.expect_one_winner(store, "contested", what, results)

    @requires("create")
    async def test_concurrent_create_of_one_sid_has_one_winner(self, store: Store) -> None:
        """20 concurrent create() of one absent sid: exactly one stores its session (returns a
        version), the 19 others return None, and the stored session is the winner's.
        """
        results = await asyncio.gather(
            *(store.create("fresh", make_session(writer=i)) for i in range(RACERS))
        )
        await self.expect_one_winner(
            store, "fresh", f"{RACERS} concurrent {call('create', 'fresh', SESSION)}", results
        )

    async def expect_one_winner(self, store: Store, sid: str, what: str, results: list[str | None]) -> None:
        """Fail unless exactly one of the racing writes ``results`` won and ``sid`` holds its session."""
        winners = [writer for writer, result in enumerate(results) if result is not None]
        self.expect(
            len(winners) == 1,
            what,
            f"exactly one winner (a version) and {len(results) - 1} None",
            Literal(f"{len(winners)} winners (writers {winners[:10]})"),
        )
        await self.expect_data(store, sid, {"writer": winners[0]}, f"writer {winners[0]} won {what}")

    @requires("set_if")
    async def test_counter_incremented_through_set_if_loses_no_increment(self, store: Store) -> None:
        """8 tasks each add 1 to a counter 10 times, each time reading it with get_versioned()
        and writing it with set_if(), reading again on None: the counter ends at exactly 80
        (and set_if() returns None only when another write landed since the read).
        """
        await store.set("counter", make_session(count=0))
        total = COUNTER_TASKS * COUNTER_INCREMENTS
        # A task's set_if() fails only when another succeeded since its read: with every
        # success failing at most each other task once, more conflicts than this are spurious.
        bound = COUNTER_TASKS * total
        conflicts = 0

        async def increment() -> None:
            nonlocal conflicts
            for _ in range(COUNTER_INCREMENTS):
                while True:
                    current = await store.get_versioned("counter")
                    if not isinstance(current, Versioned):
                        raise violation(self.clause, call("get_versioned", "counter"), "Versioned", current)
                    current.session["count"] += 1
                    if await store.set_if("counter", current.session, current.version) is not None:
                        break
                    conflicts += 1
                    if conflicts > bound:
                        raise violation(
                            self.clause,
                            call("set_if", "counter", SESSION, Literal("<the version just read>")),
                            f"None at most {bound} times in all ({total} increments, {COUNTER_TASKS} tasks)",
                            Literal(f"None {conflicts} times"),
                            "set_if() refuses versions get_versioned() has just reported",
                        )

        await asyncio.gather(*(increment() for _ in range(COUNTER_TASKS)))
        await self.expect_data(
            store,
            "counter",
            {"count": total},
            f"{COUNTER_TASKS} tasks each incremented it {COUNTER_INCREMENTS} times (get_versioned, set_if)",
        )
