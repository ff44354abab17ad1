"""A BlockingStore across a real ``os.fork()``; run by tests/test_blocking.py in a subprocess.

``python -m tests.bridge_after_fork SOURCE URL WARM TIMEOUT``: SOURCE is ``factory`` (the
bridge builds ``open_store(URL)``) or ``instance`` (it is given ``open_store(URL)`` ready
made); WARM ``1`` makes the parent use the bridge before forking, ``closed`` use it and
close it, ``0`` not. The child
writes and reads through the same bridge object and exits normally; then the parent uses
its bridge again, to show the child left the parent's loop and connections alone. The
result is one JSON line on stdout: ``{"child": {...}, "parent": {...}}``.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from typing import Any

from connectstore import BlockingStore, Store, StoreError, open_store

#: The pid of each process in which the factory built a store.
BUILT: list[int] = []


def session(n: int) -> dict[str, Any]:
    return {"cookie": {"originalMaxAge": None, "expires": None}, "n": n}


def in_child(bridge: BlockingStore, out: int) -> None:
    """The child's whole life: use the bridge, report, exit through normal interpreter exit."""
    try:
        bridge.set("child", session(2))
        report: dict[str, Any] = {"child": bridge.get("child"), "parent": bridge.get("parent")}
        report["built_here"] = BUILT.count(os.getpid())
        bridge.close()
    except StoreError as exc:
        report = {"error": type(exc).__name__, "message": str(exc)}
    except BaseException:
        report = {"error": "unexpected", "message": traceback.format_exc()}
    os.write(out, json.dumps(report).encode())
    os.close(out)
    sys.exit(0)


def main() -> None:
    source, url, warm, timeout = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])

    def factory() -> Store:
        BUILT.append(os.getpid())
        return open_store(url)

    if source == "factory":
        bridge = BlockingStore(factory, timeout=timeout)
    else:
        bridge = BlockingStore(open_store(url), timeout=timeout)
    if warm != "0":
        bridge.set("parent", session(1))
    if warm == "closed":
        bridge.close()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        in_child(bridge, write_end)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        child = json.loads(pipe.read() or b"null")
    _, status = os.waitpid(pid, 0)
    bridge.set("after", session(3))
    parent = {
        "child": bridge.get("child"),
        "after": bridge.get("after"),
        "exit": os.waitstatus_to_exitcode(status),
    }
    bridge.clear()
    bridge.close()
    print(json.dumps({"child": child, "parent": parent}))


if __name__ == "__main__":
    main()
