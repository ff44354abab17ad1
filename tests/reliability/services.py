"""The real parts the reliability tests run: uvicorn on loopback ports, SQLite worker
processes, and a process holding an SQLite lock (a durable redis-server is
``tests.adapters.redis.servers.RedisServer(durable=True)``).

Every process here is started by the test and stopped by its pid; the shared Redis on 6379
is never touched.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.serving import served
from tests.tools import free_port

__all__ = ["SQLiteWorkers", "lock_sqlite", "served"]

REPO = Path(__file__).resolve().parents[2]


class SQLiteWorkers:
    """``count`` uvicorn processes serving the test app on one SQLite file, one port each
    (``python -m tests.reliability.sqlite_worker DB PORT BUSY_TIMEOUT STORE_TIMEOUT``).
    """

    def __init__(self, db: Path, count: int, *, busy_timeout: float, store_timeout: float) -> None:
        self.db = db
        self.ports = [free_port() for _ in range(count)]
        self.busy_timeout = busy_timeout
        self.store_timeout = store_timeout
        self.processes: list[subprocess.Popen[bytes]] = []

    @property
    def urls(self) -> list[str]:
        """One base URL per worker."""
        return [f"http://127.0.0.1:{port}" for port in self.ports]

    async def start(self, timeout: float = 120.0) -> None:
        """Start every worker and wait until each answers HTTP."""
        for port in self.ports:
            args = [sys.executable, "-m", "tests.reliability.sqlite_worker", str(self.db), str(port)]
            args += [str(self.busy_timeout), str(self.store_timeout)]
            self.processes.append(subprocess.Popen(args, cwd=REPO))  # noqa: ASYNC220 (returns at once)
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(timeout=1.0) as client:
            for url in self.urls:
                while True:
                    try:
                        await client.get(f"{url}/read")
                        break
                    except httpx.TransportError:
                        if time.monotonic() > deadline or any(p.poll() is not None for p in self.processes):
                            self.stop()
                            raise RuntimeError("an SQLite worker did not start") from None
                        await asyncio.sleep(0.05)

    def stop(self) -> None:
        """SIGTERM every worker (uvicorn closes the store on shutdown), SIGKILL a straggler."""
        for process in self.processes:
            if process.poll() is None:
                os.kill(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.kill(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        self.processes = []


def lock_sqlite(db: Path, seconds: float) -> subprocess.Popen[str]:
    """Another process that takes the file's write lock (``BEGIN EXCLUSIVE``) for ``seconds``.

    Returns once the lock is held (the child prints ``locked``).
    """
    code = (
        "import sqlite3, sys, time\n"
        "c = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)\n"
        "c.execute('BEGIN EXCLUSIVE')\n"
        "print('locked', flush=True)\n"
        "time.sleep(float(sys.argv[2]))\n"
        "c.execute('ROLLBACK')\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", code, str(db), str(seconds)], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if line.strip() != "locked":
        process.kill()
        process.wait()
        raise RuntimeError("the locking process did not get the lock")
    return process
