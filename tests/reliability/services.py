"""The real parts the reliability tests run: uvicorn on loopback ports, a redis-server with
an append-only file, SQLite worker processes, and a process holding an SQLite lock.

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
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from tests.redis_store.servers import free_port, ping, require_tool

REPO = Path(__file__).resolve().parents[2]


@asynccontextmanager
async def served(app: Any) -> AsyncIterator[str]:
    """Serve ``app`` with uvicorn in this event loop on a free loopback port; yield its base URL."""
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", lifespan="off", timeout_keep_alive=30
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("uvicorn stopped before it started")
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


class DurableRedis:
    """A ``redis-server`` of the test's own with ``appendfsync always``: every acknowledged
    write is on disk, so a SIGKILL and a restart on the same port lose nothing.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:PORT/0``."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> None:
        """Start (or restart, replaying the append-only file) and wait for PING."""
        args = [
            require_tool("redis-server"),
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "yes",
            "--appendfsync", "always",
            "--dir", str(self.directory),
            "--logfile", str(self.directory / "redis.log"),
        ]  # fmt: skip
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while not ping(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.kill()
                log = (self.directory / "redis.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"redis-server on port {self.port} did not start:\n{log}")
            time.sleep(0.02)

    def kill(self) -> None:
        """SIGKILL, as a crash; waits until the process is gone."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


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

    async def start(self, timeout: float = 30.0) -> None:
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
