"""Helpers of the operations tests: the ``connectstore`` command in a child process, sessions
to fill stores with, and the shared Redis under a prefix of the test's own.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import pytest_asyncio

from connectstore import open_store
from connectstore.cookie import format_expires, now_ms
from connectstore_redis import RedisStore
from tests.adapters.redis.conftest import require_shared_redis, unique_prefix

RUN_CLI = "import sys; from connectstore.cli import main; sys.exit(main())"
HOUR_MS = 3_600_000


def cli(
    *args: str, cwd: Path | None = None, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``connectstore ARGS`` in a child process (the project's environment), its output as text."""
    return subprocess.run(
        [sys.executable, "-c", RUN_CLI, *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
        env={**os.environ, **(env or {})},
    )


def cli_json(*args: str) -> Any:
    """The JSON that ``connectstore ARGS --json`` prints (status 0 asserted)."""
    result = cli(*args, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def session(
    user: object | None = None, *, expires_in_ms: int | None = HOUR_MS, **data: Any
) -> dict[str, Any]:
    """An express-session session of ``user`` (at passport.user) expiring in ``expires_in_ms``."""
    expires = None if expires_in_ms is None else format_expires(now_ms() + expires_in_ms)
    made: dict[str, Any] = {
        "cookie": {"originalMaxAge": expires_in_ms, "expires": expires, "httpOnly": True, "path": "/"},
        **data,
    }
    if user is not None:
        made["passport"] = {"user": user}
    return made


async def fill(url: str, sessions: Mapping[str, dict[str, Any]]) -> None:
    """Write ``sessions`` into the store of ``url`` and close it."""
    async with open_store(url) as store:
        for sid, data in sessions.items():
            await store.set(sid, data)


def sqlite_url(path: Path) -> str:
    """The store URL of a SQLite file."""
    return f"sqlite:///{path}"


@dataclass(frozen=True)
class RedisTarget:
    """A store URL on the shared Redis and the key prefix it names."""

    url: str
    prefix: str


@pytest_asyncio.fixture
async def redis_target() -> AsyncIterator[RedisTarget]:
    """A store on the shared Redis under a fresh prefix (with glob characters, escaped in the
    URL); its sessions are cleared afterwards.
    """
    shared = require_shared_redis()
    prefix = unique_prefix("ops")
    yield RedisTarget(f"{shared}?prefix={quote(prefix, safe='')}", prefix)
    async with RedisStore.from_url(shared, prefix=prefix) as store:
        await store.clear()


@pytest.fixture
def redis_url(redis_target: RedisTarget) -> str:
    """:func:`redis_target`'s URL."""
    return redis_target.url
