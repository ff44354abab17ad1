"""The suite's own strength: each deliberately broken store fails on the clause it breaks.

Each run is a real pytest run in a child process, in pytest-asyncio's default (strict)
mode with no configuration, exactly as a third-party author's project would run it.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from connectstore import MemoryStore
from connectstore_conformance import (
    ConcurrencyChecks,
    HostileSidChecks,
    ListingChecks,
    ModelChecks,
    RequiredMethodChecks,
    StoreConformance,
    TouchChecks,
)
from connectstore_conformance.verdicts import SuiteInternalError, attributed
from tests.conformance import broken_conditional
from tests.tools import free_port

REPO = Path(__file__).resolve().parents[2]

TEMPLATE = """
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from connectstore import Store
from connectstore_conformance import StoreConformance
from tests.conformance import broken_conditional, broken_resilience, broken_stores


class TestBroken(StoreConformance):
    model_examples = 5

    @pytest_asyncio.fixture
    async def store(self) -> AsyncIterator[Store]:
        {make_store}
        yield store
        await store.close()
{extra}
"""

NAMESPACED = """
    @pytest_asyncio.fixture
    async def backend(self) -> broken_stores.SharedBackend:
        return broken_stores.SharedBackend()

    @pytest_asyncio.fixture
    async def other_store(self, backend: broken_stores.SharedBackend) -> AsyncIterator[Store]:
        yield broken_stores.ClearRemovesForeignData(backend, "other:")
"""

CORRUPTIBLE = """
    @pytest.fixture
    def corrupt_record(self, store):
        return broken_resilience.corrupter_of(store)
"""

OUTAGE = """
    outage_bound = 2.0
    recovery_bound = 3.0

    @pytest.fixture
    def backend_outage(self, store):
        return broken_resilience.outage_of(store)
"""

CASES = {
    "ReturnsExpiredSessions": {
        "test_get_after_expiry_returns_none",
        "test_set_with_past_expiry_deletes",
        "test_set_with_expiry_one_millisecond_past_is_not_stored",
        "test_listings_exclude_expired_sessions",
    },
    "TouchRewritesData": {"test_touch_never_changes_application_data"},
    "TouchCreatesMissing": {
        "test_touch_missing_sid_does_not_create",
        "test_touch_after_destroy_does_not_resurrect",
    },
    "LengthCountsExpired": {"test_listings_exclude_expired_sessions"},
    "DestroyRaisesOnMissing": {"test_destroy_missing_sid_is_not_an_error"},
    "GetReturnsStoredObject": {
        "test_get_returns_an_independent_copy",
        "test_set_stores_a_snapshot_of_the_caller_dict",
    },
    "GlobMatchingSids": {"test_hostile_sids_never_match_other_sessions"},
    "BooleansBecomeIntegers": {"test_set_round_trips_every_json_type"},
    "ClearRemovesForeignData": {"test_clear_leaves_other_namespace_alone"},
    "TouchWritesBackOutsideTransaction": {"test_touch_racing_set_never_undoes_the_set"},
    "UpsertKeepsExpiry": {"test_set_again_replaces_the_expiry"},
    "ItemsPagingSkipsOne": {"test_items_streams_live_sessions"},
    "RoundsLifetimesUp": {
        "test_get_after_expiry_returns_none",
        "test_listings_exclude_expired_sessions",
        "test_touch_expired_session_does_not_resurrect",
        "test_touch_extends_life_past_original_expiry",
    },
    "ListingsRaiseOnCorrupt": {"test_corrupt_record_is_skipped_by_listings"},
    "FailsAfterClose": {"test_every_method_works_after_close", "test_close_twice_and_again_after_reuse"},
    "AttributeErrorForNonStrSid": {"test_a_sid_that_is_not_a_str_raises_type_error"},
}
#: Every clause of the suite (each is one test).
CLAUSES = {name for name in dir(StoreConformance) if name.startswith("test_")}
#: The clauses of the contract's core groups (not the fixture-driven outage, corruption and
#: memory clauses, which see some of the same bugs from another side).
CORE_CLAUSES = {
    name
    for group in (
        RequiredMethodChecks,
        TouchChecks,
        ListingChecks,
        HostileSidChecks,
        ConcurrencyChecks,
        ModelChecks,
    )
    for name in vars(group)
    if name.startswith("test_")
}
#: The broken stores added with the clauses that catch them fail those clauses and no other
#: of the core groups (those of the contract's decided edges: no other clause at all).
EXACTLY = {
    "TouchWritesBackOutsideTransaction",
    "UpsertKeepsExpiry",
    "ItemsPagingSkipsOne",
    "RoundsLifetimesUp",
}
EDGES = {"ListingsRaiseOnCorrupt", "FailsAfterClose", "AttributeErrorForNonStrSid"}

#: The broken conditional writes (their expectations: test_conditional_strength.py).
CONDITIONAL_STORES = {
    name
    for name, value in vars(broken_conditional).items()
    if isinstance(value, type) and value.__module__ == broken_conditional.__name__
}


def suite_source(store_class: str, knobs: str = "") -> str:
    """The test module that runs the suite against one broken store, with class attributes
    ``knobs`` (source lines).
    """
    if store_class == "ClearRemovesForeignData":
        make = "store = broken_stores.ClearRemovesForeignData(backend, 'sess:')"
        fixture_args = "self, backend: broken_stores.SharedBackend"
        extra = NAMESPACED
    elif store_class in CONDITIONAL_STORES:
        make = f"store = broken_conditional.{store_class}()"
        fixture_args = "self"
        extra = CORRUPTIBLE + (OUTAGE if store_class == "ConditionalHidesOutage" else "")
    else:
        make = f"store = broken_stores.{store_class}()"
        fixture_args = "self"
        extra = CORRUPTIBLE if store_class in EDGES else ""
    source = TEMPLATE.format(make_store=make, extra=extra).replace(
        "async def store(self)", f"async def store({fixture_args})"
    )
    return source.replace("    model_examples = 5\n", f"    model_examples = 5\n{knobs}")


PYTEST_ARGS = ("-p", "no:cacheprovider", "-W", "ignore::DeprecationWarning")


def failed_clauses(output: str) -> set[str]:
    """The clauses a run of :func:`suite_source`'s module reports as failed."""
    return set(re.findall(r"^FAILED \S+::TestBroken::(\w+)", output, re.MULTILINE))


