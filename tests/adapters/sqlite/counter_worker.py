"""One worker process of the cross-process conditional-write tests, on a shared SQLite file.

Run as ``python -m tests.adapters.sqlite.counter_worker DB WORKER TASKS INCREMENTS SIDS GO_FILE``.
The worker opens the store, says it is ready and waits for ``GO_FILE`` (as
:mod:`~tests.adapters.sqlite.mixed_worker` does), then, at once:

* ``TASKS`` tasks each add 1 to the counter session ``"counter"`` ``INCREMENTS`` times,
  each addition a ``get_versioned``/``set_if`` loop that retries on a conflict;
* one task calls ``create`` for the sids ``c-0`` ... ``c-<SIDS - 1>`` in order, each with
  ``{"owner": WORKER}``.

It prints one JSON object: the additions it made, the conflicts it met, the sids it
created, every error, and when it started and ended (epoch seconds).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

from connectstore import SessionData, now_ms
from connectstore.cookie import format_expires
from connectstore_sqlite import SQLiteStore

from .mixed_worker import ready_then_wait_for_go

COUNTER = "counter"


def session(**data: Any) -> SessionData:
    """A session living one hour, as express-session hands it to a store."""
    cookie = {"originalMaxAge": 3_600_000, "expires": format_expires(now_ms() + 3_600_000), "path": "/"}
    return {"cookie": cookie, **data}


async def add_one(store: SQLiteStore, sid: str) -> int:
    """Add 1 to ``sid``'s ``n`` without losing anyone's addition; return the conflicts met."""
    conflicts = 0
    while True:
        loaded = await store.get_versioned(sid)
        if loaded is None:
            raise AssertionError(f"{sid} is gone")
        loaded.session["n"] += 1
        if await store.set_if(sid, loaded.session, loaded.version) is not None:
            return conflicts
        conflicts += 1


async def count(store: SQLiteStore, increments: int) -> int:
    """``increments`` additions to the counter; return the conflicts met."""
    conflicts = 0
    for _ in range(increments):
        conflicts += await add_one(store, COUNTER)
    return conflicts


async def create_all(store: SQLiteStore, worker: int, sids: int) -> list[str]:
    """Try to create ``c-0`` ... in order; return the sids this worker created."""
    created = []
    for i in range(sids):
        if await store.create(f"c-{i}", session(owner=worker)) is not None:
            created.append(f"c-{i}")
    return created


async def run(db: str, worker: int, tasks: int, increments: int, sids: int, go_file: Path) -> dict[str, Any]:
    async with SQLiteStore(db, sweep_interval=None, timeout=60) as store:
        await store.length()  # opened: the file, its WAL mode and the table exist
        ready_then_wait_for_go(go_file, worker)
        started = time.time()
        outcomes = await asyncio.gather(
            create_all(store, worker, sids),
            *(count(store, increments) for _ in range(tasks)),
            return_exceptions=True,
        )
        ended = time.time()
    errors = [f"{type(o).__name__}: {o}" for o in outcomes if isinstance(o, BaseException)]
    created, *conflicts = outcomes
    return {
        "added": tasks * increments if not errors else None,
        "conflicts": sum(c for c in conflicts if isinstance(c, int)),
        "created": created if isinstance(created, list) else [],
        "errors": errors,
        "started": started,
        "ended": ended,
    }


def main() -> None:
    worker, tasks, increments, sids = (int(arg) for arg in sys.argv[2:6])
    print(json.dumps(asyncio.run(run(sys.argv[1], worker, tasks, increments, sids, Path(sys.argv[6])))))


if __name__ == "__main__":
    main()
