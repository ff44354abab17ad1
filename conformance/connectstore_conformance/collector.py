"""A pytest plugin loaded by ``connectstore check`` inside its pytest run: it records each
clause's outcome and writes them as JSON for the report (see :mod:`.runner`).
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import asdict, dataclass

import pytest

from connectstore_conformance.base import NOT_SUPPORTED

RESULTS_ENV = "CONNECTSTORE_CHECK_RESULTS"

GROUPS = {
    "RequiredMethodChecks": "Required methods: get, set, destroy",
    "TouchChecks": "touch (recommended)",
    "ListingChecks": "all, length, ids, items, clear (optional)",
    "ConditionalWriteChecks": "get_versioned, set_if, create (optional conditional writes)",
    "HostileSidChecks": "Hostile session ids (and ids that are no str)",
    "CloseChecks": "close() and every call after it",
    "ConcurrencyChecks": "Concurrency",
    "ConditionalRaceChecks": "Racing conditional writes: set_if, create",
    "ModelChecks": "Model-based (Hypothesis)",
    "OutageChecks": "Backend outage: fail fast, recover (needs a backend_outage fixture)",
    "CorruptRecordChecks": "Corrupt stored data (needs a corrupt_record fixture)",
    "ListingMemoryChecks": "Bounded memory of ids() and items()",
}


@dataclass
class ClauseResult:
    """The outcome of one contract clause."""

    group: str
    test: str
    clause: str
    outcome: str  # passed | failed | not supported | skipped
    message: str = ""


RESULTS: list[ClauseResult] = []
ERRORS: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Record the call phase, and setup/teardown phases that did not pass."""
    if (
        report.when == "call"
        or (report.when == "setup" and not report.passed)
        or (report.when == "teardown" and report.failed)
    ):
        RESULTS.append(_result(report))


def pytest_collectreport(report: pytest.CollectReport) -> None:
    """Record a suite that could not even be loaded."""
    if report.failed:
        ERRORS.append(str(report.longrepr))


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Write everything recorded to the file the runner named."""
    path = os.environ.get(RESULTS_ENV)
    if not path:
        return
    target_module = sys.modules.get("connectstore_conformance.check_target")
    store = getattr(target_module, "STATE", {}).get("store_name")
    with open(path, "w", encoding="utf-8") as out:
        json.dump({"store": store, "results": [asdict(r) for r in RESULTS], "errors": ERRORS}, out)


def _result(report: pytest.TestReport) -> ClauseResult:
    name = report.nodeid.rsplit("::", 1)[-1]
    base_name = name.split("[")[0]
    target_module = sys.modules.get("connectstore_conformance.check_target")
    cls = getattr(target_module, "TestStoreContract", object)
    method = getattr(cls, base_name, None)
    owner = next((c.__name__ for c in cls.__mro__ if base_name in vars(c)), "")
    group = GROUPS.get(owner, owner)
    clause = " ".join((getattr(method, "__doc__", None) or name).split())
    if report.skipped:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        reason = reason.removeprefix("Skipped: ")
        outcome = "not supported" if reason.startswith(NOT_SUPPORTED) else "skipped"
        return ClauseResult(group, name, clause, outcome, reason)
    if report.failed:
        crash = getattr(report.longrepr, "reprcrash", None)
        message = crash.message if crash is not None else str(report.longrepr)
        if report.when != "call":
            message = f"(in {report.when}) {message}"
        return ClauseResult(group, name, clause, "failed", message)
    return ClauseResult(group, name, clause, "passed")
