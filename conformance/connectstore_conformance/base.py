"""The base class a store author subclasses, and the helpers every check uses."""

from __future__ import annotations

import asyncio
import time
from typing import Any, ClassVar

import pytest

from connectstore import Store, supports
from connectstore_conformance.plugin import CAPABILITY_MARKER

NOT_SUPPORTED = "not supported"


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
    * ``model_examples`` / ``model_steps``: the Hypothesis budget of the model-based check.
    """

    pytestmark: ClassVar[list[pytest.MarkDecorator]] = [pytest.mark.asyncio]

    expiry_slack: ClassVar[float] = 0.0
    time_scale: ClassVar[float] = 1.0
    model_examples: ClassVar[int] = 60
    model_steps: ClassVar[int] = 30
    #: How long a "short-lived" session lives in the expiry checks, in seconds.
    short_expiry: ClassVar[float] = 1.0

    @pytest.fixture(autouse=True)
    def _check_capability(self, request: pytest.FixtureRequest) -> None:
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
        try:
            store: Store = request.getfixturevalue("other_store")
        except pytest.FixtureLookupError:
            pytest.skip(f"{NOT_SUPPORTED}: no other_store fixture (namespaces)")
        return store

    async def wait_past_expiry(self, started: float) -> None:
        """Sleep until a session made at ``started`` with ``short_expiry`` has surely expired."""
        deadline = started + (self.short_expiry + self.expiry_slack) * self.time_scale + 0.15
        await asyncio.sleep(max(0.0, deadline - time.monotonic()))

    def short_lived(self) -> float:
        """Lifetime in seconds to give a session that a check then waits out."""
        return self.short_expiry * self.time_scale


def same_json(left: Any, right: Any) -> bool:
    """Equality that also tells ``1`` from ``True`` and ``1.0`` from ``"1.0"``, as JSON does."""
    if isinstance(left, bool) or isinstance(right, bool):
        return type(left) is type(right) and left == right
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(same_json(left[k], right[k]) for k in left)
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(same_json(a, b) for a, b in zip(left, right, strict=True))
    return bool(left == right)
