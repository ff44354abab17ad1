"""Fixtures shared by the project's own tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

VECTORS = Path(__file__).parent / "vectors"


def load_vectors(name: str) -> Any:
    """One golden-data file of ``tests/vectors``."""
    return json.loads((VECTORS / name).read_text(encoding="utf-8"))


pytest_plugins = ["pytester"]
