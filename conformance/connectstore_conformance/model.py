"""The model-based check: Hypothesis drives random interleavings of every supported method
and compares the store with a reference model of the contract after each step.

Hypothesis state machines are synchronous, so the machine runs in a worker thread and hands
each store call to the test's own event loop (where the store's connections live).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Coroutine
from typing import Any, TypeVar

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from connectstore import SessionData, Store, now_ms
from connectstore.cookie import format_expires
from connectstore_conformance.base import ConformanceBase
from connectstore_conformance.sessions import make_session, without_cookie
from connectstore_conformance.verdicts import Literal, shown, violation
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

        def sid(self, key: str) -> str:
            return self.tag + key

        @rule(key=st.sampled_from(SID_KEYS), data=APP_DATA, expiry=st.sampled_from(EXPIRIES))
        def set(self, key: str, data: dict[str, Any], expiry: str) -> None:
            call(store.set(self.sid(key), _session(expiry, data)))
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

        @precondition(lambda self: "touch" in capabilities)
        @rule(key=st.sampled_from(SID_KEYS), data=APP_DATA, expiry=st.sampled_from(EXPIRIES))
        def touch(self, key: str, data: dict[str, Any], expiry: str) -> None:
            call(store.touch(self.sid(key), _session(expiry, data)))
            if expiry == "past":
                self.model.pop(key, None)

        @precondition(lambda self: "clear" in capabilities)
        @rule()
        def clear(self) -> None:
            call(store.clear())
            self.model.clear()

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

        def teardown(self) -> None:
            for key in SID_KEYS:
                call(store.destroy(self.sid(key)))

    return StoreModel


class ModelChecks(ConformanceBase):
    """Random interleavings of every supported method against the reference model."""

    async def test_model_based_random_interleavings(self, store: Store) -> None:
        """Hypothesis interleaves set/get/destroy/touch/clear/all/ids/length at random (hostile
        sids, every JSON type, future/null/past expiries); after every step the store agrees
        with a reference model of the contract.
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
