"""``connectstore check``: run the suite against one store and print a readable report.

The suite runs in a child pytest process (so pytest rewrites the suite's assertions and the
messages show the compared values); :mod:`.collector` hands the outcomes back as JSON.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO

from connectstore import redact_url, url_credentials, within
from connectstore_conformance.collector import RESULTS_ENV
from connectstore_conformance.knobs import KNOBS_ENV, KnobValue, encode_knobs
from connectstore_conformance.probe import PROBE_TIMEOUT, probe_store, unreachable_cause
from connectstore_conformance.target import (
    CLEAR_ENV,
    OTHER_ENV,
    TARGET_ENV,
    count_sessions,
    non_empty_message,
    open_target,
)

LABELS = {"passed": "PASS", "failed": "FAIL", "not supported": "N/S ", "skipped": "SKIP"}
CHECK_TARGET = Path(__file__).with_name("check_target.py")


def run_check(
    target: str,
    *,
    other: str | None = None,
    clear: bool = False,
    json_path: str | None = None,
    knobs: Mapping[str, KnobValue] | None = None,
    verbose: bool = False,
    probe_timeout: float = PROBE_TIMEOUT,
    out: TextIO = sys.stdout,
) -> int:
    """Run the whole suite against ``target``; print the report; return the exit status.

    ``other`` is a second target on the same backend in another namespace (the suite's
    ``other_store``: without it the namespace clauses are not supported); ``knobs`` sets
    class attributes of the suite (see :mod:`.knobs`, e.g. ``{"expiry_slack": 1.0}``);
    ``clear`` allows deleting sessions already in the targets.

    Exit status: 0 all passed, 1 a clause failed, 2 the suite could not run: a bad target,
    a store that cannot be opened or not read within ``probe_timeout`` seconds, or one that
    already holds sessions without ``clear``; each reported in one line, credentials masked.
    """
    encoded_knobs = encode_knobs(knobs or {})
    credentials = url_credentials(target)
    other_credentials = url_credentials(other or "")
    shown = redact_url(target)

    def scrub(text: str) -> str:
        return other_credentials.scrub(credentials.scrub(text))

    problem = asyncio.run(_preflight(target, other, clear=clear, timeout=probe_timeout))
    if problem:
        print(f"connectstore check: {scrub(problem)}", file=out)
        return 2
    with tempfile.TemporaryDirectory(prefix="connectstore-check-") as workdir:
        ini = Path(workdir, "pytest.ini")
        ini.write_text("[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n")
        results_file = Path(workdir, "results.json")
        env = {
            **os.environ,
            TARGET_ENV: target,
            OTHER_ENV: other or "",
            CLEAR_ENV: "1" if clear else "0",
            RESULTS_ENV: str(results_file),
            KNOBS_ENV: encoded_knobs,
            "PYTHONPATH": os.pathsep.join(filter(None, [os.getcwd(), os.environ.get("PYTHONPATH")])),
        }
        command = [
            sys.executable,
            "-m",
            "pytest",
            str(CHECK_TARGET),
            "-c",
            str(ini),
            "--rootdir",
            workdir,
            "-p",
            "no:cacheprovider",
            "-p",
            "connectstore_conformance.collector",
        ]
        command += ["-v"] if verbose else ["-p", "no:terminal"]
        child = subprocess.run(
            command, env=env, stdout=None if verbose else subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        if not results_file.exists():
            print(f"connectstore check: the suite did not run against {shown}", file=out)
            if child.stdout:
                print(scrub(child.stdout), file=out)
            return 2
        outcome = json.loads(scrub(results_file.read_text()))
    report(shown, outcome, out)
    if json_path:
        Path(json_path).write_text(
            json.dumps({"target": shown, **_counts(outcome), **outcome}, indent=2) + "\n"
        )
    if outcome["errors"] or not outcome["results"]:
        return 2
    return 1 if any(r["outcome"] == "failed" for r in outcome["results"]) else 0


def report(target: str, outcome: dict[str, Any], out: TextIO) -> None:
    """Print the human-readable report: each clause with its outcome, then the totals."""
    print(f"connectstore check: {outcome['store'] or '?'} ({target})", file=out)
    for error in outcome["errors"]:
        print(f"\nERROR while loading the suite:\n{textwrap.indent(error, '  ')}", file=out)
    group = None
    for result in outcome["results"]:
        if result["group"] != group:
            group = result["group"]
            print(f"\n{group}", file=out)
        print(f"  {LABELS[result['outcome']]}  {result['clause']}", file=out)
        if result["outcome"] == "failed":
            print(textwrap.indent(_shorten(result["message"]), "        "), file=out)
        elif result["outcome"] == "not supported":
            print(f"        ({result['message']})", file=out)
    counts = _counts(outcome)
    line = f"{counts['passed']} passed, {counts['failed']} failed"
    if counts["skipped"]:
        line += f", {counts['skipped']} skipped"
    print(f"\n{line}", file=out)


async def _preflight(target: str, other: str | None, *, clear: bool, timeout: float) -> str | None:
    """What stops the suite before it starts, as one line (None when it can run): a bad
    target, a store that is not there, or one that already holds sessions (unless ``clear``).
    """
    if other is not None and other == target:
        return f"--other must name another namespace than the target, not {redact_url(other)} again"
    for role, url in (("target", target), ("--other", other)):
        if url is not None:
            problem = await _probe(role, url, clear=clear, timeout=timeout)
            if problem:
                return problem
    return None


async def _probe(role: str, target: str, *, clear: bool, timeout: float) -> str | None:
    """Open the target and read from it once, so a bad target or a store that is not there
    is one clear line, not 45 failures; then, unless ``clear``, make sure it holds no
    sessions (the command never deletes data it did not write). The line, or None.
    """
    where = redact_url(target)
    prefix = "" if role == "target" else f"{role}: "
    try:
        store = await open_target(target)
    except Exception as exc:
        return f"{prefix}cannot open {where}: {unreachable_cause(exc)}"
    try:
        cause = await probe_store(store, timeout)
        if cause is not None:
            return f"{prefix}cannot reach the {type(store).__name__} at {where}: {cause}"
        held = None if clear else await within(timeout, count_sessions(store), "counting its sessions")
    except Exception:
        return None  # the store answered, wrongly: the clauses will say how
    finally:
        await _close_quietly(store, timeout)
    if held:
        return f"{prefix}{non_empty_message(type(store).__name__, where, held)}"
    return None


async def _close_quietly(store: Any, timeout: float) -> None:
    """Close a store that may be unreachable, without letting that hide the probe's answer."""
    with contextlib.suppress(Exception):
        await asyncio.wait_for(store.close(), timeout)


def _counts(outcome: dict[str, Any]) -> dict[str, int]:
    results = outcome["results"]
    return {
        "passed": sum(r["outcome"] == "passed" for r in results),
        "failed": sum(r["outcome"] == "failed" for r in results),
        "skipped": sum(r["outcome"] in ("skipped", "not supported") for r in results),
    }


def _shorten(message: str, limit: int = 12) -> str:
    lines = message.splitlines()
    more = [f"... ({len(lines) - limit} more lines)"] if len(lines) > limit else []
    return "\n".join(lines[:limit] + more)
