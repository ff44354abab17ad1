"""Importing connectstore, or an adapter, imports no driver SDK: only creating a store does.

Each check runs in a fresh interpreter (a child process), as this one has imported
everything already. Nothing here is timed: ``bench/import_bench.py`` measures the import.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest


def run(code: str) -> None:
    """Run ``code`` in a fresh interpreter; its failing assertion fails the test."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr


def test_import_connectstore_loads_no_module_of_it_until_a_name_is_used() -> None:
    run(
        """
        import sys
        import connectstore
        loaded = sorted(name for name in sys.modules if name.startswith("connectstore."))
        assert loaded == ["connectstore.lazy"], loaded  # the loader itself, nothing of the API
        assert "asyncio" not in sys.modules
        from connectstore import SessionEngine, errors
        assert SessionEngine.__module__ == "connectstore.engine"
        assert connectstore.SessionEngine is SessionEngine
        assert connectstore.StoreError is errors.StoreError
        assert set(connectstore.__all__) <= set(dir(connectstore))
        assert not hasattr(connectstore, "NoSuchName")
        """
    )


def test_the_engine_does_not_import_entry_points_nor_email() -> None:
    run(
        """
        import sys
        from connectstore import MemoryStore, SessionEngine
        for module in ("importlib.metadata", "email.utils", "surrealdb", "redis"):
            assert module not in sys.modules, module
        """
    )


@pytest.mark.parametrize(
    ("adapter", "sdk", "create"),
    [
        (
            "connectstore_surrealdb",
            "surrealdb",
            "connectstore_surrealdb.SurrealDBStore('mem://')",
        ),
        (
            "connectstore_redis",
            "redis",
            "connectstore.open_store('redis://127.0.0.1:6379/0')",
        ),
    ],
)
def test_an_adapter_imports_its_sdk_when_a_store_is_created(adapter: str, sdk: str, create: str) -> None:
    run(
        f"""
        import sys
        import connectstore
        import {adapter}
        assert {sdk!r} not in sys.modules, "import {adapter} imported {sdk}"
        store = {create}
        assert {sdk!r} in sys.modules
        """
    )
