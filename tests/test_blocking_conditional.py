"""BlockingStore's conditional writes (``get_versioned``, ``set_if``, ``create``): the store's
own, as blocking calls, atomic however many threads call them at once.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from connectstore import BlockingStore, MemoryStore, SessionData
from connectstore.store import NO_VERSION
from tests.integrations.flask.bridge import STORE_KINDS, open_bridge

THREADS = 16


def session(**data: object) -> SessionData:
    return {"cookie": {"originalMaxAge": None, "expires": None}, **data}


def require_conditional_writes(bridge: BlockingStore) -> None:
    missing = {"get_versioned", "set_if", "create"} - bridge.capabilities
    assert not missing, f"{type(bridge.store).__name__} does not declare {sorted(missing)}"


@pytest.mark.parametrize("kind", STORE_KINDS)
def test_of_threads_creating_one_sid_exactly_one_wins(kind: str, tmp_path: Path) -> None:
    with open_bridge(kind, tmp_path) as bridge:
        require_conditional_writes(bridge)
        for round_ in range(5):
            sid = f"created-by-many-{round_}"
            start = threading.Barrier(THREADS, timeout=120)

            def create(writer: int, sid: str = sid, start: threading.Barrier = start) -> str | None:
                start.wait()
                return bridge.create(sid, session(writer=writer))

            with ThreadPoolExecutor(THREADS) as pool:
                versions = list(pool.map(create, range(THREADS)))
            winners = [writer for writer, version in enumerate(versions) if version is not None]
            assert len(winners) == 1
            stored = bridge.get_versioned(sid)
            assert stored is not None
            assert stored.session["writer"] == winners[0]
            assert stored.version == versions[winners[0]]


@pytest.mark.parametrize("kind", STORE_KINDS)
def test_set_if_writes_over_the_version_read_only(kind: str, tmp_path: Path) -> None:
    with open_bridge(kind, tmp_path) as bridge:
        require_conditional_writes(bridge)
        first = bridge.create("sid", session(n=1))
        assert first is not None
        assert bridge.create("sid", session(n=99)) is None
        second = bridge.set_if("sid", session(n=2), first)
        assert second is not None
        assert bridge.get_versioned("sid") == (session(n=2), second)
        assert bridge.set_if("sid", session(n=3), first) is None  # stale: nothing written
        assert bridge.get("sid") == session(n=2)
        bridge.destroy("sid")
        assert bridge.get_versioned("sid") is None
        assert bridge.set_if("sid", session(n=4), second) is None  # never brought back
        assert bridge.get("sid") is None


def test_set_if_of_an_expiry_past_deletes_and_reports_no_version() -> None:
    with BlockingStore(MemoryStore()) as bridge:
        version = bridge.create("sid", session())
        assert version is not None
        past = {"cookie": {"originalMaxAge": 1000, "expires": "2000-01-01T00:00:00.000Z"}}
        assert bridge.set_if("sid", past, version) == NO_VERSION
        assert bridge.get("sid") is None
