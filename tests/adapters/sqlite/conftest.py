"""Fixtures of the SQLite store tests: real database files in a temp folder."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """A fresh database file path (the file does not exist yet)."""
    return tmp_path / "sessions.db"
