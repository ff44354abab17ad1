"""``SESSION_ENGINE = "connectstore.integrations.django"`` under concurrency: on stores with the
conditional writes, ``save(must_create=True)`` is an atomic create (of many threads saving one
key, exactly one succeeds) and ``save()`` never brings back a session deleted meanwhile; on a
store without them, the check-then-write path keeps Django's rules.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.test import override_settings  # type: ignore[import-untyped]

from connectstore import BlockingStore, MemoryStore, SessionConflictError, SessionData, Versioned
from connectstore.integrations.django import CreateError, SessionStore, UpdateError
from connectstore.integrations.django.backend import MAX_REPLACE_ATTEMPTS
from connectstore.signing import generate_sid
from tests.engine.conflict_helpers import PlainStore
from tests.integrations.flask.bridge import STORE_KINDS, open_bridge

THREADS = 16
ROUNDS = 8


def unsaved(key: str, **data: object) -> SessionStore:
    """A session to be saved under ``key`` holding ``data``, never loaded (as Django's own
    ``create()`` fills a session before ``save(must_create=True)``).
    """
    session = SessionStore(key)
    session._get_session(no_load=True).update(data)
    return session


def require_conditional_writes(bridge: BlockingStore) -> None:
    missing = {"get_versioned", "set_if", "create"} - bridge.capabilities
    assert not missing, f"{type(bridge.store).__name__} does not declare {sorted(missing)}"


@pytest.fixture(params=STORE_KINDS)
def bridge(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BlockingStore]:
    """A fresh store of each kind behind a sync bridge, configured as ``CONNECTSTORE["store"]``."""
    with open_bridge(request.param, tmp_path) as bridge, override_settings(CONNECTSTORE={"store": bridge}):
        require_conditional_writes(bridge)
        yield bridge


def test_of_threads_saving_one_new_key_exactly_one_succeeds(bridge: BlockingStore) -> None:
    for _ in range(ROUNDS):
        key = generate_sid()
        start = threading.Barrier(THREADS, timeout=120)

        def save(writer: int, key: str = key, start: threading.Barrier = start) -> bool:
            session = unsaved(key, writer=writer)
            start.wait()
            try:
                session.save(must_create=True)
            except CreateError:
                return False
            return True

        with ThreadPoolExecutor(THREADS) as pool:
            saved = list(pool.map(save, range(THREADS)))
        winners = [writer for writer, won in enumerate(saved) if won]
        assert len(winners) == 1, f"{len(winners)} saves of one new key succeeded"
        stored = bridge.get(key)
        assert stored is not None
        assert stored["writer"] == winners[0]  # the winner's session, never overwritten by a loser


def test_saves_racing_a_delete_never_bring_the_session_back(bridge: BlockingStore) -> None:
    seed = SessionStore()
    seed["n"] = 0
    seed.save()
    key = seed.session_key
    start = threading.Barrier(THREADS + 1, timeout=120)

    def save_until_gone(writer: int) -> None:
        start.wait()
        for n in range(1, 1000):
            session = SessionStore(key)
            if not session.load():  # gone already: load() forgot the key
                return
            session["n"] = n
            session["writer"] = writer
            try:
                session.save()
            except UpdateError:
                return
        raise AssertionError("the session outlived its delete")

    def delete_midway() -> None:
        start.wait()
        deadline = time.monotonic() + 120
        while (bridge.get(key) or {}).get("n", 0) < 5:  # some saves landed: now delete
            assert time.monotonic() < deadline, "no save landed"
        SessionStore(key).delete()

    with ThreadPoolExecutor(THREADS + 1) as pool:
        deleter = pool.submit(delete_midway)
        savers = [pool.submit(save_until_gone, writer) for writer in range(THREADS)]
        deleter.result(timeout=180)
        for saver in savers:
            saver.result(timeout=180)
    assert bridge.get(key) is None


class Interfering(MemoryStore):
    """A MemoryStore on which another client writes or deletes right after each read of the
    session this process is about to save (between its read and its write).
    """

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0
        self.interference: str | None = None  # "write" or "delete"

    async def _interfere(self, sid: str) -> None:
        self.reads += 1
        if self.interference == "write":
            other = {"cookie": {"originalMaxAge": None, "expires": None}, "other_write": self.reads}
            await self.set(sid, other)
        elif self.interference == "delete":
            await self.destroy(sid)

    async def get(self, sid: str) -> SessionData | None:
        found = await super().get(sid)
        await self._interfere(sid)
        return found

    async def get_versioned(self, sid: str) -> Versioned | None:
        found = await super().get_versioned(sid)
        await self._interfere(sid)
        return found


@pytest.fixture
def interfering() -> Iterator[Interfering]:
    store = Interfering()
    with BlockingStore(store) as bridge, override_settings(CONNECTSTORE={"store": bridge}):
        yield store


def saved_session(store: Interfering) -> str:
    session = SessionStore()
    session["mine"] = 1
    session.save()
    key: str = session.session_key
    return key


def test_a_delete_between_the_read_and_the_write_is_an_update_error(interfering: Interfering) -> None:
    key = saved_session(interfering)
    session = SessionStore(key)
    session["mine"] = 2
    interfering.interference = "delete"
    with pytest.raises(UpdateError):
        session.save()
    interfering.interference = None
    assert SessionStore(key).exists(key) is False  # the logout stands


def test_a_write_between_the_read_and_the_write_is_overwritten_as_django_does(
    interfering: Interfering,
) -> None:
    key = saved_session(interfering)
    session = SessionStore(key)
    session["mine"] = 2
    interfering.interference = "write"
    interfering.reads = 0
    with pytest.raises(SessionConflictError):
        session.save()  # every attempt lost to the other writer: never written blind
    assert interfering.reads == MAX_REPLACE_ATTEMPTS
    interfering.interference = None
    session.save()  # no other writer now: the last write wins, as in Django's backends
    assert SessionStore(key).load() == {"mine": 2}


@pytest.fixture
def plain() -> Iterator[BlockingStore]:
    with BlockingStore(PlainStore()) as bridge, override_settings(CONNECTSTORE={"store": bridge}):
        assert not bridge.capabilities
        yield bridge


def test_without_conditional_writes_django_rules_still_hold(plain: BlockingStore) -> None:
    session = SessionStore()
    session["a"] = 1
    session.save()
    key = session.session_key
    assert plain.get(key) is not None
    again = SessionStore(key)
    again["b"] = 2
    with pytest.raises(CreateError):
        again.save(must_create=True)
    again.save()
    assert SessionStore(key).load() == {"a": 1, "b": 2}
    plain.destroy(key)
    with pytest.raises(UpdateError):
        again.save()
    assert plain.get(key) is None
    fresh = SessionStore(generate_sid())
    fresh["c"] = 3
    fresh.save(must_create=True)
    assert SessionStore(fresh.session_key).load() == {"c": 3}


class Stamping(MemoryStore):
    """A subclass that changes ``set`` (stamps every session it writes) and inherits the
    conditional writes, which know nothing of the stamp.
    """

    async def set(self, sid: str, session: SessionData) -> None:
        await super().set(sid, {**session, "stamped": True})


def test_a_store_whose_set_was_changed_is_saved_through_its_set() -> None:
    store = Stamping()
    with BlockingStore(store) as bridge, override_settings(CONNECTSTORE={"store": bridge}):
        session = SessionStore()
        session["a"] = 1
        session.save()
        key = session.session_key
        assert SessionStore(key).load() == {"a": 1, "stamped": True}
        again = SessionStore(key)
        del again["stamped"]
        again["b"] = 2
        again.save()
        assert SessionStore(key).load() == {"a": 1, "b": 2, "stamped": True}
        fresh = unsaved(generate_sid(), c=3)
        fresh.save(must_create=True)
        assert (bridge.get(fresh.session_key) or {}).get("stamped") is True


async def test_the_async_saves_are_atomic_too(bridge: BlockingStore) -> None:
    key = generate_sid()
    won = []
    for writer in range(3):
        try:
            await unsaved(key, writer=writer).asave(must_create=True)
        except CreateError:
            won.append(False)
        else:
            won.append(True)
    assert won == [True, False, False]
    session = SessionStore(key)
    await session.aset("writer", "again")  # loads it
    bridge.destroy(key)
    with pytest.raises(UpdateError):
        await session.asave()
    assert bridge.get(key) is None
