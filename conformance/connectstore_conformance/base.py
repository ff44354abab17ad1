"""The base class a store author subclasses, and the helpers every check uses."""

from __future__ import annotations

import asyncio
import inspect
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar, TypeVar

import pytest
import pytest_asyncio

from connectstore import Store, supports
from connectstore_conformance import reachability
from connectstore_conformance.plugin import CAPABILITY_MARKER
from connectstore_conformance.probe import PROBE_TIMEOUT, probe_store
from connectstore_conformance.sessions import make_session
from connectstore_conformance.verdicts import SESSION, attributed, call, shown, violation

NOT_SUPPORTED = "not supported"
#: Seconds added after a session's expiry (and slack) before checking that it is gone.
EXPIRY_MARGIN = 0.15
#: The fraction of a second added to the whole seconds of a short-lived session's lifetime.
#: A store that rounds lifetimes up to whole seconds (and computed the lifetime within this
#: fraction after the cookie was made) keeps the session at least ``1 - ROUNDING_FRACTION``
#: seconds too long, more than :data:`EXPIRY_MARGIN`: the expiry checks catch it every time.
ROUNDING_FRACTION = 0.4

T = TypeVar("T")


def requires(capability: str) -> pytest.MarkDecorator:
    """Mark a check as needing an optional store capability (``touch``, ``all``...)."""
    marker: pytest.MarkDecorator = getattr(pytest.mark, CAPABILITY_MARKER)(capability)
    return marker


