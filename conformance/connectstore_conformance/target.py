"""Opening the store that ``connectstore check`` was pointed at.

A target is a store URL (``redis://localhost/0``) or ``module:factory``, where the factory
(sync or async, called with no arguments) returns a store.
"""

from __future__ import annotations

import importlib
import inspect
import os
import sys
from typing import Any

from connectstore import Store, open_store

#: The environment variables ``connectstore check`` uses to hand its options to the suite run.
TARGET_ENV = "CONNECTSTORE_CHECK_TARGET"
#: The second namespace (``--other``), empty when none was given.
OTHER_ENV = "CONNECTSTORE_CHECK_OTHER"
CLEAR_ENV = "CONNECTSTORE_CHECK_CLEAR"


class TargetError(ValueError):
    """The target cannot be resolved to a store factory."""


async def open_target(target: str) -> Store:
    """A new store for ``target``."""
    if "://" in target:
        return open_store(target)
    module_name, sep, attribute = target.partition(":")
    if not sep or not module_name or not attribute:
        raise TargetError(f"{target!r} is neither a store URL (scheme://...) nor module:factory")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        factory: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise TargetError(f"cannot import {module_name!r}: {exc}") from exc
    for part in attribute.split("."):
        try:
            factory = getattr(factory, part)
        except AttributeError:
            raise TargetError(f"{module_name!r} has no attribute {attribute!r}") from None
    if not callable(factory):
        raise TargetError(f"{target} is not callable")
    store = factory()
    if inspect.isawaitable(store):
        store = await store
    if not isinstance(store, Store):
        raise TargetError(f"{target}() returned {type(store).__name__}, not a connectstore.Store")
    return store


async def count_sessions(store: Store) -> int | None:
    """How many sessions ``store`` holds, if it can tell (None when it supports no listing)."""
    if "length" in store.capabilities:
        return await store.length()
    if "ids" in store.capabilities:
        return len([sid async for sid in store.ids()])
    if "all" in store.capabilities:
        return len(await store.all())
    return None


def non_empty_message(store_name: str, where: str, held: int) -> str:
    """Why the command refuses a store that already holds ``held`` sessions."""
    return (
        f"the {store_name} at {where} already holds {held} sessions; point the check at an "
        "empty namespace, or pass --clear to let it delete them"
    )
