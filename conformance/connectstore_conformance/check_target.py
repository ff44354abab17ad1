"""The test module ``connectstore check`` runs: the whole suite against the chosen target.

The target, the optional second namespace (``--other``) and the knob values come from the
environment (see :mod:`connectstore_conformance.target` and :mod:`.knobs`). The command
refuses a store that already holds sessions before the suite starts, unless clearing was
allowed; the fixtures here refuse it again, so this module never deletes data it did not
write either. After every test the suite's own sessions are cleared (when the store
supports ``clear``).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from connectstore import Store, redact_url
from connectstore_conformance import StoreConformance
from connectstore_conformance.knobs import KNOBS_ENV, apply_knobs
from connectstore_conformance.target import (
    CLEAR_ENV,
    OTHER_ENV,
    TARGET_ENV,
    count_sessions,
    non_empty_message,
    open_target,
)

STATE: dict[str, object] = {"store_name": None}
#: The targets found empty (or cleared with permission) once: later tests may clear them.
VERIFIED_EMPTY: set[str] = set()


@contextlib.asynccontextmanager
async def fresh_store(target: str, *, main: bool) -> AsyncIterator[Store]:
    """The store of ``target``, empty: sessions left by an earlier test are cleared, those
    that were there before the check refuse the test unless clearing was allowed. The
    ``main`` target's class names the store in the report.
    """
    store = await open_target(target)
    if main:
        STATE["store_name"] = type(store).__name__
    try:
        held = await count_sessions(store)
        if held:
            if target in VERIFIED_EMPTY or os.environ.get(CLEAR_ENV) == "1":
                if "clear" not in store.capabilities:
                    pytest.fail(f"the store holds {held} sessions and does not support clear()")
                await store.clear()
            else:
                pytest.fail(non_empty_message(type(store).__name__, redact_url(target), held))
        VERIFIED_EMPTY.add(target)
        yield store
        if "clear" in store.capabilities:
            await store.clear()
    finally:
        await store.close()


class TestStoreContract(StoreConformance):
    @pytest_asyncio.fixture
    async def store(self) -> AsyncIterator[Store]:
        async with fresh_store(os.environ[TARGET_ENV], main=True) as store:
            yield store

    if os.environ.get(OTHER_ENV):

        @pytest_asyncio.fixture
        async def other_store(self) -> AsyncIterator[Store]:
            async with fresh_store(os.environ[OTHER_ENV], main=False) as store:
                yield store


apply_knobs(TestStoreContract, os.environ.get(KNOBS_ENV))