class ConformanceBase:
    """Fixtures and knobs shared by every group of checks.

    Subclasses (the store author's test class) must provide an async fixture ``store``
    that yields a fresh, empty store and closes it afterwards. Optional:

    * ``other_store``: a fixture yielding a second store on the same backend in another
      namespace (prefix, table...), for the isolation checks of ``clear``; the default
      yields None, which reports those checks as not supported.
    * ``expiry_slack``: seconds the store may keep an expired session visible (a store
      that rounds lifetimes up to whole seconds needs 1.0).
    * ``time_scale``: multiplies every wait, for slow stores.
    * ``short_expiry``: the lifetime (seconds) of the sessions the expiry checks wait out:
      its whole seconds (scaled, at least 1) plus 0.4 s, so that a store rounding lifetimes
      up to whole seconds is caught every time; ``short_lived_attempts``: how often such a
      check stores the session again (doubling the whole seconds when the machine was too
      slow to act on the session while it was surely alive).
    * ``model_examples`` / ``model_steps``: the Hypothesis budget of the model-based check.
    """

    pytestmark: ClassVar[list[pytest.MarkDecorator]] = [pytest.mark.asyncio]
    #: The name of the clause being checked (set before each check runs).
    clause: str = "?"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Every check the suite defines reports an unexpected exception as the store's
        failure (naming the store call) or as the suite's own internal error, never mixed up.
        """
        super().__init_subclass__(**kwargs)
        if not cls.__module__.startswith("connectstore_conformance."):
            return
        for name, value in list(vars(cls).items()):
            if name.startswith("test_") and inspect.iscoroutinefunction(value):
                setattr(cls, name, attributed(value))

    @pytest.fixture(autouse=True)
    def _name_the_clause(self, request: pytest.FixtureRequest) -> None:
        """Remember which clause runs, for the failure messages."""
        self.clause = request.node.name

    def expect(self, ok: bool, what: str, expected: str, got: object, detail: str = "") -> None:
        """Fail this clause unless ``ok``: after ``what`` (a store call, see
        :func:`~connectstore_conformance.verdicts.call`) it expected ``expected`` and got ``got``.
        """
        if not ok:
            raise violation(self.clause, what, expected, got, detail)

    def expect_equal(self, what: str, got: object, expected: object, detail: str = "") -> None:
        """Fail this clause unless ``got == expected`` (``got`` came back from ``what``)."""
        self.expect(got == expected, what, shown(expected), got, detail)

    async def expect_data(self, store: Store, sid: str, expected: object, detail: str = "") -> None:
        """Fail this clause unless ``get(sid)`` returns a session holding exactly the
        application data ``expected`` (None: no session at all).
        """
        got = await store.get(sid)
        data = got if not isinstance(got, dict) else {k: v for k, v in got.items() if k != "cookie"}
        if expected is None:
            self.expect(got is None, call("get", sid), "None", got, detail)
        else:
            self.expect(
                isinstance(got, dict) and data == expected,
                call("get", sid),
                f"a session holding {shown(expected)}",
                data if isinstance(got, dict) else got,
                detail,
            )

    def short_lifetime(self) -> float:
        """The lifetime (seconds) of a short-lived session: the whole seconds of
        ``short_expiry * time_scale`` (at least 1) plus :data:`ROUNDING_FRACTION`.
        """
        return max(1, math.floor(self.short_expiry * self.time_scale)) + ROUNDING_FRACTION

    expiry_slack: ClassVar[float] = 0.0
    time_scale: ClassVar[float] = 1.0
    model_examples: ClassVar[int] = 60
    model_steps: ClassVar[int] = 30
    #: How long a "short-lived" session lives in the expiry checks, in seconds.
    short_expiry: ClassVar[float] = 1.0
    #: How many times an expiry check doubles the lifetime when the machine was too slow.
    short_lived_attempts: ClassVar[int] = 5

    @pytest.fixture(autouse=True)
    def _skip_when_store_unreachable(self, request: pytest.FixtureRequest) -> None:
        """After one check of this class found the store not there, skip the others
        (before their ``store`` fixture runs) instead of failing each the same way.

        (The other autouse fixtures request this one, so it runs before the store exists.)
        """
        why = reachability.unreachable_reason(type(self))
        if why is not None:
            pytest.skip(f"the store could not be reached: {why}")

    @pytest_asyncio.fixture(autouse=True)
    async def _probe_store_once(self, _skip_when_store_unreachable: None, store: Store) -> None:
        """The first check of this class reads from the store once: when the backend is not
        there, that check fails saying so and the class's other checks are skipped.
        """
        cls = type(self)
        if reachability.known(cls):
            return
        cause = await probe_store(store, PROBE_TIMEOUT * max(self.time_scale, 1.0))
        if cause is None:
            reachability.mark_reachable(cls)
            return
        why = f"{type(store).__name__} cannot reach its backend: {cause}"
        reachability.mark_unreachable(cls, why)
        pytest.fail(f"{why} (the other checks of {cls.__name__} are skipped)", pytrace=False)

    @pytest.fixture(autouse=True)
    def _check_capability(self, request: pytest.FixtureRequest, _skip_when_store_unreachable: None) -> None:
        marker = request.node.get_closest_marker(CAPABILITY_MARKER)
        if marker is None:
            return
        store = request.getfixturevalue("store")
        capability = marker.args[0]
        if not supports(store, capability):
            pytest.skip(f"{NOT_SUPPORTED}: {type(store).__name__} does not declare {capability!r}")

    @pytest.fixture
    def second_namespace(self, request: pytest.FixtureRequest) -> Store:
        """The author's ``other_store`` fixture, or a "not supported" skip when there is none.

        (A plain fixture, so it can resolve the author's async fixture by name.)
        """
        store: Store = author_fixture(request, "other_store", "namespaces")
        return store

    async def while_short_lived(
        self, store: Store, sid: str, during: Callable[[], Awaitable[T]], **data: Any
    ) -> tuple[T, float]:
        """Store ``sid`` as a short-lived session holding ``data`` and run ``during()`` while it
        is surely alive; return what ``during()`` returned and the monotonic time after which
        the session has surely expired (its expiry plus ``expiry_slack``, scaled).

        The session lives :meth:`short_lifetime` seconds. When the ``set`` and ``during()``
        together take longer than that (a slow, loaded machine), the session may have expired
        before ``during()`` finished, so its result would prove nothing: the attempt is
        destroyed and made again with twice the whole seconds. When the ``set`` alone took
        longer than :data:`ROUNDING_FRACTION`, a store rounding lifetimes up could escape
        detection, so the attempt is made again too (the last attempt is taken as it is).
        """
        lifetime = self.short_lifetime()
        attempts = max(1, self.short_lived_attempts)
        for attempt in range(1, attempts + 1):
            began = time.monotonic()
            session = make_session(expires_in=lifetime, **data)
            made = time.monotonic()
            await store.set(sid, session)
            stored = time.monotonic()
            result = await during()
            alive_throughout = time.monotonic() < began + lifetime
            stored_promptly = stored - began < ROUNDING_FRACTION
            if alive_throughout and (stored_promptly or attempt == attempts):
                expired_by = made + lifetime + self.expiry_slack * self.time_scale + EXPIRY_MARGIN
                return result, expired_by
            await store.destroy(sid)
            if not alive_throughout and attempt < attempts:
                lifetime = 2 * math.floor(lifetime) + ROUNDING_FRACTION
        pytest.fail(
            f"{self.clause}: storing a session ({call('set', sid, SESSION)}) and acting on it took "
            f"longer than its {lifetime:g} s lifetime {attempts} times: the machine is too slow for "
            "this check (raise time_scale)"
        )

    async def wait_until(self, moment: float) -> None:
        """Sleep until the monotonic time ``moment`` (returned by :meth:`while_short_lived`)."""
        await asyncio.sleep(max(0.0, moment - time.monotonic()))


def same_json(left: Any, right: Any) -> bool:
    """Equality that also tells ``1`` from ``True`` and ``1.0`` from ``"1.0"``, as JSON does."""
    if isinstance(left, bool) or isinstance(right, bool):
        return type(left) is type(right) and left == right
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(same_json(left[k], right[k]) for k in left)
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(same_json(a, b) for a, b in zip(left, right, strict=True))
    return bool(left == right)


def author_fixture(request: pytest.FixtureRequest, name: str, enables: str) -> Any:
    """The store author's optional fixture ``name``, or a "not supported" skip naming what it
    ``enables`` when the author provides none.
    """
    try:
        return request.getfixturevalue(name)
    except pytest.FixtureLookupError:
        pytest.skip(f"{NOT_SUPPORTED}: no {name} fixture ({enables})")
