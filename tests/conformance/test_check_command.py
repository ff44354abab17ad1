"""``connectstore check``: the report, the exit status, --json, targets and the safety rule."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from connectstore_conformance import StoreConformance
from tests.tools import free_port

REPO = Path(__file__).resolve().parents[2]
FAST = ["--examples", "5"]


def clause_count() -> int:
    """How many clauses (test items) StoreConformance has, parametrized ones counted each."""
    count = 0
    for name in dir(StoreConformance):
        if name.startswith("test_"):
            marks = getattr(getattr(StoreConformance, name), "pytestmark", [])
            count += math.prod(len(mark.args[1]) for mark in marks if mark.name == "parametrize")
    return count


def assert_totals(stdout: str, *, failed: int) -> int:
    """The closing line counts every clause once, with ``failed`` failures; how many were
    skipped (N/S or SKIP lines).
    """
    lines = stdout.splitlines()
    skipped = sum(line.startswith(("  N/S ", "  SKIP ")) for line in lines)
    passed = clause_count() - failed - skipped
    assert sum(line.startswith("  PASS ") for line in lines) == passed, stdout
    closing = f"{passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else "")
    assert lines[-1] == closing, stdout
    return skipped


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
    assert_totals(result.stdout, failed=0)
    assert "Required methods: get, set, destroy" in result.stdout
    assert "  PASS  get() of a sid that was never set returns None, not an error." in lines
    assert (
        "  N/S   clear() of one store leaves the sessions of another namespace on the same backend." in lines
    )
    assert "get_versioned, set_if, create (optional conditional writes)" in lines
    assert "Racing conditional writes: set_if, create" in lines
    assert (
        "  PASS  set_if() of a session destroyed since its version was read (a late request after a "
        "logout) returns None and writes nothing: the session stays gone." in lines
    )


def test_a_store_whose_set_if_is_not_atomic_fails_the_race_clauses(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    result = check("tests.conformance.broken_conditional:SetIfNotAtomic", "--json", str(report), *FAST)
    assert result.returncode == 1, result.stdout + result.stderr
    data = json.loads(report.read_text())
    failed = {r["test"]: r["group"] for r in data["results"] if r["outcome"] == "failed"}
    races = "Racing conditional writes: set_if, create"
    assert failed == {
        "test_concurrent_set_if_on_one_version_has_one_winner": races,
        "test_counter_incremented_through_set_if_loses_no_increment": races,
    }, result.stdout
    assert "expected exactly one winner (a version) and 19 None, got 20 winners" in result.stdout
    assert_totals(result.stdout, failed=2)


def test_a_broken_store_fails_with_the_clause_and_the_reason(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    result = check("tests.conformance.broken_stores:TouchRewritesData", "--json", str(report), *FAST)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "  FAIL  touch() with different application data changes only the expiry, never the data." in (
        result.stdout.splitlines()
    )
    assert "views" in result.stdout  # the compared values are shown
    data = json.loads(report.read_text())
    assert data["store"] == "TouchRewritesData"
    failed = {r["test"]: r for r in data["results"] if r["outcome"] == "failed"}
    # (writing the whole session back also loses racing set() calls: the race clause may fail too)
    assert set(failed) <= {
        "test_touch_never_changes_application_data",
        "test_touch_racing_set_never_undoes_the_set",
    }
    assert failed["test_touch_never_changes_application_data"]["group"] == "touch (recommended)"
    skipped = assert_totals(result.stdout, failed=len(failed))
    assert (data["passed"], data["failed"], data["skipped"]) == (
        clause_count() - len(failed) - skipped,
        len(failed),
        skipped,
    )


def test_a_store_without_optional_methods_reports_not_supported() -> None:
    result = check("tests.test_store_base:MinimalStore", *FAST)
    assert result.returncode == 1  # MinimalStore keeps caller dicts and ignores expiry: it must fail
    assert (
        "N/S   touch() of a sid that does not exist is a no-op: it never creates a session." in result.stdout
    )
    assert "(not supported: MinimalStore does not declare 'touch')" in result.stdout
    assert "(not supported: MinimalStore does not declare 'set_if')" in result.stdout
    assert "(not supported: MinimalStore does not declare 'create')" in result.stdout


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
    line = assert_one_line_exit_2(check("prefilled:make", *FAST, cwd=tmp_path))
    assert line == (
        "connectstore check: the MemoryStore at prefilled:make already holds 1 sessions; "
        "point the check at an empty namespace, or pass --clear to let it delete them"
    )
    allowed = check("prefilled:make", "--clear", *FAST, cwd=tmp_path)
    assert allowed.returncode == 0, allowed.stdout


def test_a_non_empty_second_namespace_is_refused_too(tmp_path: Path) -> None:
    (tmp_path / "prefilled.py").write_text(
        "from connectstore import MemoryStore\n\n"
        "async def make():\n    store = MemoryStore()\n"
        "    await store.set('precious', {'cookie': {'expires': None}, 'keep': True})\n    return store\n"
    )
    line = assert_one_line_exit_2(check("memory://", "--other", "prefilled:make", *FAST, cwd=tmp_path))
    assert line.startswith("connectstore check: --other: the MemoryStore at prefilled:make already holds 1 ")


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
    assert_totals(result.stdout, failed=0)


def assert_one_line_exit_2(result: subprocess.CompletedProcess[str], *expected: str) -> str:
    """The command said in one line that the store is not there, and exited 2."""
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    lines = result.stdout.splitlines()
    assert len(lines) == 1, output
    assert "FAIL" not in output, output
    assert "passed" not in output, output
    for part in expected:
        assert part in lines[0], lines[0]
    return lines[0]


def test_a_redis_server_that_is_not_there_is_one_line_and_exit_2() -> None:
    port = free_port()  # nothing listens there
    line = assert_one_line_exit_2(check(f"redis://127.0.0.1:{port}/0", *FAST))
    assert line.startswith(f"connectstore check: cannot reach the RedisStore at redis://127.0.0.1:{port}/0: ")
    assert "StoreUnavailableError" in line


def test_an_sqlite_file_that_cannot_be_opened_is_one_line_and_exit_2(tmp_path: Path) -> None:
    target = f"sqlite:///{tmp_path}/no/such/dir/x.db"
    line = assert_one_line_exit_2(check(target, *FAST))
    assert line.startswith(f"connectstore check: cannot reach the SQLiteStore at {target}: ")
    assert "StoreUnavailableError" in line
    assert not (tmp_path / "no").exists()


@pytest.mark.parametrize(
    "url",
    [
        "redis://:hunter2@127.0.0.1:{port}/0",
        "redis://alice:hunter2@127.0.0.1:{port}/0?prefix=app:",
        "redis://127.0.0.1:{port}/0?password=hunter2",
        "surrealdb+ws://root:hunter2@127.0.0.1:{port}/rpc",
        "surrealdb+ws://127.0.0.1:{port}/rpc?token=hunter2.jwt",
        "surrealdb+ws://root:hunter2@127.0.0.1:{port}/rpc?ttl=-1",  # cannot even be opened
    ],
)
def test_credentials_never_show_when_the_store_is_not_there(url: str) -> None:
    result = check(url.format(port=free_port()), *FAST)
    line = assert_one_line_exit_2(result, "***")
    assert "hunter2" not in result.stdout + result.stderr
    assert line.startswith(("connectstore check: cannot reach the ", "connectstore check: cannot open "))


def test_a_store_that_hangs_is_reported_after_the_probe_bound(tmp_path: Path) -> None:
    (tmp_path / "hanging.py").write_text(
        "import asyncio\nfrom connectstore import MemoryStore\n\n"
        "class Hanging(MemoryStore):\n"
        "    async def get(self, sid):\n        await asyncio.Event().wait()\n\n"
        "def make():\n    return Hanging()\n"
    )
    line = assert_one_line_exit_2(check("hanging:make", "--probe-timeout", "2", cwd=tmp_path))
    assert "cannot reach the Hanging at hanging:make: StoreUnavailableError: " in line
    assert "Hanging.get() did not answer within 2 s" in line


def test_a_store_that_answers_wrongly_is_checked_not_refused(tmp_path: Path) -> None:
    """Only "not there" stops the check: a store whose get() is broken gets its report."""
    (tmp_path / "wrong.py").write_text(
        "from connectstore import MemoryStore\n\n"
        "class Wrong(MemoryStore):\n"
        "    async def get(self, sid):\n        raise KeyError(sid)\n\n"
        "def make():\n    return Wrong()\n"
    )
    result = check("wrong:make", *FAST, cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "  FAIL  get() of a sid that was never set returns None, not an error." in result.stdout
