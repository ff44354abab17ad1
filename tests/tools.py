"""Small helpers every test folder uses: tools that must exist, free loopback ports."""

from __future__ import annotations

import os
import shutil
import socket

import pytest


def require_tool(tool: str) -> str:
    """Path of ``tool``; under ``CI=true`` a missing tool fails the test instead of skipping it."""
    path = shutil.which(tool)
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{tool} is required (./dev services installs it)")
        pytest.skip(f"{tool} is not installed")
    return path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
