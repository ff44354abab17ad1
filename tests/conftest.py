"""Fixtures shared by the project's own tests."""

from __future__ import annotations

import gc
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

# A loaded 2-core CI machine can take far longer than Hypothesis's 200 ms deadline for one
# example (a generated session took 324 ms once, 0.4 ms on retry): the property tests
# check results, never speed, so no per-example deadline and no "too slow" health check.
settings.register_profile("connectstore", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("connectstore")

VECTORS = Path(__file__).parent / "vectors"


def load_vectors(name: str) -> Any:
    """One golden-data file of ``tests/vectors``."""
    return json.loads((VECTORS / name).read_text(encoding="utf-8"))


@pytest.fixture
def no_cyclic_gc() -> Iterator[None]:
    """Only reference counting frees objects while the test runs (no cyclic collection):
    what such a test sees freed was freed without the collector.
    """
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


pytest_plugins = ["pytester"]
