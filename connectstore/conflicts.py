"""Concurrent requests of one session: the engine's ``on_conflict`` policy and its merge.

Two requests of one session (two tabs, a page and its XHRs) each load the session, change
it and save it; with express-session's plain ``set`` the later save undoes the earlier one,
and a slow request undoes a logout by writing the destroyed session back. On a store with
the conditional writes (``get_versioned``, ``set_if``, ``create``) the engine saves a
loaded session only over the very record it loaded, and on a conflict applies what *this*
request changed to the record that is there now (:func:`top_level_changes`,
:func:`apply_changes`). This module holds the policy's pieces; the rules of when to write
stay in :mod:`connectstore.request_session`. ``docs/concurrency.md`` tells what each
policy guarantees.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any, Final, Literal, NamedTuple, Protocol, TypeVar

from connectstore.errors import SessionConflictError, StoreUnavailableError
from connectstore.expiry import session_expires
from connectstore.serializer import SessionData
from connectstore.session import Session, data_json, value_json
from connectstore.store import Store, supports

if TYPE_CHECKING:
    from connectstore.engine import SessionEngine

__all__ = [
    "CONDITIONAL_WRITES",
    "ConditionalWrites",
    "ConflictPolicy",
    "MergeTurns",
    "RequestStore",
    "Saved",
    "apply_changes",
    "backoff_seconds",
    "check_conflict_retries",
    "conditional_writes_match",
    "resolve_on_conflict",
    "same_json",
    "top_level_changes",
]

ConflictPolicy = Literal["merge", "overwrite", "raise"]
"""What the engine does when another request wrote the session first (see the engine)."""

CONDITIONAL_WRITES: Final = ("get_versioned", "set_if", "create")
"""The store capabilities ``"merge"`` and ``"raise"`` need."""

_POLICIES: Final = ("merge", "overwrite", "raise")

logger = logging.getLogger("connectstore")
T = TypeVar("T")

BACKOFF_FIRST: Final = 0.001
"""Seconds: the ceiling of the pause before the second merge attempt (doubled after each)."""
BACKOFF_CAP: Final = 0.05
"""Seconds: the longest pause between two merge attempts."""


def resolve_on_conflict(store: Store, value: ConflictPolicy | None) -> ConflictPolicy:
    """The engine's policy: ``value`` checked, or for None the default for ``store``:
    ``"merge"`` when it has the conditional writes and they are its own
    (:func:`conditional_writes_match`), else ``"overwrite"``.

    ``"merge"`` or ``"raise"`` on a store without them raises :class:`ValueError` naming the
    missing capabilities.
    """
    missing = [name for name in CONDITIONAL_WRITES if not supports(store, name)]
    if value is None:
        return "merge" if not missing and conditional_writes_match(store) else "overwrite"
    if value not in _POLICIES:
        raise ValueError(f'on_conflict must be "merge", "overwrite", "raise" or None, not {value!r}')
    if value != "overwrite" and missing:
        raise ValueError(
            f"on_conflict={value!r} needs a store with conditional writes; {type(store).__name__} "
            f"does not declare {', '.join(missing)} (use on_conflict='overwrite')"
        )
    return value


def conditional_writes_match(store: Store) -> bool:
    """Whether ``store``'s conditional writes belong with its ``get`` and ``set``: each of
    ``get_versioned``, ``set_if`` and ``create`` is defined by the class defining the plain
    call it stands for, or by a subclass of it.

    Not so when a subclass changed ``get`` or ``set`` (to encrypt, to rename keys, to fail
    on purpose in a test) and inherits the conditional writes of its parent, which know
    nothing of the change: the engine's default policy is then ``"overwrite"``, as before
    the conditional writes existed.
    """
    cls = type(store)
    own: dict[str, object] = getattr(store, "__dict__", {})
    for plain, conditional in (("get", "get_versioned"), ("set", "set_if"), ("set", "create")):
        if plain in own and conditional not in own:
            return False
        if not issubclass(_defined_by(cls, conditional), _defined_by(cls, plain)):
            return False
    return True


def _defined_by(cls: type, name: str) -> type:
    """The class of ``cls``'s MRO whose body defines ``name``."""
    return next((klass for klass in cls.__mro__ if name in vars(klass)), object)


