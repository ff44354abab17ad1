"""``connectstore check``: the report, the exit status, --json, targets and the safety rule."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FAST = ["--time-scale", "0.3", "--examples", "5"]


def check(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    """``connectstore check ARGS`` run from ``cwd`` (where a module:factory target is found)."""
    return subprocess.run(
        [sys.executable, "-m", "connectstore.cli", "check", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_memory_store_passes_with_a_readable_report() -> None:
    result = check("memory://")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "connectstore check: MemoryStore (memory://)"
    assert lines[-1] == "43 passed, 0 failed, 2 skipped"
    assert "Required methods: get, set, destroy" in result.stdout
    assert "  PASS  get() of a sid that was never set returns None, not an error." in lines
    assert (
        "  N/S   clear() of one store leaves the sessions of another namespace on the same backend." in lines
    )


def test_a_broken_store_fails_with_the_clause_and_the_reason(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    result = check("tests.conformance.broken_stores:TouchRewritesData", "--json", str(report), *FAST)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "  FAIL  touch() with different application data changes only the expiry, never the data." in (
        result.stdout.splitlines()
    )
    assert "views" in result.stdout  # the compared values are shown
    assert result.stdout.splitlines()[-1] == "42 passed, 1 failed, 2 skipped"
    data = json.loads(report.read_text())
    assert data["store"] == "TouchRewritesData"
    assert (data["passed"], data["failed"], data["skipped"]) == (42, 1, 2)
    failed = [r for r in data["results"] if r["outcome"] == "failed"]
    assert [r["test"] for r in failed] == ["test_touch_never_changes_application_data"]
    assert failed[0]["group"] == "touch (recommended)"


def test_a_store_without_optional_methods_reports_not_supported() -> None:
    result = check("tests.test_store_base:MinimalStore", *FAST)
    assert result.returncode == 1  # MinimalStore keeps caller dicts and ignores expiry: it must fail
    assert (
        "N/S   touch() of a sid that does not exist is a no-op: it never creates a session." in result.stdout
    )
    assert "(not supported: MinimalStore does not declare 'touch')" in result.stdout


def test_an_async_factory_target(tmp_path: Path) -> None:
    (tmp_path / "my_factory.py").write_text(
        "from connectstore import MemoryStore\n\nasync def make():\n    return MemoryStore()\n"
    )
    result = check("my_factory:make", *FAST, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_non_empty_store_is_refused_unless_clear_is_allowed(tmp_path: Path) -> None:
    (tmp_path / "prefilled.py").write_text(
        "import asyncio\nfrom connectstore import MemoryStore\n\n"
        "async def make():\n    store = MemoryStore()\n"
        "    await store.set('precious', {'cookie': {'expires': None}, 'keep': True})\n    return store\n"
    )
    refused = check("prefilled:make", *FAST, cwd=tmp_path)
    assert refused.returncode == 1
    assert (
        "already holds 1 sessions; point the check at an empty namespace, or pass --clear" in refused.stdout
    )
    allowed = check("prefilled:make", "--clear", *FAST, cwd=tmp_path)
    assert allowed.returncode == 0, allowed.stdout


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("nope://x", "no store is installed for nope://"),
        ("no_such_module:make", "cannot import 'no_such_module'"),
        ("tests.conformance.broken_stores:Missing", "has no attribute 'Missing'"),
        ("just-a-word", "neither a store URL"),
        ("os:getcwd", "returned str, not a connectstore.Store"),
    ],
)
def test_bad_targets_exit_2_with_a_message(target: str, message: str) -> None:
    result = check(target, *FAST)
    assert result.returncode == 2
    assert message in result.stdout


def test_schemes_lists_memory() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "connectstore.cli", "schemes"], capture_output=True, text=True, check=True
    )
    assert "memory://  connectstore.urls:open_memory_store" in result.stdout


def test_no_target_checks_the_embedded_sqlite_store_on_a_temp_file() -> None:
    result = check(*FAST)
    assert result.returncode == 0, result.stdout + result.stderr
    first = result.stdout.splitlines()[0]
    assert first.startswith("connectstore check: SQLiteStore (sqlite:///")
    assert first.endswith("/connectstore-check.db)")
    assert result.stdout.splitlines()[-1] == "43 passed, 0 failed, 2 skipped"
