"""The test module ``connectstore check`` runs: the whole suite against the chosen target.

The target comes from the environment (see :mod:`connectstore_conformance.target`). The
first test refuses a store that already holds sessions unless clearing was allowed, so the
command never deletes data it did not write; after every test the suite's own sessions are
cleared (when the store supports ``clear``).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from connectstore import Store
from connectstore_conformance import StoreConformance
from connectstore_conformance.target import CLEAR_ENV, TARGET_ENV, count_sessions, open_target

STATE: dict[str, object] = {"store_name": None, "verified_empty": False}


class TestStoreContract(StoreConformance):
    time_scale = float(os.environ.get("CONNECTSTORE_CHECK_TIME_SCALE", "1"))
    model_examples = int(os.environ.get("CONNECTSTORE_CHECK_EXAMPLES", str(StoreConformance.model_examples)))

    @pytest_asyncio.fixture
    async def store(self) -> AsyncIterator[Store]:
        store = await open_target(os.environ[TARGET_ENV])
        STATE["store_name"] = type(store).__name__
        try:
            held = await count_sessions(store)
            if held:
                if STATE["verified_empty"] or os.environ.get(CLEAR_ENV) == "1":
                    if "clear" not in store.capabilities:
                        pytest.fail(f"the store holds {held} sessions and does not support clear()")
                    await store.clear()
                else:
                    pytest.fail(
                        f"the target store already holds {held} sessions; point the check at an "
                        "empty namespace, or pass --clear to let it delete them"
                    )
            STATE["verified_empty"] = True
            yield store
            if "clear" in store.capabilities:
                await store.clear()
        finally:
            await store.close()
