"""The outage, corrupt-data and memory clauses fail the stores that break them, pass the
correct ones, and report "not supported" without the fixtures they need.

Each run is a real pytest run in a child process (pytest-asyncio's strict mode, no
configuration), as a third-party author's project would run the suite.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

OUTAGE_CLAUSES = {
    "test_backend_outage_fails_fast_with_store_unavailable",
    "test_backend_outage_store_recovers_with_acknowledged_data",
}
CORRUPT_CLAUSES = {
    "test_corrupt_record_get_raises_session_decode_error",
    "test_corrupt_record_leaves_other_sessions_working",
}
MEMORY_CLAUSES = {"test_listings_stream_in_bounded_memory"}
NEW_CLAUSES = OUTAGE_CLAUSES | CORRUPT_CLAUSES | MEMORY_CLAUSES

TEMPLATE = """
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from connectstore_conformance import StoreConformance
from tests.conformance import broken_resilience


class TestBroken(StoreConformance):
    outage_bound = 2.0
    recovery_bound = 3.0
    memory_sessions = 5_000

    @pytest_asyncio.fixture
    async def store(self) -> AsyncIterator[broken_resilience.MemoryStore]:
        store = broken_resilience.{store_class}()
        yield store
        await store.close()
{fixtures}
"""

OUTAGE_FIXTURE = """
    @pytest.fixture
    def backend_outage(self, store):
        return broken_resilience.outage_of(store)
"""

CORRUPT_FIXTURE = """
    @pytest.fixture
    def corrupt_record(self, store):
        return broken_resilience.corrupter_of(store)
"""

#: store class -> (its fixtures, the new clauses it must fail)
CASES: dict[str, tuple[str, set[str]]] = {
    "HangsWhileDown": (OUTAGE_FIXTURE, OUTAGE_CLAUSES),
    "StaysBrokenAfterRecovery": (
        OUTAGE_FIXTURE,
        {"test_backend_outage_store_recovers_with_acknowledged_data"},
    ),
    "HidesOutageAsMissing": (OUTAGE_FIXTURE, {"test_backend_outage_fails_fast_with_store_unavailable"}),
    "CrashesOnCorruptData": (CORRUPT_FIXTURE, CORRUPT_CLAUSES),
    "ListsEverythingAtOnce": ("", MEMORY_CLAUSES),
}


def run_new_clauses(pytester: pytest.Pytester, store_class: str, fixtures: str) -> tuple[dict[str, str], str]:
    """Run the new clauses against ``store_class``; return each clause's outcome and the output."""
    pytester.makepyfile(test_broken=TEMPLATE.format(store_class=store_class, fixtures=fixtures))
    pytester.syspathinsert(REPO)
    result = pytester.runpytest_subprocess(
        "-p",
        "no:cacheprovider",
        "-o",
        "asyncio_mode=strict",
        "-v",
        "-rs",
        "-k",
        " or ".join(sorted(NEW_CLAUSES)),
    )
    output = result.stdout.str()
    outcomes = dict(re.findall(r"::TestBroken::(\w+) (PASSED|FAILED|SKIPPED|ERROR)", output))
    skipped = re.findall(r"^SKIPPED \[\d+\] \S+: (.*)$", output, re.MULTILINE)
    return outcomes | {f"skip reason {i}": reason for i, reason in enumerate(skipped)}, output


@pytest.mark.parametrize("store_class", sorted(CASES))
def test_each_broken_store_fails_its_clause(pytester: pytest.Pytester, store_class: str) -> None:
    fixtures, expected = CASES[store_class]
    outcomes, output = run_new_clauses(pytester, store_class, fixtures)
    wrong = {clause: outcomes.get(clause) for clause in expected if outcomes.get(clause) != "FAILED"}
    assert not wrong, f"{store_class}: these clauses did not fail: {wrong}\n{output[-4000:]}"


def test_the_correct_stores_pass_every_new_clause(pytester: pytest.Pytester) -> None:
    """OutageAware (fails fast, recovers) with both fixtures passes all five new clauses."""
    outcomes, output = run_new_clauses(pytester, "OutageAware", OUTAGE_FIXTURE + CORRUPT_FIXTURE)
    wrong = {clause: outcomes.get(clause) for clause in NEW_CLAUSES if outcomes.get(clause) != "PASSED"}
    assert not wrong, f"the correct store did not pass: {wrong}\n{output[-4000:]}"


def test_without_the_fixtures_the_clauses_are_not_supported(pytester: pytest.Pytester) -> None:
    outcomes, output = run_new_clauses(pytester, "OutageAware", "")
    for clause in OUTAGE_CLAUSES | CORRUPT_CLAUSES:
        assert outcomes.get(clause) == "SKIPPED", f"{clause}: {outcomes.get(clause)}\n{output[-4000:]}"
    reasons = [value for key, value in outcomes.items() if key.startswith("skip reason")]
    assert any("not supported: no backend_outage fixture" in reason for reason in reasons), output[-4000:]
    assert any("not supported: no corrupt_record fixture" in reason for reason in reasons), output[-4000:]
    assert outcomes.get("test_listings_stream_in_bounded_memory") == "PASSED", output[-4000:]


def test_a_store_without_listings_reports_memory_clause_not_supported(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_plain="""
from collections.abc import AsyncIterator
import pytest_asyncio
from connectstore import MemoryStore
from connectstore_conformance import StoreConformance

class NoListings(MemoryStore):
    capabilities = frozenset({"touch"})

class TestPlain(StoreConformance):
    @pytest_asyncio.fixture
    async def store(self) -> AsyncIterator[MemoryStore]:
        yield NoListings()
"""
    )
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-o", "asyncio_mode=strict", "-rs", "-k", "bounded_memory"
    )
    result.assert_outcomes(skipped=1)
    assert "not supported: the store declares neither ids nor items" in result.stdout.str()
