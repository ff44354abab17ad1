"""The model-based check: Hypothesis drives random interleavings of every supported method
and compares the store with a reference model of the contract after each step.

Hypothesis state machines are synchronous, so the machine runs in a worker thread and hands
each store call to the test's own event loop (where the store's connections live).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Coroutine
from typing import Any, TypeGuard, TypeVar

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from connectstore import NO_VERSION, SessionData, Store, Versioned, now_ms
from connectstore.cookie import format_expires
from connectstore_conformance.base import ConformanceBase
from connectstore_conformance.sessions import make_session, without_cookie
from connectstore_conformance.verdicts import SESSION, Literal, shown, violation
from connectstore_conformance.verdicts import call as describe

T = TypeVar("T")

#: Keys of the sids the machine plays with (each example prefixes them with its own tag).
SID_KEYS = ["a", "b", "ab", "*", "a*", "?", "[ab]", "%", "_", "'", "\\", "ü✓", " "]
EXPIRIES = ["future", "none", "past"]

JSON_LEAVES = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53 - 1), max_value=2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
JSON_VALUES = st.recursive(
    JSON_LEAVES,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
APP_DATA = st.dictionaries(st.text(max_size=8).filter(lambda key: key != "cookie"), JSON_VALUES, max_size=5)


def _session(expiry: str, data: dict[str, Any]) -> SessionData:
    if expiry == "none":
        return make_session(expires_in=None, **data)
    session = make_session(expires_in=3600, **data)
    if expiry == "past":
        session["cookie"]["expires"] = format_expires(now_ms() - 60_000)
    return session


#: The key every write of the model adds to its data (longer than any key Hypothesis draws).
WRITE_KEY = "model-write"
#: What the model knows of a version it saw: the record has not changed since, it has
#: changed (or is gone), or a touch() since may or may not have rewritten it.
CURRENT, STALE, UNKNOWN = "current", "stale", "unknown"


class Versions:
    """Per key, the last version the model read or was returned, and its :data:`CURRENT`,
    :data:`STALE` or :data:`UNKNOWN` standing (every write of the model stores new bytes).
    """

    def __init__(self) -> None:
        self.seen: dict[str, tuple[str, str]] = {}

    def get(self, key: str) -> tuple[str, str]:
        """The version last seen for ``key`` and its standing (a made-up stale one if none)."""
        return self.seen.get(key, ("never-seen", STALE))

    def saw(self, key: str, version: str) -> None:
        """``version`` is the version of the record now under ``key``."""
        self.seen[key] = (version, CURRENT)

    def written(self, key: str) -> None:
        """The record under ``key`` was replaced or removed."""
        if key in self.seen:
            self.seen[key] = (self.seen[key][0], STALE)

    def touched(self, key: str) -> None:
        """A touch() may have rewritten the record under ``key`` (or kept its bytes)."""
        version, status = self.get(key)
        if status == CURRENT:
            self.seen[key] = (version, UNKNOWN)

    def current_keys(self) -> list[str]:
        """The keys whose version the model knows to be their record's, in a stable order."""
        return sorted(key for key, (_, status) in self.seen.items() if status == CURRENT)

    def cleared(self) -> None:
        """Every record was removed."""
        for key in list(self.seen):
            self.written(key)


def is_version(value: object) -> TypeGuard[str]:
    """Whether ``value`` is the version of a record: a non-empty str."""
    return isinstance(value, str) and value != NO_VERSION


