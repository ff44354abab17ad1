"""Real ``redis-server`` processes for the tests that kill, restart or cluster Redis.

Every server listens on a free loopback port with persistence off and a temporary
``--dir``; it is stopped by its pid, never by name. The shared Redis on 6379 is never
touched by these helpers.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.tools import free_port, require_tool

SHARED_URL = "redis://127.0.0.1:6379/0"
"""The Redis every engineer's plain tests share (never FLUSHDB it: use a unique prefix)."""


def ping(port: int, timeout: float = 0.5) -> bool:
    """Whether a Redis on 127.0.0.1:``port`` answers PING."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def command(port: int, *args: str, timeout: float = 10.0) -> str:
    """Run one command with ``redis-cli`` against 127.0.0.1:``port`` and return its output."""
    result = subprocess.run(
        [require_tool("redis-cli"), "-h", "127.0.0.1", "-p", str(port), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=True,
    )
    return result.stdout


class RedisServer:
    """One ``redis-server`` on a free loopback port, owned by the test that made it.

    ``kill()`` stops it abruptly (SIGKILL) and ``start()`` brings a fresh, empty one up on
    the same port, which is what a fault test needs.
    """

    def __init__(
        self, directory: Path, *, port: int | None = None, cluster: bool = False, durable: bool = False
    ) -> None:
        self.directory = directory
        self.port = port or free_port()
        self.cluster = cluster
        self.durable = durable
        """With an append-only file synced on every write: a SIGKILL and a restart lose nothing."""
        self.cluster_port = free_port() if cluster else None
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:PORT/0``."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> None:
        """Start the server and wait until it answers PING."""
        args = [
            require_tool("redis-server"),
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "yes" if self.durable else "no",
            "--appendfilename",  # the nodes of a cluster share one --dir
            f"appendonly-{self.port}.aof",
            *(["--appendfsync", "always"] if self.durable else []),
            "--dir",
            str(self.directory),
            "--logfile",
            str(self.directory / f"redis-{self.port}.log"),
        ]
        if self.cluster:
            args += [
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                f"nodes-{self.port}.conf",
                "--cluster-port",
                str(self.cluster_port),
                "--cluster-node-timeout",
                "2000",
            ]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while not ping(self.port):
            if self.process.poll() is not None:
                log = self.directory / f"redis-{self.port}.log"
                tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
                raise RuntimeError(f"redis-server on port {self.port} exited:\n{tail}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"redis-server on port {self.port} did not answer within {timeout}s")
            time.sleep(0.02)

    def kill(self) -> None:
        """Stop the server abruptly (SIGKILL), as a crash would."""
        self._signal(signal.SIGKILL)

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL if it lingers)."""
        self._signal(signal.SIGTERM)

    def _signal(self, sig: signal.Signals) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        os.kill(process.pid, sig)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


@contextmanager
def redis_server() -> Iterator[RedisServer]:
    """A standalone ``redis-server`` of the test's own, stopped afterwards."""
    with tempfile.TemporaryDirectory(prefix="connectstore-redis-") as folder:
        server = RedisServer(Path(folder))
        server.start()
        try:
            yield server
        finally:
            server.stop()


@contextmanager
def redis_cluster(primaries: int = 3, timeout: float = 30.0) -> Iterator[list[RedisServer]]:
    """A real Redis Cluster of ``primaries`` primaries (no replicas) on free loopback ports.

    The nodes are joined with ``redis-cli --cluster create`` and the cluster is ready
    (``cluster_state:ok`` on every node) when this yields.
    """
    redis_cli = require_tool("redis-cli")
    with tempfile.TemporaryDirectory(prefix="connectstore-redis-cluster-") as folder:
        nodes = [RedisServer(Path(folder), cluster=True) for _ in range(primaries)]
        try:
            for node in nodes:
                node.start()
            subprocess.run(
                [
                    redis_cli,
                    "--cluster",
                    "create",
                    *(f"127.0.0.1:{node.port}" for node in nodes),
                    "--cluster-replicas",
                    "0",
                    "--cluster-yes",
                ],
                capture_output=True,
                check=True,
                timeout=timeout,
            )
            deadline = time.monotonic() + timeout
            while not all("cluster_state:ok" in command(node.port, "CLUSTER", "INFO") for node in nodes):
                if time.monotonic() > deadline:
                    raise RuntimeError("the Redis Cluster did not reach cluster_state:ok")
                time.sleep(0.1)
            yield nodes
        finally:
            for node in nodes:
                node.stop()
