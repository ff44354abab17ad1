"""The engine's ``on_conflict`` policies on two requests of one session, interleaved by hand.

Each test opens the requests on the engine itself (``SessionEngine.open``, then
``commit``), so which one loads and which one writes first is exact, and runs on the real
MemoryStore. The races through HTTP are in test_conflict_races.py.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

import pytest

from connectstore import (
    MemoryStore,
    RequestInfo,
    SessionConflictError,
    SessionData,
    SessionTooLargeError,
    StoreUnavailableError,
)
from tests.engine.conflict_helpers import (
    AlwaysChangingStore,
    PlainStore,
    data_of,
    engine_for,
    open_request,
    stored_session,
)
from tests.engine.recording import RecordingStore


async def test_both_requests_changes_are_kept_and_a_key_both_changed_takes_the_later_write() -> None:
    store = MemoryStore()
    engine = engine_for(store)
    assert engine.on_conflict == "merge"  # MemoryStore has the conditional writes
    sid = await stored_session(engine, {"shared": 0, "kept": "as is"})
    first, second = await open_request(engine, sid), await open_request(engine, sid)
    assert first.session is not None
    assert second.session is not None
    first.session["shared"] = "first"
    first.session["from first"] = 1
    second.session["shared"] = "second"
    second.session["from second"] = 2
    await first.commit()
    await second.commit()  # conflicts with first's write: merged
    assert await data_of(store, sid) == {
        "shared": "second",
        "kept": "as is",
        "from first": 1,
        "from second": 2,
    }
    assert dict(second.session) == await data_of(store, sid)  # the request's session holds the merge


@pytest.mark.parametrize("deleter_first", [True, False], ids=["deleter-first", "deleter-last"])
async def test_a_deleted_key_stays_deleted(deleter_first: bool) -> None:
    store = MemoryStore()
    engine = engine_for(store)
    sid = await stored_session(engine, {"x": 1, "y": 2})
    deleter, setter = await open_request(engine, sid), await open_request(engine, sid)
    assert deleter.session is not None
    assert setter.session is not None
    del deleter.session["x"]
    setter.session["y"] = 3
    for request in (deleter, setter) if deleter_first else (setter, deleter):
        await request.commit()
    assert await data_of(store, sid) == {"y": 3}


async def test_a_nested_mutation_is_a_change_of_its_top_level_key() -> None:
    store = MemoryStore()
    engine = engine_for(store)
    sid = await stored_session(engine, {"cart": ["book"], "seen": []})
    shopper, browser = await open_request(engine, sid), await open_request(engine, sid)
    assert shopper.session is not None
    assert browser.session is not None
    shopper.session["cart"].append("pen")
    browser.session["seen"].append("page 1")
    await browser.commit()
    await shopper.commit()  # merged: its "cart", the browser's "seen"
    assert await data_of(store, sid) == {"cart": ["book", "pen"], "seen": ["page 1"]}


async def test_a_request_that_changed_nothing_writes_nothing_on_conflict() -> None:
    store = RecordingStore()
    engine = engine_for(store, resave=True)
    sid = await stored_session(engine, {"n": 1})
    reader, writer = await open_request(engine, sid), await open_request(engine, sid)
    assert reader.session is not None
    assert writer.session is not None
    writer.session["n"] = 2
    await writer.commit()
    store.calls.clear()
    await reader.commit()  # resave: set_if, which finds the writer's record
    assert store.methods() == ["set_if", "get_versioned"]  # no second write
    assert await data_of(store, sid) == {"n": 2}
    assert reader.session["n"] == 2  # it holds what is stored now


async def test_raise_policy_raises_and_the_store_keeps_the_other_write() -> None:
    store = MemoryStore()
    engine = engine_for(store, on_conflict="raise")
    sid = await stored_session(engine, {"n": 0})
    first, second = await open_request(engine, sid), await open_request(engine, sid)
    assert first.session is not None
    assert second.session is not None
    first.session["n"] = 1
    second.session["n"] = 2
    await first.commit()
    with pytest.raises(SessionConflictError) as raised:
        await second.commit()
    assert raised.value.sid == sid
    assert await data_of(store, sid) == {"n": 1}


@pytest.mark.parametrize("on_conflict", ["merge", "raise"])
async def test_a_create_conflict_raises_and_is_never_merged(on_conflict: Any) -> None:
    store = MemoryStore()
    await store.set("fixed-id", {"cookie": {"originalMaxAge": None}, "owner": "someone else"})
    engine = engine_for(store, genid=lambda request: "fixed-id", on_conflict=on_conflict)
    request = await engine.open(RequestInfo(cookie_header=None))
    assert request.session is not None
    assert request.session.id == "fixed-id"
    request.session["owner"] = "me"
    with pytest.raises(SessionConflictError) as raised:
        await request.commit()
    assert raised.value.sid == "fixed-id"
    assert await data_of(store, "fixed-id") == {"owner": "someone else"}


async def test_merge_gives_up_after_conflict_retries_attempts() -> None:
    store = AlwaysChangingStore()
    engine = engine_for(store, conflict_retries=3)
    sid = await stored_session(engine, {"n": 0})
    request = await open_request(engine, sid)
    assert request.session is not None
    request.session["n"] = 1
    reads_before = store.reads
    with pytest.raises(SessionConflictError, match="through 3 merges") as raised:
        await request.commit()
    assert raised.value.sid == sid
    assert store.reads - reads_before == 3  # one reload per attempt
    assert (await data_of(store, sid) or {}).get("n") == 0  # none of its writes stuck


async def test_merge_attempts_stop_when_store_timeout_is_spent() -> None:
    store = AlwaysChangingStore()
    engine = engine_for(store, conflict_retries=100_000, store_timeout=0.2)
    sid = await stored_session(engine, {"n": 0})
    request = await open_request(engine, sid)
    assert request.session is not None
    request.session["n"] = 1
    # The time runs out in a pause (a conflict that outlasted store_timeout) or, on a loaded
    # machine, inside one of the store calls between the pauses (that call's time is up):
    # either way the attempts stop and the request's change is not written.
    with pytest.raises((SessionConflictError, StoreUnavailableError)) as raised:
        await request.commit()
    if isinstance(raised.value, SessionConflictError):
        assert "store_timeout" in str(raised.value)
    assert store.reads < 1000  # the pauses (>= 0.5 ms each) used up the 0.2 s first
    stored = await store.get(sid)
    assert stored is not None
    assert stored["n"] == 0


async def test_merges_of_one_session_take_turns_within_store_timeout() -> None:
    store = MemoryStore()
    engine = engine_for(store, store_timeout=0.2)
    sid = await stored_session(engine, {"n": 0})
    first, second = await open_request(engine, sid), await open_request(engine, sid)
    assert first.session is not None
    assert second.session is not None
    first.session["n"] = 1
    second.session["m"] = 2
    await first.commit()

    async def wait(sid: str, turn: Awaitable[object]) -> None:
        await turn

    async with engine.merge_turns.turn(sid, wait):  # another merge of the session in progress
        assert len(engine.merge_turns) == 1
        with pytest.raises(SessionConflictError, match="other requests were merging"):
            await second.commit()  # it waited for its turn until store_timeout ran out
    assert len(engine.merge_turns) == 0
    assert await data_of(store, sid) == {"n": 1}


async def test_a_merged_session_over_max_session_bytes_is_refused() -> None:
    store = MemoryStore()
    probe = engine_for(store)
    sid = await stored_session(probe, {})
    size = len(store.serializer.dumps(await store.get(sid) or {}).encode())
    engine = engine_for(store, max_session_bytes=size + 150)
    first, second = await open_request(engine, sid), await open_request(engine, sid)
    assert first.session is not None
    assert second.session is not None
    first.session["a"] = "x" * 100  # each fits alone, not both
    second.session["b"] = "y" * 100
    await first.commit()
    with pytest.raises(SessionTooLargeError):
        await second.commit()
    assert await data_of(store, sid) == {"a": "x" * 100}


# --- the option --------------------------------------------------------------------------


class ChangedGetStore(MemoryStore):
    """A subclass changing ``get`` that inherits MemoryStore's conditional writes."""

    async def get(self, sid: str) -> SessionData | None:
        return await super().get(sid)