def run_suite(
    pytester: pytest.Pytester, store_class: str, *args: str, knobs: str = ""
) -> tuple[set[str], str]:
    """Run the suite (``args`` for pytest: ``-k``...) against one broken store, with class
    attributes ``knobs`` (source lines); return the failed test names and the output.
    """
    pytester.makepyfile(test_broken=suite_source(store_class, knobs))
    pytester.syspathinsert(REPO)
    result = pytester.runpytest_subprocess(*PYTEST_ARGS, *args)
    output = result.stdout.str()
    return failed_clauses(output), output


#: How many suite runs :func:`run_suites` keeps going at once: most of a run's time is the
#: expiry clauses waiting for real time to pass, not CPU.
PARALLEL_RUNS = 4


def run_suites(store_classes: list[str], folder: Path) -> dict[str, tuple[set[str], str]]:
    """:func:`run_suite` for each store, as separate pytest processes in ``folder`` (each in
    its own subfolder, without configuration, as a third-party project runs the suite),
    :data:`PARALLEL_RUNS` at a time: store -> (failed clauses, output).
    """

    def run(store_class: str) -> tuple[set[str], str]:
        where = folder / store_class
        where.mkdir()
        (where / "test_broken.py").write_text(suite_source(store_class), encoding="utf-8")
        environment = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
        }
        environment.pop("PYTEST_ADDOPTS", None)
        result = subprocess.run(
            [sys.executable, "-m", "pytest", f"--basetemp={where / 'tmp'}", *PYTEST_ARGS],
            cwd=where,
            env=environment,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        output = result.stdout + result.stderr
        return failed_clauses(output), output

    with ThreadPoolExecutor(PARALLEL_RUNS) as pool:
        return dict(zip(store_classes, pool.map(run, store_classes), strict=True))


@pytest.fixture(scope="module")
def case_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[set[str], str]]:
    """Every broken store of :data:`CASES` run through the whole suite, once per module."""
    return run_suites(sorted(CASES), tmp_path_factory.mktemp("strength"))