def check_conflict_retries(value: int) -> int:
    """``conflict_retries`` checked: an int >= 0."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"conflict_retries must be an int, not {type(value).__name__}")
    if value < 0:
        raise ValueError(f"conflict_retries must be >= 0, not {value}")
    return value


def top_level_changes(baseline: str, data: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """What a request changed in a session's data since ``baseline`` (the data's
    :func:`~connectstore.session.data_json` when loaded or last written): the keys set or
    changed with their new values, and the keys deleted.

    A key counts as changed when its value's JSON differs (:func:`same_json`), so a nested
    mutation (``session["cart"].append(item)``) changes ``"cart"``; deeper than the top level
    nothing is told apart.
    """
    before: dict[str, Any] = json.loads(baseline)
    changed = {
        key: value for key, value in data.items() if key not in before or not same_json(value, before[key])
    }
    deleted = [key for key in before if key not in data]
    return changed, deleted


_PLAIN_JSON: Final = frozenset({dict, list, str, int, bool, type(None)})


def same_json(value: Any, other: Any) -> bool:
    """Whether ``value`` and ``other`` have the same JSON text (:func:`value_json`), told
    without encoding them when both are plain JSON values (what ``json.loads`` returns):
    types compared exactly (``1``, ``1.0`` and ``True`` differ), dict keys in order, floats
    by their ``repr``. Anything else is compared by its text.
    """
    kind = type(value)
    if kind is not type(other):
        return value_json(value) == value_json(other)
    if kind is float:
        return repr(value) == repr(other)
    if kind not in _PLAIN_JSON:
        return value_json(value) == value_json(other)
    if kind is dict:
        return len(value) == len(other) and all(
            key == other_key and same_json(item, other_item)
            for (key, item), (other_key, other_item) in zip(value.items(), other.items(), strict=True)
        )
    if kind is list:
        return len(value) == len(other) and all(same_json(a, b) for a, b in zip(value, other, strict=True))
    return bool(value == other)


def apply_changes(fresh: dict[str, Any], changed: dict[str, Any], deleted: list[str]) -> dict[str, Any]:
    """The data of ``fresh`` (a stored session; its ``cookie`` left out) with ``changed``
    set and ``deleted`` removed: a key both requests changed takes this request's value.
    """
    gone = set(deleted)
    merged = {key: value for key, value in fresh.items() if key != "cookie" and key not in gone}
    merged.update(changed)
    return merged


def backoff_seconds(attempt: int) -> float:
    """The pause before merge attempt ``attempt + 1`` (``attempt`` >= 1 attempts failed):
    exponential from :data:`BACKOFF_FIRST`, capped at :data:`BACKOFF_CAP`, its upper half
    random so that requests that collided once do not collide again in step.
    """
    ceiling = min(BACKOFF_CAP, BACKOFF_FIRST * 2.0 ** min(attempt - 1, 16))
    return ceiling / 2 + random.uniform(0, ceiling / 2)


class RequestStore(Protocol):
    """What :class:`ConditionalWrites` uses of its request
    (:class:`~connectstore.request_session.RequestSession`).
    """

    async def _call(self, operation: Awaitable[T], /) -> T:
        """Make a store call within what is left of the request's ``store_timeout``."""
        ...

    def _time_left(self) -> float | None:
        """Seconds of ``store_timeout`` left (None: no bound)."""
        ...

    def _check_size(self, stored: SessionData, /) -> None:
        """Raise :class:`~connectstore.errors.SessionTooLargeError` past ``max_session_bytes``."""
        ...


class Saved(NamedTuple):
    """What a conditional save left in the store: the session data's JSON (``data_json``)
    and the stored cookie's expiry (epoch ms, None for none).
    """

    text: str
    expires: int | None


class MergeTurns:
    """The merges of one session in this process, one at a time (an engine holds one).

    Merging requests of one process would otherwise collide with each other: each reloads,
    and all but one find at their ``set_if`` that another wrote first, again and again
    (32 requests of one session on one server are enough). Taking turns, a merge collides
    only with first writes and other processes, which the retries handle. Nothing is held
    for a request that has no conflict.
    """

    def __init__(self) -> None:
        self._turns: dict[tuple[asyncio.AbstractEventLoop, str], tuple[asyncio.Lock, int]] = {}

    def __len__(self) -> int:
        """How many sessions have a merge in progress or waiting."""
        return len(self._turns)

    @contextlib.asynccontextmanager
    async def turn(
        self, sid: str, wait: Callable[[str, Awaitable[object]], Awaitable[None]]
    ) -> AsyncIterator[None]:
        """Hold session ``sid``'s turn; ``wait(sid, acquire)`` awaits it (within a time bound).
        Locks are per event loop, and forgotten once no request holds or waits for them.
        """
        key = (asyncio.get_running_loop(), sid)
        lock, users = self._turns.get(key, (None, 0))
        if lock is None:
            lock = asyncio.Lock()
        self._turns[key] = (lock, users + 1)
        try:
            await wait(sid, lock.acquire())
            try:
                yield
            finally:
                lock.release()
        finally:
            users = self._turns[key][1] - 1
            if users:
                self._turns[key] = (lock, users)
            else:
                del self._turns[key]


