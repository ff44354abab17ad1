"""One worker process of the multi-process test: mixed operations on a shared SQLite file.

Run as ``python -m tests.adapters.sqlite.mixed_worker DB WORKER OPS GO_FILE``. The worker opens
the store, creates ``GO_FILE`` + ``.ready-WORKER`` and waits for ``GO_FILE`` to exist (the
test creates it once every worker is ready, so that all start together), then runs ``OPS`` random
set/get/touch/destroy calls on its own sids (checking every ``get`` against what it last
wrote) and on a few sids every worker shares. It prints one JSON object: the final state
it expects for its own sids, the last value it wrote to each shared sid, and every error.
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

from connectstore import now_ms
from connectstore.cookie import format_expires
from connectstore_sqlite import SQLiteStore

OWN_SIDS = 25
SHARED_SIDS = 5


def session(**data: Any) -> dict[str, Any]:
    """A session living one hour, as express-session hands it to a store."""
    cookie = {"originalMaxAge": 3_600_000, "expires": format_expires(now_ms() + 3_600_000), "path": "/"}
    return {"cookie": cookie, **data}


def ready_file(go_file: Path, worker: int) -> Path:
    """The file worker ``worker`` creates once it is ready to start."""
    return go_file.with_name(f"{go_file.name}.ready-{worker}")


def ready_then_wait_for_go(go_file: Path, worker: int) -> None:
    """Say this worker is ready, then wait for ``go_file`` (blocking: there is nothing else to do)."""
    ready_file(go_file, worker).touch()
    while not go_file.exists():
        time.sleep(0.005)


async def run(db: str, worker: int, ops: int, go_file: Path) -> dict[str, Any]:
    rng = random.Random(worker)
    own = [f"w{worker}-{i}" for i in range(OWN_SIDS)]
    shared = [f"shared-{i}" for i in range(SHARED_SIDS)]
    expected: dict[str, Any] = {}
    last_shared: dict[str, Any] = {}
    errors: list[str] = []
    async with SQLiteStore(db, sweep_interval=None) as store:
        await store.length()  # opened: the file, its WAL mode and the table exist
        ready_then_wait_for_go(go_file, worker)
        started = time.time()
        for n in range(ops):
            sid = rng.choice(shared) if rng.random() < 0.2 else rng.choice(own)
            action = rng.choices(["set", "get", "touch", "destroy"], weights=[40, 30, 15, 15])[0]
            try:
                if action == "set":
                    data = {"worker": worker, "n": n, "cart": list(range(n % 7))}
                    await store.set(sid, session(**data))
                    (last_shared if sid in shared else expected)[sid] = data
                elif action == "get":
                    got = await store.get(sid)
                    if sid not in shared:
                        app = None if got is None else {k: v for k, v in got.items() if k != "cookie"}
                        if app != expected.get(sid):
                            errors.append(f"get {sid} at op {n}: {app!r} != {expected.get(sid)!r}")
                elif action == "touch":
                    await store.touch(sid, session(worker=-1))
                else:
                    await store.destroy(sid)
                    if sid in shared:
                        last_shared.pop(sid, None)
                    else:
                        expected[sid] = None
            except Exception as exc:
                errors.append(f"{action} {sid} at op {n}: {type(exc).__name__}: {exc}")
    return {
        "expected": expected,
        "last_shared": last_shared,
        "errors": errors,
        "started": started,
        "ended": time.time(),
    }


def main() -> None:
    db, worker, ops, go_file = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4])
    print(json.dumps(asyncio.run(run(db, worker, ops, go_file))))


if __name__ == "__main__":
    main()
