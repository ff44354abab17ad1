"""Which conformance test classes found their store unreachable, so the rest of the class
reports it once instead of failing every clause with the same connection error.

A class is *unknown* until its first test either reads from the store (reachable) or finds
the backend not there: the probe fails, or the author's ``store`` fixture raises an
``OSError`` such as ``StoreUnavailableError`` while being set up. The first test then fails
with the cause; every later test of that class is skipped, pointing at it.
"""

from __future__ import annotations

#: Test class -> None (reachable) or why its store was found unreachable.
_STATE: dict[type, str | None] = {}


def known(cls: type) -> bool:
    """Whether ``cls`` has already found out if its store is there."""
    return cls in _STATE


def mark_reachable(cls: type) -> None:
    """``cls`` read from its store once: failures from now on are the store's own."""
    _STATE[cls] = None


def mark_unreachable(cls: type, why: str) -> None:
    """``cls`` found its store not there, for the reason ``why``."""
    _STATE[cls] = why


def unreachable_reason(cls: type) -> str | None:
    """Why ``cls`` found its store unreachable, or None (reachable or unknown)."""
    return _STATE.get(cls)
