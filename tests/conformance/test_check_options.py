"""``connectstore check`` has every knob of the pytest class, and the second namespace.

Each option is proven through the real command in a subprocess: a store that passes only
when the knob reaches the suite, a real Redis under two prefixes, and a factory that records
the values the suite run ended up with.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from connectstore_conformance import StoreConformance
from connectstore_conformance.knobs import KNOBS, shown
from tests.adapters.redis.conftest import require_shared_redis
from tests.conformance import knob_stores
from tests.conformance.test_check_command import FAST, REPO, assert_one_line_exit_2, check

NAMESPACE_CLAUSES = (
    "clear() of one store leaves the sessions of another namespace on the same backend.",
    "Two namespaces on one backend keep separate sessions under the same sid.",
)


def suite_knobs() -> dict[str, float]:
    """Every knob of StoreConformance: its public int/float/bool class attributes."""
    return {
        name: getattr(StoreConformance, name)
        for name in dir(StoreConformance)
        if not name.startswith("_") and type(getattr(StoreConformance, name)) in (int, float, bool)
    }


def test_every_knob_of_the_pytest_class_is_an_option() -> None:
    assert sorted(knob.attribute for knob in KNOBS) == sorted(suite_knobs())


def test_help_lists_every_option_with_the_suite_default() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "connectstore.cli", "check", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    text = " ".join(result.stdout.split())  # argparse wraps the help to the terminal
    for knob in KNOBS:
        default = getattr(StoreConformance, knob.attribute)
        assert f"{knob.option} {knob.metavar} {knob.help} (default {shown(default)})" in text, knob
    assert "--other TARGET a second store URL or module:factory on the same backend" in text


@pytest.mark.parametrize("document", ["docs/command-line.md", "docs/writing-a-store.md"])
def test_every_option_is_documented(document: str) -> None:
    text = (REPO / document).read_text()
    for option in ["--other TARGET", *(f"{knob.option} {knob.metavar}" for knob in KNOBS)]:
        assert f"`{option}`" in text or f"{option}`," in text, (document, option)


def test_every_knob_reaches_the_suite(tmp_path: Path) -> None:
    record = tmp_path / "knobs.json"
    given = {
        "--expiry-slack": "1.5",
        "--time-scale": "1.25",
        "--short-expiry": "1.75",
        "--short-lived-attempts": "4",
        "--concurrency": "30",
        "--examples": "3",
        "--steps": "7",
        "--memory-sessions": "300",
        "--outage-bound": "12.5",
        "--recovery-bound": "33",
        "--close-keeps-data": "no",
    }
    assert sorted(given) == sorted(knob.option for knob in KNOBS)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "connectstore.cli",
            "check",
            "tests.conformance.knob_stores:record_knobs",
            *(part for pair in given.items() for part in pair),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, knob_stores.KNOB_RECORD_ENV: str(record)},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    expected = {knob.attribute: knob.parse(given[knob.option]) for knob in KNOBS}
    assert json.loads(record.read_text()) == expected


def test_concurrency_sets_how_many_operations_run_at_once() -> None:
    target = "tests.conformance.knob_stores:RefusesCrowds"
    crowded = check(target, *FAST)
    assert crowded.returncode == 1, crowded.stdout + crowded.stderr
    assert f"more than {knob_stores.CROWD_LIMIT} operations on " in crowded.stdout
    bounded = check(target, "--concurrency", str(knob_stores.CROWD_LIMIT), *FAST)
    assert bounded.returncode == 0, bounded.stdout + bounded.stderr


def test_expiry_slack_lets_a_store_keep_expired_sessions_that_long() -> None:
    result = check(
        "tests.conformance.knob_stores:LingersPastExpiry", "--expiry-slack", str(knob_stores.LINGER), *FAST
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_redis_with_a_second_prefix_runs_the_namespace_clauses(tmp_path: Path) -> None:
    """The whole suite on the real Redis: whole-second TTLs need --expiry-slack 1, and the
    second prefix (with glob characters, so an unescaped prefix would match it) given as
    --other makes the namespace clauses run.
    """
    tag = uuid.uuid4().hex[:12]
    url = require_shared_redis()
    report = tmp_path / "report.json"
    result = check(
        f"{url}?prefix=cs-check-{tag}-?:",
        "--other",
        f"{url}?prefix=cs-check-{tag}-a:",
        "--expiry-slack",
        "1",
        "--json",
        str(report),
        *FAST,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for clause in NAMESPACE_CLAUSES:
        assert f"  PASS  {clause}" in result.stdout.splitlines()
    data = json.loads(report.read_text())
    assert data["failed"] == 0
    not_supported = [r["message"] for r in data["results"] if r["outcome"] != "passed"]
    assert not [message for message in not_supported if "other_store" in message], not_supported


def test_without_other_the_namespace_clauses_are_not_supported() -> None:
    result = check("memory://", *FAST)
    assert result.returncode == 0, result.stdout + result.stderr
    for clause in NAMESPACE_CLAUSES:
        assert f"  N/S   {clause}" in result.stdout.splitlines()


def test_the_same_target_twice_is_not_a_second_namespace() -> None:
    line = assert_one_line_exit_2(check("memory://", "--other", "memory://", *FAST))
    assert (
        line == "connectstore check: --other must name another namespace than the target, not memory:// again"
    )


def test_an_unreachable_other_is_one_line_and_exit_2() -> None:
    from tests.tools import free_port

    other = f"redis://:hunter2@127.0.0.1:{free_port()}/0"
    result = check("memory://", "--other", other, *FAST)
    line = assert_one_line_exit_2(result, "--other: cannot reach the RedisStore at redis://:***@127.0.0.1:")
    assert "hunter2" not in result.stdout + result.stderr + line


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--concurrency", "0", "argument --concurrency: must be an integer >= 1, not '0'"),
        ("--expiry-slack", "-1", "argument --expiry-slack: must be a number >= 0, not '-1'"),
        ("--time-scale", "0", "argument --time-scale: must be a number > 0, not '0'"),
        ("--short-expiry", "nan", "argument --short-expiry: must be a finite number > 0, not 'nan'"),
        ("--steps", "2.5", "argument --steps: must be an integer >= 1, not '2.5'"),
        ("--probe-timeout", "0", "argument --probe-timeout: must be a finite number > 0, not '0'"),
    ],
)
def test_a_bad_knob_value_is_a_usage_error(option: str, value: str, message: str) -> None:
    result = check("memory://", option, value)
    assert result.returncode == 2
    assert message in result.stderr
    assert result.stdout == ""