def store_state_machine(store: Store, loop: asyncio.AbstractEventLoop, timeout: float = 30.0) -> type:
    """A Hypothesis state machine class checking ``store`` (running on ``loop``) against a model."""
    capabilities = store.capabilities

    def call(coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, loop).result(timeout)

    class StoreModel(RuleBasedStateMachine):
        """sid -> application data, as the contract says the store must hold it."""

        def __init__(self) -> None:
            super().__init__()
            self.tag = f"model-{uuid.uuid4().hex[:10]}-"
            self.model: dict[str, dict[str, Any]] = {}
            self.versions = Versions()
            self.writes = 0

        def sid(self, key: str) -> str:
            return self.tag + key

        def unique(self, data: dict[str, Any]) -> dict[str, Any]:
            """``data`` marked with the number of this write: no two writes store the same bytes."""
            self.writes += 1
            return {**data, WRITE_KEY: self.writes}

        @rule(key=st.sampled_from(SID_KEYS), data=APP_DATA, expiry=st.sampled_from(EXPIRIES))
        def set(self, key: str, data: dict[str, Any], expiry: str) -> None:
            data = self.unique(data)
            call(store.set(self.sid(key), _session(expiry, data)))
            self.versions.written(key)
            if expiry == "past":
                self.model.pop(key, None)
            else:
                self.model[key] = data

        @rule(key=st.sampled_from(SID_KEYS))
        def get(self, key: str) -> None:
            sid = self.sid(key)
            got = call(store.get(sid))
            expected = self.model.get(key)
            assert without_cookie(got) == expected, (
                f"{describe('get', sid)}: expected {shown(expected) if expected is not None else 'None'} "
                f"(the model's data), got {shown(without_cookie(got) if isinstance(got, dict) else got)}"
            )

        @rule(key=st.sampled_from(SID_KEYS))
        def destroy(self, key: str) -> None:
            call(store.destroy(self.sid(key)))
            self.model.pop(key, None)
            self.versions.written(key)

        @precondition(lambda self: "touch" in capabilities)
        @rule(key=st.sampled_from(SID_KEYS), data=APP_DATA, expiry=st.sampled_from(EXPIRIES))
        def touch(self, key: str, data: dict[str, Any], expiry: str) -> None:
            call(store.touch(self.sid(key), _session(expiry, data)))
            if expiry == "past":
                self.model.pop(key, None)
                self.versions.written(key)
            elif key in self.model:
                self.versions.touched(key)

        @precondition(lambda self: "clear" in capabilities)
        @rule()
        def clear(self) -> None:
            call(store.clear())
            self.model.clear()
            self.versions.cleared()

        @precondition(lambda self: "all" in capabilities)
        @rule()
        def all(self) -> None:
            listed = call(store.all())
            got = {sid: without_cookie(s) for sid, s in listed.items()}
            expected = {self.sid(key): data for key, data in self.model.items()}
            assert got == expected, f"all(): expected {shown(expected)} (the model), got {shown(got)}"

        @precondition(lambda self: "ids" in capabilities)
        @rule()
        def ids(self) -> None:
            async def collect() -> list[str]:
                return [sid async for sid in store.ids()]

            got = sorted(call(collect()))
            expected = sorted(self.sid(key) for key in self.model)
            assert got == expected, f"ids(): expected {shown(expected)} (the model), got {shown(got)}"

        @precondition(lambda self: "length" in capabilities)
        @invariant()
        def length_matches_model(self) -> None:
            got = call(store.length())
            assert got == len(self.model), f"length(): expected {len(self.model)} (the model), got {got!r}"

        @precondition(lambda self: "get_versioned" in capabilities)
        @rule(key=st.sampled_from(SID_KEYS))
        def get_versioned(self, key: str) -> None:
            sid = self.sid(key)
            got = call(store.get_versioned(sid))
            expected = self.model.get(key)
            what = describe("get_versioned", sid)
            if expected is None:
                assert got is None, f"{what}: expected None (the model holds no session), got {shown(got)}"
                return
            assert isinstance(got, Versioned), (
                f"{what}: expected Versioned(session, version), got {shown(got)}"
            )
            assert is_version(got.version), (
                f"{what}: expected Versioned(session, <a non-empty str version>), got {shown(got)}"
            )
            data = without_cookie(got.session)
            assert data == expected, (
                f"{what}: expected {shown(expected)} (the model's data), got {shown(data)}"
            )
            known, status = self.versions.get(key)
            assert status != CURRENT or got.version == known, (
                f"{what}: expected the version {shown(known)} it had when last read or written (nothing "
                f"changed the record since), got {shown(got.version)}"
            )
            self.versions.saw(key, got.version)

        @precondition(lambda self: "set_if" in capabilities)
        @rule(
            key=st.sampled_from(SID_KEYS),
            follow=st.integers(0, len(SID_KEYS)),
            data=APP_DATA,
            expiry=st.sampled_from(EXPIRIES),
            which=st.sampled_from(["known", "known", "known", NO_VERSION, "made-up-version"]),
        )
        def set_if(self, key: str, follow: int, data: dict[str, Any], expiry: str, which: str) -> None:
            # Most often write over a version just read or written (follow > 0): with 13 keys
            # drawn at random, a read and a write of the same key would seldom meet.
            current = self.versions.current_keys()
            if follow and current:
                key = current[follow % len(current)]
            data = self.unique(data)
            version, status = self.versions.get(key) if which == "known" else (which, STALE)
            sid = self.sid(key)
            got = call(store.set_if(sid, _session(expiry, data), version))
            what = describe(
                "set_if", sid, Literal(f"<a session, expiry {expiry}>"), Literal(f"<a {status} version>")
            )
            if key not in self.model or status == STALE:
                why = "no session" if key not in self.model else "the record changed since that version"
                assert got is None, f"{what}: expected None ({why}), got {shown(got)}"
                return
            if got is None:
                assert status == UNKNOWN, (
                    f"{what}: expected a version (nothing changed the record since), got None"
                )
                return  # a touch since may have rewritten the record: a refusal is right then
            if expiry == "past":
                assert got == NO_VERSION, (
                    f"{what}: expected NO_VERSION (an expiry already past), got {shown(got)}"
                )
                self.model.pop(key)
                self.versions.written(key)
            else:
                assert is_version(got), f"{what}: expected the new version, got {shown(got)}"
                self.model[key] = data
                self.returned_version_is_the_records(key, got, what)

        @precondition(lambda self: "create" in capabilities)
        @rule(key=st.sampled_from(SID_KEYS), data=APP_DATA, expiry=st.sampled_from(["future", "none"]))
        def create(self, key: str, data: dict[str, Any], expiry: str) -> None:
            data = self.unique(data)
            sid = self.sid(key)
            got = call(store.create(sid, _session(expiry, data)))
            what = describe("create", sid, SESSION)
            if key in self.model:
                assert got is None, (
                    f"{what}: expected None (the model holds a session there), got {shown(got)}"
                )
                return
            assert is_version(got), f"{what}: expected a version (no session there), got {shown(got)}"
            self.model[key] = data
            self.returned_version_is_the_records(key, got, what)

        def returned_version_is_the_records(self, key: str, version: str, what: str) -> None:
            """A write's returned ``version`` is the version of the record it wrote: read
            back at once (nothing runs in between), ``get_versioned`` must report it, or the
            next ``set_if`` over it would be refused. Checked after every successful write
            rather than left to a later step on the same key to find.
            """
            self.versions.saw(key, version)
            if "get_versioned" not in capabilities:
                return
            read = call(store.get_versioned(self.sid(key)))
            reported = read.version if isinstance(read, Versioned) else read
            assert reported == version, (
                f"{what} returned the version {shown(version)}, but get_versioned() of the record it "
                f"wrote then reports {shown(reported)}: a write must return the version of the record "
                "it wrote"
            )

        def teardown(self) -> None:
            for key in SID_KEYS:
                call(store.destroy(self.sid(key)))

    return StoreModel


class ModelChecks(ConformanceBase):
    """Random interleavings of every supported method against the reference model."""

    async def test_model_based_random_interleavings(self, store: Store) -> None:
        """Hypothesis interleaves set/get/destroy/touch/clear/all/ids/length and the
        conditional writes (get_versioned/set_if/create, with current, stale and made-up
        versions) at random (hostile sids, every JSON type, future/null/past expiries); after
        every step the store agrees with a reference model of the contract, and every
        successful ``set_if``/``create`` is read back at once (``get_versioned`` must report
        the version the write returned).
        """
        machine = store_state_machine(store, asyncio.get_running_loop())
        budget = settings(
            max_examples=self.model_examples,
            stateful_step_count=self.model_steps,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        try:
            await asyncio.to_thread(run_state_machine_as_test, machine, settings=budget)
        except AssertionError as error:
            raise violation(
                self.clause,
                "the steps Hypothesis printed above (reproduced and shrunk)",
                "the store to agree with the reference model",
                Literal(str(error)),
            ) from error
