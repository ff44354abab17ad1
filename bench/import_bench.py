"""Import time of connectstore, of what an application imports from it, and of each adapter.

Run by hand: ``.venv/bin/python bench/import_bench.py [--runs N]``. Each statement runs in
``--runs`` fresh interpreters (taking turns, so that load on the machine hits them alike);
for each it prints the best wall time of the whole process minus the best of ``python -c
pass`` (interpreter start-up), and the best ``-X importtime`` cumulative time of the modules
the statement imports (what Python itself reports; ``.venv/bin/python -X importtime -c
"import connectstore"`` shows the tree). The adapters' SDKs are listed for comparison: an
adapter imports its SDK when a store is created, not when it is imported.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time

STATEMENTS = [
    "import connectstore",
    "from connectstore import MemoryStore, SessionEngine",
    "import connectstore.integrations.asgi",
    "import connectstore_redis",
    "import connectstore_sqlite",
    "import connectstore_surrealdb",
    "import redis.asyncio",
    "import surrealdb",
]

_LINE = re.compile(r"import time:\s+\d+ \|\s+(\d+) \| ( *)(\S+)")
_START_UP = ("site", "encodings", "_frozen_importlib_external", "zipimport")  # also in `python -c pass`


def one_run(statement: str) -> tuple[float, float]:
    """Wall seconds of a fresh ``python -X importtime -c statement``, and its import seconds."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", statement], capture_output=True, text=True, check=True
    )
    wall = time.perf_counter() - started
    imported = 0
    for line in done.stderr.splitlines():
        match = _LINE.match(line)
        if match and not match.group(2) and match.group(3) not in _START_UP:
            imported += int(match.group(1))  # a top-level import: its cumulative time
    return wall, imported / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15, help="fresh interpreters per statement")
    args = parser.parse_args()
    walls: dict[str, list[float]] = {s: [] for s in ["pass", *STATEMENTS]}
    imports: dict[str, list[float]] = {s: [] for s in STATEMENTS}
    for _ in range(args.runs):
        for statement in walls:
            wall, imported = one_run(statement)
            walls[statement].append(wall)
            if statement in imports:
                imports[statement].append(imported)
    start_up = min(walls["pass"])
    print(f"interpreter start-up (python -c pass): best {start_up * 1e3:.1f} ms of {args.runs}")
    print()
    print("| statement | best wall - start-up | best -X importtime | median -X importtime |")
    print("|---|---:|---:|---:|")
    for statement in STATEMENTS:
        wall = (min(walls[statement]) - start_up) * 1e3
        best, middle = (
            min(imports[statement]) * 1e3,
            sorted(imports[statement])[len(imports[statement]) // 2] * 1e3,
        )
        print(f"| `{statement}` | {wall:.1f} ms | {best:.1f} ms | {middle:.1f} ms |")


if __name__ == "__main__":
    main()
