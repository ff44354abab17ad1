"""The suite's strength on the optional conditional writes: each deliberately broken
get_versioned / set_if / create (tests/conformance/broken_conditional.py) fails exactly the
clauses it breaks, and the model-based clause can find them by itself.

Each run is a real pytest run in a child process (see test_suite_strength.py).
"""

from __future__ import annotations

import pytest

from tests.conformance.test_suite_strength import CONDITIONAL_STORES, run_suite, run_suites

MODEL = "test_model_based_random_interleavings"
#: The broken conditional writes (tests/conformance/broken_conditional.py), run with the
#: ``corrupt_record`` fixture: store -> the clauses it must fail. Each fails those and no
#: other clause, except the model-based one, which may catch it too (depending on the steps
#: Hypothesis draws; test_the_model_catches_broken_conditional_writes makes sure it can).
CONDITIONAL = {
    "GetVersionedDropsTheCookie": {"test_get_versioned_agrees_with_get"},
    "GetVersionedIgnoresExpiry": {"test_get_versioned_of_an_expired_session_is_none"},
    "VersionCountsReads": {
        "test_version_is_stable_while_the_record_is_unchanged",
        "test_set_if_with_the_current_version_writes",
        "test_conditional_writes_refuse_unstorable_values",
        "test_create_stores_a_session_where_none_is",
        "test_create_over_a_live_session_returns_none",
        "test_conditional_writes_of_hostile_sids_touch_only_themselves",
    },
    "VersionBlindToTouch": {"test_version_changes_with_every_write_that_changes_the_record"},
    "SetIfReturnsStaleVersion": {"test_set_if_with_the_current_version_writes"},
    "SetIfIgnoresVersion": {
        "test_set_if_with_a_stale_version_writes_nothing",
        "test_set_if_after_destroy_never_brings_the_session_back",
        "test_set_if_over_an_expired_session_returns_none",
        "test_set_if_with_a_past_expiry_deletes_the_matching_record",
        "test_conditional_writes_of_hostile_sids_touch_only_themselves",
        "test_concurrent_set_if_on_one_version_has_one_winner",
        "test_corrupt_record_counts_as_present_for_conditional_writes",
    },
    "SetIfResurrectsDestroyed": {
        "test_set_if_after_destroy_never_brings_the_session_back",
        "test_set_if_over_an_expired_session_returns_none",
    },
    "SetIfSeesExpiredRecords": {"test_set_if_over_an_expired_session_returns_none"},
    "SetIfPastExpiryKeepsRecord": {"test_set_if_with_a_past_expiry_deletes_the_matching_record"},
    "SetIfNotAtomic": {
        "test_concurrent_set_if_on_one_version_has_one_winner",
        "test_counter_incremented_through_set_if_loses_no_increment",
    },
    "CreateClaimsBeforeSerializing": {"test_conditional_writes_refuse_unstorable_values"},
    "CreateReturnsStatus": {"test_create_stores_a_session_where_none_is"},
    "CreateOverwrites": {
        "test_create_over_a_live_session_returns_none",
        "test_concurrent_create_of_one_sid_has_one_winner",
        "test_corrupt_record_counts_as_present_for_conditional_writes",
    },
    "CreateNotAtomic": {"test_concurrent_create_of_one_sid_has_one_winner"},
    "CreateSeesExpiredRecords": {"test_create_over_an_expired_session_succeeds"},
    "CreateRefusesDestroyedSids": {
        "test_create_after_destroy_succeeds",
        "test_corrupt_record_counts_as_present_for_conditional_writes",
    },
    "CreateTreatsCorruptAsAbsent": {"test_corrupt_record_counts_as_present_for_conditional_writes"},
    "CreateGlobMatchingSids": {"test_conditional_writes_of_hostile_sids_touch_only_themselves"},
    "ConditionalAttributeErrorForNonStrSid": {"test_a_sid_that_is_not_a_str_raises_type_error"},
    "ConditionalFailsAfterClose": {"test_every_method_works_after_close"},
    "ConditionalHidesOutage": {"test_backend_outage_fails_fast_with_store_unavailable"},
}


def test_every_broken_conditional_store_is_checked() -> None:
    assert set(CONDITIONAL) == CONDITIONAL_STORES


@pytest.fixture(scope="module")
def conditional_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[set[str], str]]:
    """Every broken store of :data:`CONDITIONAL` run through the whole suite, once per module."""
    return run_suites(sorted(CONDITIONAL), tmp_path_factory.mktemp("conditional-strength"))


@pytest.mark.parametrize("store_class", sorted(CONDITIONAL))
def test_suite_fails_broken_conditional_writes_on_exactly_their_clauses(
    conditional_runs: dict[str, tuple[set[str], str]], store_class: str
) -> None:
    failed, output = conditional_runs[store_class]
    missing = CONDITIONAL[store_class] - failed
    assert not missing, f"{store_class}: the suite did not fail {sorted(missing)}\n{output[-3000:]}"
    extra = failed - CONDITIONAL[store_class] - {MODEL}
    assert not extra, f"{store_class}: the suite also failed {sorted(extra)}\n{output[-3000:]}"


@pytest.mark.parametrize(
    "store_class",
    [
        "SetIfReturnsStaleVersion",
        "SetIfResurrectsDestroyed",
        "CreateReturnsStatus",
        "CreateRefusesDestroyedSids",
    ],
)
def test_the_model_catches_broken_conditional_writes(pytester: pytest.Pytester, store_class: str) -> None:
    """With a budget of 200 examples, the model-based clause finds each of these bugs alone."""
    failed, output = run_suite(pytester, store_class, "-k", MODEL, knobs="    model_examples = 200\n")
    assert failed == {MODEL}, output[-3000:]