def test_the_default_is_merge_on_a_store_with_its_own_conditional_writes_else_overwrite() -> None:
    assert engine_for(MemoryStore()).on_conflict == "merge"
    assert engine_for(RecordingStore()).on_conflict == "merge"  # it overrides both kinds
    assert engine_for(PlainStore()).on_conflict == "overwrite"
    assert engine_for(ChangedGetStore()).on_conflict == "overwrite"  # inherited: not trusted
    assert engine_for(ChangedGetStore(), on_conflict="merge").on_conflict == "merge"  # asked for


@pytest.mark.parametrize("on_conflict", ["merge", "raise"])
def test_merge_or_raise_on_a_store_without_conditional_writes_names_what_is_missing(on_conflict: Any) -> None:
    with pytest.raises(ValueError, match="PlainStore does not declare get_versioned, set_if, create"):
        engine_for(PlainStore(), on_conflict=on_conflict)
    assert engine_for(PlainStore(), on_conflict="overwrite").on_conflict == "overwrite"


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"on_conflict": "last-write-wins"}, ValueError, "on_conflict must be"),
        ({"on_conflict": "MERGE"}, ValueError, "on_conflict must be"),
        ({"conflict_retries": -1}, ValueError, "conflict_retries must be >= 0"),
        ({"conflict_retries": 2.5}, TypeError, "conflict_retries must be an int"),
        ({"conflict_retries": True}, TypeError, "conflict_retries must be an int"),
    ],
)
def test_bad_conflict_options_are_refused(
    options: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        engine_for(MemoryStore(), **options)
