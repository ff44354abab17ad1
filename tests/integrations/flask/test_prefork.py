"""Flask behind a pre-fork server: ``gunicorn --preload`` imports the app (and its session
store bridge) in the master, then forks the workers. Every request must be served by the
worker's own bridge, over real HTTP, on each kind of store.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from connectstore import BlockingStore, open_store
from tests.tools import free_port

ROOT = Path(__file__).parents[3]
START_BOUND = 120.0
"""Seconds gunicorn may take to listen on a slow, loaded machine."""


def require_gunicorn() -> None:
    if importlib.util.find_spec("gunicorn") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("gunicorn is required (the quick group of pyproject.toml; ./dev setup installs it)")
        pytest.skip("gunicorn is not installed")


def store_url(kind: str, tmp_path: Path) -> str:
    if kind == "memory":
        return "memory://"
    if kind == "sqlite":
        return f"sqlite:///{tmp_path}/sessions.db"
    from tests.integrations.flask.bridge import _skip_without_redis

    _skip_without_redis()
    return f"redis://127.0.0.1:6379/0?prefix=cs-prefork-{uuid.uuid4().hex[:12]}:"


@contextmanager
def gunicorn(url: str, *, workers: int, warm: bool, log: Path) -> Iterator[str]:
    """``gunicorn --preload`` serving tests/integrations/flask/served_app.py; its base URL."""
    port = free_port()
    env = {**os.environ, "CONNECTSTORE_TEST_STORE": url, "CONNECTSTORE_TEST_WARM": "1" if warm else "0"}
    command = [
        sys.executable, "-m", "gunicorn", "--preload", "--workers", str(workers),
        "--bind", f"127.0.0.1:{port}", "--timeout", "120", "--graceful-timeout", "20",
        "tests.integrations.flask.served_app:app",
    ]  # fmt: skip
    with log.open("wb") as output:
        server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_BOUND
        while True:
            assert server.poll() is None, f"gunicorn stopped: {log.read_text()}"
            try:
                socket.create_connection(("127.0.0.1", port), timeout=5.0).close()
                break  # the master listens; a worker answers (the requests have their own bound)
            except OSError:
                assert time.monotonic() < deadline, f"gunicorn did not listen: {log.read_text()}"
                time.sleep(0.2)
        yield base
    finally:
        server.terminate()
        try:
            server.wait(60)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(60)


@pytest.mark.parametrize(
    ("kind", "workers", "warm"),
    [
        ("memory", 1, False),
        ("memory", 1, True),
        ("sqlite", 2, True),
        ("sqlite", 2, False),
        ("redis", 2, True),
    ],
)
def test_login_cart_logout_under_gunicorn_preload(
    kind: str, workers: int, warm: bool, tmp_path: Path
) -> None:
    require_gunicorn()
    url = store_url(kind, tmp_path)
    log = tmp_path / "gunicorn.log"
    try:
        with (
            gunicorn(url, workers=workers, warm=warm, log=log) as base,
            httpx.Client(base_url=base, timeout=60) as client,
        ):
            assert client.get("/profile").status_code == 401
            login = client.post("/login", data={"user": "alice"})
            assert login.status_code == 200, log.read_text()
            for item in ("apple", "pear"):
                assert client.post("/cart", data={"item": item}).status_code == 200
            for _ in range(4):  # with two workers, both serve some of these
                assert client.get("/profile").json() == {"user": "alice", "cart": ["apple", "pear"]}
            assert client.post("/logout").json() == {"logged_out": True}
            assert client.get("/profile").status_code == 401
    finally:
        if kind != "memory":
            with BlockingStore(lambda: open_store(url)) as bridge:
                bridge.clear()
