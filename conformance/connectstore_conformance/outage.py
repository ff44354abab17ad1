"""Checks of a store while its backend is down and after it is back: fail fast, recover.

They need the store author's ``backend_outage`` fixture: a callable returning an async
context manager inside which the backend is away (a server killed, a file locked by
another connection...) and after which it is back (the same server restarted on the same
port, with the same data). Without it the checks report "not supported".
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any, ClassVar

import pytest

from connectstore import SessionData, Store, StoreUnavailableError, Versioned, supports
from connectstore_conformance.base import ConformanceBase, author_fixture
from connectstore_conformance.sessions import make_session

#: What the ``backend_outage`` fixture provides: ``async with backend_outage(): ...``.
Outage = Callable[[], AbstractAsyncContextManager[Any]]

#: The outcome of one call made while the backend is down: what it returned, or its error.
Outcome = tuple[str, Any]

UNAVAILABLE = "unavailable"
ANSWERED = "answered"


class CallHung(AssertionError):
    """A store call did not end within the hard bound of an outage check."""


async def bounded(what: str, call: Awaitable[Any], seconds: float) -> Outcome:
    """Run ``call`` for at most ``seconds``: ``("answered", value)`` or
    ``("unavailable", error)`` for a :class:`StoreUnavailableError`.

    Any other exception propagates (the check reports it as the store's fault). A call
    that is still running at the bound is cancelled without waiting for it to agree (a
    store that swallows the cancellation cannot hang the check) and fails the check.
    """
    task = asyncio.ensure_future(call)
    done, _ = await asyncio.wait({task}, timeout=seconds)
    if not done:
        task.cancel()
        await asyncio.wait({task}, timeout=1.0)
        raise CallHung(
            f"{what} did not end within {seconds:g} s while the backend was down: a store must fail "
            "fast with StoreUnavailableError (its own timeout), never hang its caller"
        )
    error = task.exception()
    if error is None:
        return ANSWERED, task.result()
    if isinstance(error, StoreUnavailableError):
        return UNAVAILABLE, error
    raise AssertionError(
        f"{what} raised {type(error).__name__}: {error} while the backend was down; "
        "expected StoreUnavailableError (or the right answer)"
    ) from error


async def listed(stream: AsyncIterator[Any]) -> list[Any]:
    """Everything an async listing (``ids()``/``items()``) yields."""
    return [entry async for entry in stream]


class OutageChecks(ConformanceBase):
    """The backend goes away and comes back: every call fails fast with
    ``StoreUnavailableError`` (or still answers correctly, where the backend can, e.g. a
    SQLite reader while a writer holds the lock), and then the same store works again
    with everything acknowledged before.

    Knobs: ``outage_bound``, seconds a call may take while the backend is down (the
    store's own timeout plus a margin you declare; times ``time_scale``), enforced as a
    hard bound; ``recovery_bound``, seconds the store may take to serve again once the
    backend is back (a circuit breaker's retry interval, reconnecting...).
    """

    #: Seconds one call may take while the backend is down (times ``time_scale``).
    outage_bound: ClassVar[float] = 10.0
    #: Seconds the store may take to serve again after the backend is back (times ``time_scale``).
    recovery_bound: ClassVar[float] = 30.0

    @pytest.fixture
    def outage(self, request: pytest.FixtureRequest) -> Outage:
        """The author's ``backend_outage`` fixture, or a "not supported" skip when there is none."""
        outage: Outage = author_fixture(request, "backend_outage", "fail fast and recovery")
        return outage

    def _calls(self, store: Store, version: str | None) -> dict[str, Callable[[], Awaitable[Any]]]:
        """One call of every method the store offers, reads first, then writes that leave
        the session ``"before"`` as it is (``clear`` is not called: a backend only partly
        down might honour it). ``version`` is the version of ``"before"`` (None without
        ``get_versioned``): ``set_if`` rewrites it with the very same session.
        """
        calls: dict[str, Callable[[], Awaitable[Any]]] = {"get('before')": lambda: store.get("before")}
        capabilities = store.capabilities
        if "get_versioned" in capabilities:
            calls["get_versioned('before')"] = lambda: store.get_versioned("before")
        if "all" in capabilities:
            calls["all()"] = store.all
        if "length" in capabilities:
            calls["length()"] = store.length
        if "ids" in capabilities:
            calls["ids()"] = lambda: listed(store.ids())
        if "items" in capabilities:
            calls["items()"] = lambda: listed(store.items())
        calls["set('during')"] = lambda: store.set("during", make_session(step="during"))
        calls["destroy('ghost')"] = lambda: store.destroy("ghost")
        if "set_if" in capabilities and version is not None:
            calls["set_if('before', <the same session>, <its version>)"] = lambda: store.set_if(
                "before", make_session(step="before"), version
            )
        if "create" in capabilities:
            calls["create('before')"] = lambda: store.create("before", make_session(step="other"))
        if "touch" in capabilities:
            calls["touch('before')"] = lambda: store.touch("before", make_session(step="before"))
        return calls

    def _expected(self, before: SessionData) -> dict[str, tuple[str, Callable[[Any], bool]]]:
        """The right answer of each call that answers while only ``"before"`` is stored, shown
        and as a test (a conditional write that claims a conflict hides the outage as one).
        """

        def equals(expected: object) -> tuple[str, Callable[[Any], bool]]:
            return repr(expected), lambda answer: bool(answer == expected)

        return {
            "get('before')": equals(before),
            "get_versioned('before')": (
                f"Versioned({before!r}, <a version>)",
                lambda answer: isinstance(answer, Versioned) and answer.session == before,
            ),
            "all()": equals({"before": before}),
            "length()": equals(1),
            "ids()": equals(["before"]),
            "items()": equals([("before", before)]),
            "set_if('before', <the same session>, <its version>)": (
                "its new version (a str)",
                lambda answer: isinstance(answer, str),
            ),
            "create('before')": equals(None),
        }

    async def test_backend_outage_fails_fast_with_store_unavailable(
        self, store: Store, outage: Outage
    ) -> None:
        """While the backend is down, every call ends within ``outage_bound``: with
        StoreUnavailableError, or (where the backend still serves it) the right answer;
        never another error, never a wrong answer such as None for a stored session.
        """
        before = make_session(step="before")
        await store.set("before", before)
        version = None
        if supports(store, "get_versioned"):
            versioned = await store.get_versioned("before")
            version = versioned.version if isinstance(versioned, Versioned) else None
        bound = self.outage_bound * self.time_scale
        right = self._expected(before)
        unavailable: list[str] = []
        async with outage():
            for what, call in self._calls(store, version).items():
                kind, value = await bounded(f"{type(store).__name__}.{what}", call(), bound)
                if kind == UNAVAILABLE:
                    unavailable.append(what)
                elif what in right:
                    shown, is_right = right[what]
                    assert is_right(value), (
                        f"{what} answered {value!r} while the backend was down; "
                        f"expected {shown} or StoreUnavailableError"
                    )
        assert unavailable, (
            "every call answered while the backend was down: the backend_outage fixture took "
            "nothing away, or the store hides the outage"
        )

    async def test_backend_outage_store_recovers_with_acknowledged_data(
        self, store: Store, outage: Outage
    ) -> None:
        """After the backend is back, the same store object serves again within
        ``recovery_bound`` without being rebuilt, and every write acknowledged before (and
        during) the outage is still there.
        """
        before = make_session(step="before")
        await store.set("before", before)
        bound = self.outage_bound * self.time_scale
        async with outage():
            await bounded(f"{type(store).__name__}.get('before')", store.get("before"), bound)
            during, _ = await bounded(
                f"{type(store).__name__}.set('during')",
                store.set("during", make_session(step="during")),
                bound,
            )
        deadline = time.monotonic() + self.recovery_bound * self.time_scale
        while True:
            kind, got = await bounded(f"{type(store).__name__}.get('before')", store.get("before"), bound)
            if kind == ANSWERED:
                break
            if time.monotonic() > deadline:
                pytest.fail(
                    f"get('before') still raised StoreUnavailableError "
                    f"{self.recovery_bound * self.time_scale:g} s after the backend came back "
                    f"(recovery_bound): {got}",
                    pytrace=False,
                )
            await asyncio.sleep(0.1)
        assert got == before, f"get('before') after the outage returned {got!r}; expected {before!r}"
        if during == ANSWERED:
            assert await store.get("during") is not None, (
                "set('during') was acknowledged while the backend was down, but get('during') is None after"
            )
        after = make_session(step="after")
        await store.set("after", after)
        assert await store.get("after") == after, "set('after') then get('after') failed after the outage"
        await store.destroy("after")
        assert await store.get("after") is None, "destroy('after') did not remove it after the outage"