class ConditionalWrites:
    """One request's saves under ``on_conflict="merge"`` or ``"raise"``, and what they need
    to know: the version of the session's record as the request last read or wrote it (the
    next ``set_if`` is over it; None: no record of ours, the next save is a ``create``), the
    data's JSON then (the baseline ``"merge"`` finds this request's changes against) and the
    id of a session the request destroyed or saw destroyed (never written again).

    The :class:`~connectstore.request_session.RequestSession` owns one, tells it what
    happened (:meth:`loaded`, :meth:`dropped`) and makes its store calls for it: it hands
    itself to :meth:`save`, which passes it on rather than keeping it (a reference back would
    make a reference cycle per request for the garbage collector to find).
    """

    __slots__ = ("_engine", "baseline", "ended", "version")

    def __init__(self, engine: SessionEngine) -> None:
        self._engine = engine
        self.version: str | None = None
        self.baseline = "{}"
        self.ended: str | None = None

    def loaded(self, version: str | None, text: str) -> None:
        """The session is record ``version`` (None: a new session, not stored yet) whose
        data's JSON is ``text``.
        """
        self.version, self.baseline = version, text

    def dropped(self, sid: str) -> None:
        """The request destroyed ``sid`` (``destroy()``), or saw it destroyed: it is never
        written again.
        """
        self.ended, self.version = sid, None

    def regenerated(self, old: str, new: str) -> None:
        """``regenerate()`` destroyed ``old`` (never written again) for ``new``, which the
        next save creates (``genid`` may give the same id again: then it is created anew).
        """
        self.ended, self.version = (None if new == old else old), None

    async def save(
        self, request: RequestStore, session: Session, stored: SessionData, text: str
    ) -> Saved | None:
        """Store ``session`` (``stored`` its record, ``text`` its data's JSON) through
        ``request``'s store calls: ``create`` when it has no record, else ``set_if`` over its
        version. A create conflict raises :class:`SessionConflictError` (it is never merged:
        the request would merge into a session it never loaded), so does a ``set_if``
        conflict under ``"raise"``; under ``"merge"`` it is merged (:meth:`_merge`). None:
        nothing was stored because the session is destroyed.
        """
        sid = session.id
        if sid == self.ended:
            logger.debug("not saving a session this request destroyed or saw destroyed")
            return None
        store = self._engine.store
        if self.version is None:
            version = await request._call(store.create(sid, stored))
            if version is None:
                raise SessionConflictError(sid, "a session with this new id exists already")
        else:
            version = await request._call(store.set_if(sid, stored, self.version))
            if version is None:
                if self._engine.on_conflict == "raise":
                    raise SessionConflictError(sid)
                return await self._merge(request, session, text)
        self.version, self.baseline = version or None, text  # NO_VERSION: deleted, create next
        return Saved(text, session.cookie.expires_ms)

    async def _merge(self, request: RequestStore, session: Session, text: str) -> Saved | None:
        """After a conflict: reload, apply this request's changes since the baseline to the
        session there now and ``set_if`` that, until it sticks or ``conflict_retries``
        attempts failed (:class:`SessionConflictError`). Afterwards ``session`` holds the data
        stored. A session gone meanwhile (destroyed, expired, regenerated away) is not
        written back (None); a request that changed nothing writes nothing and adopts the
        stored data.
        """
        changed, deleted = (
            ({}, []) if text == self.baseline else top_level_changes(self.baseline, session.data)
        )
        async with self._engine.merge_turns.turn(session.id, functools.partial(self._wait, request)):
            return await self._attempts(request, session, changed, deleted)

    async def _attempts(
        self, request: RequestStore, session: Session, changed: dict[str, Any], deleted: list[str]
    ) -> Saved | None:
        """:meth:`_merge`'s attempts, in this request's turn."""
        engine, sid = self._engine, session.id
        for attempt in range(engine.conflict_retries):
            if attempt:
                await self._pause(request, backoff_seconds(attempt), sid)
            fresh = await request._call(engine.store.get_versioned(sid))
            if fresh is None:
                logger.debug("the session was destroyed by another request; not writing it back")
                self.dropped(sid)
                return None
            data = apply_changes(fresh.session, changed, deleted)
            if changed or deleted:
                record = {"cookie": session.cookie.to_json(), **data}
                request._check_size(record)
                version = await request._call(engine.store.set_if(sid, record, fresh.version))
                if version is None:
                    continue
                expires = session.cookie.expires_ms
            else:  # nothing of ours to write: the other request's session stands
                version, expires = fresh.version, _stored_expiry(fresh.session)
            session.data.clear()
            session.data.update(data)
            self.version, self.baseline = version or None, data_json(data)
            return Saved(self.baseline, expires)
        raise SessionConflictError(
            sid, f"another request changed the session through {engine.conflict_retries} merges"
        )

    async def _wait(self, request: RequestStore, sid: str, turn: Awaitable[object]) -> None:
        """Wait for this request's turn to merge, within what is left of ``store_timeout``."""
        try:
            await request._call(turn)
        except StoreUnavailableError:
            raise SessionConflictError(
                sid, "other requests were merging the session until store_timeout ran out"
            ) from None

    async def _pause(self, request: RequestStore, seconds: float, sid: str) -> None:
        """Sleep between merge attempts; the pause counts as store time (``store_timeout``)."""
        left = request._time_left()
        if left is not None and left <= seconds:
            raise SessionConflictError(sid, "another request changed the session until store_timeout ran out")
        await request._call(asyncio.sleep(seconds))


def _stored_expiry(session: SessionData) -> int | None:
    """The expiry of a stored session's cookie (epoch ms), None when it has none or an
    unreadable one (it only decides whether a later ``touch`` is due).
    """
    try:
        return session_expires(session)
    except ValueError:
        return None