@pytest.mark.parametrize("store_class", sorted(CASES))
def test_suite_fails_broken_store_on_the_right_clause(
    case_runs: dict[str, tuple[set[str], str]], store_class: str
) -> None:
    failed, output = case_runs[store_class]
    missing = CASES[store_class] - failed
    assert not missing, f"{store_class}: the suite did not fail {sorted(missing)}\n{output[-3000:]}"
    if store_class in EXACTLY | EDGES:
        extra = (failed & (CLAUSES if store_class in EDGES else CORE_CLAUSES)) - CASES[store_class]
        assert not extra, f"{store_class}: the suite also failed {sorted(extra)}\n{output[-3000:]}"


def test_a_store_rounding_lifetimes_up_passes_with_expiry_slack(pytester: pytest.Pytester) -> None:
    """The rounding that the expiry checks catch is allowed by declaring expiry_slack = 1."""
    failed, output = run_suite(pytester, "RoundsLifetimesUp", "-k", "expir", knobs="    expiry_slack = 1.0\n")
    assert not failed, output[-3000:]
    assert "passed" in output, output[-3000:]


@pytest.mark.parametrize(
    ("store_class", "clause", "pieces"),
    [
        (
            "TouchRewritesData",
            "test_touch_never_changes_application_data",
            ["get('sid')", "expected a session holding {'views': 1, 'user': {'id': 7}}", "got {'views': 999"],
        ),
        (
            "DestroyRaisesOnMissing",
            "test_destroy_missing_sid_is_not_an_error",
            ["the store call `await store.destroy(\"never-set\")` raised KeyError: 'never-set'"],
        ),
        (
            "RoundsLifetimesUp",
            "test_touch_expired_session_does_not_resurrect",
            [
                "get('sid')",
                "expected None",
                "got {'cookie':",
                "get() ignores the expiry",
                "touch() is not judged",
            ],
        ),
        (
            "UpsertKeepsExpiry",
            "test_set_again_replaces_the_expiry",
            ["get('resaved')", "expected a session holding {'a': 2}", "got None"],
        ),
        (
            "TouchWritesBackOutsideTransaction",
            "test_touch_racing_set_never_undoes_the_set",
            [
                "get('race-",
                "expected the data of the set() that raced touch('race-",
                "got {'round':",
                "were undone",
            ],
        ),
        (
            "ItemsPagingSkipsOne",
            "test_items_streams_live_sessions",
            [
                "items()",
                "expected each of the 1500 live sessions once",
                "got 1498 yielded",
                "missing: 2, e.g. '",
            ],
        ),
    ],
)
def test_failure_messages_name_clause_call_sid_expected_and_got(
    pytester: pytest.Pytester, store_class: str, clause: str, pieces: list[str]
) -> None:
    """The failure of a clause names the clause, the call with the sid as repr, what was
    expected and what came back (no bare ``assert 2 == 1``).
    """
    failed, output = run_suite(pytester, store_class, "-k", clause)
    assert failed == {clause}, output[-3000:]
    lines = [line for line in output.splitlines() if f"{clause}: " in line and line.startswith("E ")]
    assert lines, output[-3000:]
    for piece in pieces:
        assert any(piece in line for line in lines), f"{piece!r} not in {lines}"


