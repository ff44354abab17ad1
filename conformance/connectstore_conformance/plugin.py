"""The pytest plugin (entry point ``pytest11``) that the conformance suite ships.

Installing ``connectstore-conformance`` makes pytest load this module, which registers the
suite's marker (so ``--strict-markers`` works) and makes pytest rewrite the suite's
assertions, so a failing clause shows the values it compared.
"""

from __future__ import annotations

from collections.abc import Generator

import pytest

from connectstore_conformance import reachability

CAPABILITY_MARKER = "store_capability"


def pytest_configure(config: pytest.Config) -> None:
    """Register the suite's marker."""
    config.addinivalue_line(
        "markers",
        f"{CAPABILITY_MARKER}(name): the test checks an optional store capability; "
        "it reports 'not supported' for a store that does not declare it",
    )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A conformance class whose ``store`` fixture cannot even be set up because the
    backend is not there (an ``OSError`` such as ``StoreUnavailableError``, before the class
    ever reached its store) reports that once: its other checks are skipped.
    """
    report = yield
    cls = getattr(item, "cls", None)
    if (
        call.when == "setup"
        and call.excinfo is not None
        and isinstance(call.excinfo.value, OSError)
        and cls is not None
        and any(base.__name__ == "ConformanceBase" for base in cls.__mro__)
        and not reachability.known(cls)
    ):
        error = call.excinfo.value
        reachability.mark_unreachable(cls, f"{type(error).__name__}: {error}")
    return report
