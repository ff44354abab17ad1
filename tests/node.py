"""Run scripts on the real Node.js and install real npm packages, for interop tests.

Packages are installed once per package list into a cache folder (outside the
repository), so a test session pays for ``npm install`` only the first time.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import subprocess
from pathlib import Path
from typing import Any

from tests.tools import require_tool

NPM_CACHE = Path(os.environ.get("CONNECTSTORE_NPM_CACHE", Path.home() / ".cache" / "connectstore-npm"))


def node_binary() -> str:
    """Path of ``node``; under CI a missing Node fails the test instead of skipping it."""
    return require_tool("node")


def npm_project(*packages: str) -> Path:
    """A folder with ``packages`` (npm specs such as ``express-session@1.19.0``) installed.

    Scripts run with ``cwd`` set to it can ``require()`` them. Safe across processes.
    """
    npm = require_tool("npm")
    key = hashlib.sha256("\n".join(sorted(packages)).encode()).hexdigest()[:16]
    folder = NPM_CACHE / key
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (folder / ".installed").exists():
            (folder / "package.json").write_text('{"name":"connectstore-interop","private":true}')
            subprocess.run(
                [npm, "install", "--no-audit", "--no-fund", "--loglevel=error", *packages],
                cwd=folder,
                check=True,
                capture_output=True,
                timeout=600,
            )
            (folder / ".installed").write_text("\n".join(packages))
    return folder


def run_node(script: str, payload: Any = None, *, cwd: Path | None = None, timeout: float = 60) -> Any:
    """Run ``script`` with ``payload`` as JSON on stdin; the script prints one JSON value."""
    result = subprocess.run(
        [node_binary(), "-e", script],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
    )
    if result.returncode != 0:
        raise AssertionError(f"node failed ({result.returncode}):\n{result.stderr}")
    return json.loads(result.stdout)