def test_memory_store_passes_in_strict_mode_without_configuration(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_memory="""
from collections.abc import AsyncIterator
import pytest_asyncio
from connectstore import MemoryStore
from connectstore_conformance import StoreConformance

class TestMemory(StoreConformance):
    @pytest_asyncio.fixture
    async def store(self) -> AsyncIterator[MemoryStore]:
        yield MemoryStore()
"""
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-o", "asyncio_mode=strict", "-rs")
    assert_every_clause_passes_or_lacks_a_fixture(result)


def test_works_in_auto_mode_with_a_plain_fixture(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_memory="""
import pytest
from connectstore import MemoryStore
from connectstore_conformance import StoreConformance

class TestMemory(StoreConformance):
    @pytest.fixture
    async def store(self):
        yield MemoryStore()
"""
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-o", "asyncio_mode=auto", "-rs")
    assert_every_clause_passes_or_lacks_a_fixture(result)


def assert_every_clause_passes_or_lacks_a_fixture(result: pytest.RunResult) -> None:
    """Every clause of the suite ran against MemoryStore and passed, except those that need a
    fixture the test class does not provide (reported "not supported: no ... fixture").
    """
    outcomes = result.parseoutcomes()
    output = result.stdout.str()
    assert outcomes.get("passed", 0) + outcomes.get("skipped", 0) == len(CLAUSES), output[-3000:]
    assert set(outcomes) <= {"passed", "skipped"}, output[-3000:]
    reasons = re.findall(r"^SKIPPED \[\d+\] \S+: (.*)$", output, re.MULTILINE)
    assert len(reasons) == outcomes.get("skipped", 0), output[-3000:]
    assert all(re.match(r"not supported: no \w+ fixture", reason) for reason in reasons), reasons


def test_failures_show_compared_values_thanks_to_assertion_rewriting(pytester: pytest.Pytester) -> None:
    failed, output = run_suite(pytester, "TouchRewritesData")
    assert "test_touch_never_changes_application_data" in failed
    assert "'views': 999" in output or "'views': 1" in output, output[-3000:]


def test_a_slow_machine_does_not_fail_the_expiry_checks(pytester: pytest.Pytester) -> None:
    """A store whose write stalls past the short lifetime (a loaded machine) passes the
    expiry checks: they retry with a longer lifetime instead of blaming the store.
    """
    pytester.makepyfile(
        test_slow="""
from collections.abc import AsyncIterator
import pytest_asyncio
from connectstore import Store
from connectstore_conformance import StoreConformance
from tests.conformance.slow_stores import SlowFirstWrite

class TestSlow(StoreConformance):
    @pytest_asyncio.fixture
    async def store(self) -> AsyncIterator[Store]:
        yield SlowFirstWrite()
"""
    )
    pytester.syspathinsert(REPO)
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-k", "expir", "-o", "asyncio_mode=strict"
    )
    result.assert_outcomes(passed=len({name for name in CLAUSES if "expir" in name}))


UNREACHABLE = """
from collections.abc import AsyncIterator
import pytest_asyncio
from connectstore import Store, StoreUnavailableError, open_store
from connectstore_conformance import StoreConformance

class TestUnreachable(StoreConformance):
    @pytest_asyncio.fixture
    async def store(self) -> AsyncIterator[Store]:
        {body}
"""


@pytest.mark.parametrize(
    ("where", "body"),
    [
        (
            "the store's first read",
            "async with open_store('redis://127.0.0.1:{port}/0') as store:\n            yield store",
        ),
        ("the store fixture", "raise StoreUnavailableError('no server at 127.0.0.1:{port}')\n        yield"),
    ],
)
def test_a_store_that_is_not_there_is_reported_once_not_45_times(
    pytester: pytest.Pytester, where: str, body: str
) -> None:
    """When the backend is not there (found by ``where``), the first check fails saying so
    and the class's other checks are skipped, pointing at it.
    """
    port = free_port()
    pytester.makepyfile(test_unreachable=UNREACHABLE.format(body=body.format(port=port)))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rs")
    result.assert_outcomes(errors=1, skipped=len(CLAUSES) - 1)
    output = result.stdout.str()
    assert output.count(f"127.0.0.1:{port}") >= 2, output  # the error, and the skip reasons
    assert output.count("the store could not be reached: ") == len(CLAUSES) - 1, output


class RaisingGet(MemoryStore):
    """get() fails as a broken store's does."""

    async def get(self, sid: str) -> None:
        raise KeyError(sid)


def test_an_exception_under_a_store_call_blames_the_store_naming_the_call() -> None:
    checks = RequiredMethodChecks()
    clause = attributed(RequiredMethodChecks.expect_data)
    with pytest.raises(AssertionError) as raised:
        asyncio.run(clause(checks, RaisingGet(), "the-sid", None))
    assert (
        str(raised.value)
        == "expect_data: the store call `got = await store.get(sid)` raised KeyError: 'the-sid'"
    )


def test_an_exception_inside_the_suite_is_its_own_internal_error_not_the_stores() -> None:
    checks = RequiredMethodChecks()
    clause = attributed(RequiredMethodChecks.wait_until)
    with pytest.raises(SuiteInternalError) as raised:
        asyncio.run(clause(checks, "not a time"))
    message = str(raised.value)
    assert message.startswith(
        "wait_until: internal error of the conformance suite (not a fault of the store): "
    )
    assert "TypeError" in message
    assert "connectstore_conformance/base.py:" in message
