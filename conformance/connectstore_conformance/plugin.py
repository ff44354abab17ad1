"""The pytest plugin (entry point ``pytest11``) that the conformance suite ships.

Installing ``connectstore-conformance`` makes pytest load this module, which registers the
suite's marker (so ``--strict-markers`` works) and makes pytest rewrite the suite's
assertions, so a failing clause shows the values it compared.
"""

from __future__ import annotations

import pytest

CAPABILITY_MARKER = "store_capability"


def pytest_configure(config: pytest.Config) -> None:
    """Register the suite's marker."""
    config.addinivalue_line(
        "markers",
        f"{CAPABILITY_MARKER}(name): the test checks an optional store capability; "
        "it reports 'not supported' for a store that does not declare it",
    )
