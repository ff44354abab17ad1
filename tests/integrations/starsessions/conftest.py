"""The starsessions harness fixtures: one on MemoryStore, one per kind of store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integrations.starsessions.app import Harness, harness
from tests.integrations.stores import STORE_KINDS


@pytest.fixture
def memory(tmp_path: Path) -> Iterator[Harness]:
    with harness("memory", tmp_path) as h:
        yield h


@pytest.fixture(params=STORE_KINDS)
def each_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    with harness(request.param, tmp_path) as h:
        yield h
