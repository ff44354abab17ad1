"""The shared test stores (``tests/integrations/stores.py``) behind a sync bridge, for the
WSGI integrations (Flask here, Django reuses it).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from connectstore import BlockingStore, Store
from tests.integrations.stores import STORE_KINDS, open_test_store

__all__ = ["STORE_KINDS", "open_bridge"]


def _skip_without_redis() -> None:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1.0):
            return
    except OSError:
        reason = "no Redis answers on 127.0.0.1:6379"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)


@contextmanager
def open_bridge(kind: str, tmp_path: Path) -> Iterator[BlockingStore]:
    """A :class:`BlockingStore` over a fresh store of ``kind``, opened (and closed, then the
    bridge stopped) on the bridge's own loop, where its connections live.
    """
    if kind == "redis":
        _skip_without_redis()  # before the bridge exists: a skip inside its factory would leak it
    opened = open_test_store(kind, tmp_path)

    async def enter() -> Store:
        return await opened.__aenter__()

    bridge = BlockingStore(enter)
    try:
        yield bridge
    finally:
        try:
            bridge.run(opened.__aexit__(None, None, None))
        finally:
            bridge.close()
