"""The suite's own strength: each deliberately broken store fails on the clause it breaks.

Each run is a real pytest run in a child process, in pytest-asyncio's default (strict)
mode with no configuration, exactly as a third-party author's project would run it.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.tools import free_port

REPO = Path(__file__).resolve().parents[2]

TEMPLATE = """
from collections.abc import AsyncIterator

import pytest_asyncio

from connectstore import Store
from connectstore_conformance import StoreConformance
from tests.conformance import broken_stores


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
}


def run_suite(pytester: pytest.Pytester, store_class: str) -> tuple[set[str], str]:
    """Run the whole suite against one broken store; return the failed test names and output."""
    if store_class == "ClearRemovesForeignData":
        make = "store = broken_stores.ClearRemovesForeignData(backend, 'sess:')"
        fixture_args = "self, backend: broken_stores.SharedBackend"
        extra = NAMESPACED
    else:
        make = f"store = broken_stores.{store_class}()"
        fixture_args = "self"
        extra = ""
    source = TEMPLATE.format(make_store=make, extra=extra).replace(
        "async def store(self)", f"async def store({fixture_args})"
    )
    pytester.makepyfile(test_broken=source)
    pytester.syspathinsert(REPO)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-W", "ignore::DeprecationWarning")
    output = result.stdout.str()
    failed = set(re.findall(r"^FAILED \S+::TestBroken::(\w+)", output, re.MULTILINE))
    return failed, output


@pytest.mark.parametrize("store_class", sorted(CASES))
def test_suite_fails_broken_store_on_the_right_clause(pytester: pytest.Pytester, store_class: str) -> None:
    failed, output = run_suite(pytester, store_class)
    missing = CASES[store_class] - failed
    assert not missing, f"{store_class}: the suite did not fail {sorted(missing)}\n{output[-3000:]}"


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
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-o", "asyncio_mode=strict")
    result.assert_outcomes(passed=43, skipped=2)


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
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-o", "asyncio_mode=auto")
    result.assert_outcomes(passed=43, skipped=2)


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
    result.assert_outcomes(passed=9)


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
    result.assert_outcomes(errors=1, skipped=44)
    output = result.stdout.str()
    assert output.count(f"127.0.0.1:{port}") >= 2, output  # the error, and the skip reasons
    assert output.count("the store could not be reached: ") == 44, output
