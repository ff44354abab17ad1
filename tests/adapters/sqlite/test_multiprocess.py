"""Several processes writing one SQLite file: no lock error, no lost write."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from connectstore_sqlite import SQLiteStore

from .helpers import raw_rows
from .mixed_worker import ready_file

REPO = Path(__file__).resolve().parents[2]
WORKERS = 4
OPS = 2000


def start_workers(db: Path, go_file: Path) -> list[subprocess.Popen[str]]:
    return [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.adapters.sqlite.mixed_worker",
                str(db),
                str(w),
                str(OPS),
                str(go_file),
            ],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for w in range(WORKERS)
    ]


def wait_until_ready(workers: list[subprocess.Popen[str]], go_file: Path) -> None:
    """Wait (bounded, generously) until every worker has started and opened the store."""
    deadline = time.monotonic() + 300
    while not all(ready_file(go_file, w).exists() for w in range(WORKERS)):
        for process in workers:
            if process.poll() is not None:
                _, err = process.communicate()
                pytest.fail(f"a worker ended before it was ready: {err}")
        if time.monotonic() > deadline:
            pytest.fail("the workers did not get ready")
        time.sleep(0.02)


async def test_four_processes_mixed_operations_on_one_file(tmp_path: Path) -> None:
    db = tmp_path / "shared.db"
    go_file = tmp_path / "go"
    # the file does not exist yet: the workers create it, and switch it to WAL, all at once;
    # then each waits for the go (a slow start-up must not let one finish before another starts)
    workers = start_workers(db, go_file)
    wait_until_ready(workers, go_file)
    go_file.touch()
    reports: list[dict[str, Any]] = []
    for process in workers:
        out, err = process.communicate(timeout=300)
        assert process.returncode == 0, err
        reports.append(json.loads(out))

    assert max(r["started"] for r in reports) < min(r["ended"] for r in reports), "the workers overlapped"
    errors = [error for report in reports for error in report["errors"]]
    assert errors == [], errors[:10]
    async with SQLiteStore(db, sweep_interval=None) as store:
        for report in reports:
            for sid, data in report["expected"].items():
                got = await store.get(sid)
                app = None if got is None else {k: v for k, v in got.items() if k != "cookie"}
                assert app == data, sid
        for sid in {sid for report in reports for sid in report["last_shared"]}:
            got = await store.get(sid)
            if got is not None:  # the final state of a shared sid is some worker's last write to it
                candidates = [r["last_shared"].get(sid) for r in reports]
                assert {k: v for k, v in got.items() if k != "cookie"} in candidates, sid
        assert await store.length() == len(raw_rows(db, "SELECT sid FROM sessions"))
    assert raw_rows(db, "PRAGMA integrity_check") == [("ok",)]
