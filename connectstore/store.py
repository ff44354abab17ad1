"""The store contract: what every connectstore session store does. Read this first.

A store keeps express-session sessions by id. A session (:data:`SessionData`) is a plain
JSON-compatible dict with a ``"cookie"`` object, exactly what an express-session store
receives, and the cookie's ``expires`` decides how long the store keeps it.

``get``, ``set`` and ``destroy`` are required. ``touch`` is recommended; ``all``,
``clear``, ``length`` and the streaming ``ids``/``items`` are optional, and so are the
conditional writes ``get_versioned``/``set_if`` and ``create`` (below). A store lists the
optional methods it implements in :attr:`Store.capabilities`; calling one it does not
list raises :class:`UnsupportedOperationError`. Middleware and the conformance suite ask
:func:`supports` instead of guessing.

Three edges every store handles the same way (each is a clause of the conformance suite):

* **A corrupt record** (bytes that are no session, written behind the store's back) is not
  a session. ``get(sid)`` of it raises :class:`~connectstore.SessionDecodeError` naming the
  sid; the listings (``all``, ``ids``, ``items``, ``length``) skip it, logging one WARNING
  per record on logger ``"connectstore"`` that names the store and the sid, never the
  content, so ``length()`` equals the number of sessions ``all()`` returns;
  ``destroy(sid)`` and ``clear()`` remove it and ``set(sid, ...)`` replaces it.
  :func:`connectstore.listing.decode_listed` does the skipping and the logging.
* **Any call after** :meth:`Store.close` **works.** ``close()`` releases what the store
  holds (connections, worker threads, a sweep task) and is idempotent; the next call opens
  what it needs again, as redis-py clients and SQLAlchemy engines do, and a later
  ``close()`` releases it again. Data in a persistent backend is unchanged by closing and
  reopening. A client the user passed in is never closed by the store.
* **A session id that is not a** ``str`` raises :class:`TypeError` ("a session id is a
  str, not int") from every method that takes one, before any I/O: call
  :func:`check_sid` first.

**Conditional writes** let the session engine save concurrent requests without losing
either's changes (its ``on_conflict="merge"``) and let Django's ``save(must_create=True)``
create without a check-then-write race. They change nothing in what is stored (no version
field: the bytes stay express-session's, so Node apps keep reading and writing them):

* ``get_versioned(sid)`` is ``get`` plus the record's *version*, an opaque ``str`` that is a
  function of the stored record (its bytes, or a hash of them). Any write that changes the
  record changes its version, whoever made it: this store, another process, a Node app,
  a ``touch``. A write of identical bytes may keep it (nothing was lost then).
* ``set_if(sid, session, version)`` writes only if the live record under ``sid`` still has
  ``version``, atomically (one round trip, statement or transaction), and returns the new
  record's version; it returns None and writes nothing when the record changed, was
  destroyed or expired since. A session whose expiry is already past deletes the matching
  record instead and returns :data:`NO_VERSION`.
* ``create(sid, session)`` writes only if no live session is stored under ``sid`` (an
  expired one counts as absent), atomically, and returns the version written, else None.

A store declaring ``"set_if"`` declares ``"get_versioned"`` too.
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator
from types import TracebackType
from typing import ClassVar, Final, NamedTuple, TypeVar

from connectstore.errors import UnsupportedOperationError
from connectstore.serializer import SessionData

__all__ = ["CAPABILITIES", "NO_VERSION", "Store", "Versioned", "capabilities", "check_sid", "supports"]

_S = TypeVar("_S", bound="Store")

CAPABILITIES: Final = frozenset(
    {"touch", "all", "clear", "length", "ids", "items", "get_versioned", "set_if", "create"}
)
"""Every optional capability a store can declare; each is a method of :class:`Store`."""

NO_VERSION: Final = ""
"""The version :meth:`Store.set_if` returns when it deleted the record (an expiry already
past): the version of no record, which no later ``set_if`` matches.
"""


class Versioned(NamedTuple):
    """A session as :meth:`Store.get_versioned` read it, with the version of its record."""

    session: SessionData
    """The session (the caller's own dict, as from ``get``)."""
    version: str
    """Opaque; pass it to :meth:`Store.set_if` to write only over this very record."""


class Store(abc.ABC):
    """Base class of session stores (express-session's ``Store``, async).

    Subclasses implement the three required coroutines, override the optional methods
    they support, and name those in ``capabilities``. A store is an async context
    manager: ``async with`` closes it.
    """

    capabilities: ClassVar[frozenset[str]] = frozenset()
    """The optional methods this store implements (a subset of :data:`CAPABILITIES`)."""

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        unknown = cls.capabilities - CAPABILITIES
        if unknown:
            raise TypeError(f"{cls.__name__} declares unknown capabilities {sorted(unknown)}")
        missing = [name for name in cls.capabilities if getattr(cls, name) is getattr(Store, name)]
        if missing:
            raise TypeError(f"{cls.__name__} declares {sorted(missing)} but does not implement them")
        if "set_if" in cls.capabilities and "get_versioned" not in cls.capabilities:
            raise TypeError(f"{cls.__name__} declares 'set_if' without 'get_versioned'")

    @abc.abstractmethod
    async def get(self, sid: str) -> SessionData | None:
        """The session stored under ``sid``, or None when it is missing **or expired**.

        Never an error for those two cases. A session is expired once the backend's
        expiry (TTL, column) has passed *or* its own ``cookie.expires`` is in the past,
        whatever the backend says; listings and ``length`` leave such sessions out too.
        The returned dict is the caller's own: mutating it does not change what is stored.
        A stored record that is no session raises :class:`~connectstore.SessionDecodeError`
        naming ``sid``; a ``sid`` that is not a ``str`` raises :class:`TypeError`.
        """

    @abc.abstractmethod
    async def set(self, sid: str, session: SessionData) -> None:
        """Insert or replace the session under ``sid``.

        Its lifetime comes from ``session["cookie"]["expires"]``, or the store's default
        TTL when that is null. An expiry already past deletes the session instead.
        A value that cannot be stored faithfully raises
        :class:`~connectstore.SerializationError` before anything is written; a ``sid`` that
        is not a ``str`` raises :class:`TypeError`, also before anything is written. A corrupt
        record under ``sid`` is replaced.
        """

    @abc.abstractmethod
    async def destroy(self, sid: str) -> None:
        """Delete the session under ``sid``; deleting a missing session is not an error.

        A corrupt record under ``sid`` is deleted too; a ``sid`` that is not a ``str`` raises
        :class:`TypeError` before anything is deleted.
        """

    async def touch(self, sid: str, session: SessionData) -> None:
        """Extend the life of a live session to ``session``'s new cookie expiry.

        Never changes the stored application data (only the cookie/expiry); a no-op for a
        missing or expired sid: it never creates a session. A ``sid`` that is not a ``str``
        raises :class:`TypeError` before any I/O.
        """
        raise UnsupportedOperationError(self, "touch")

    async def all(self) -> dict[str, SessionData]:
        """Every live session, keyed by sid (expired sessions never appear).

        A corrupt record is skipped and logged (see the module documentation), never raised.
        """
        raise UnsupportedOperationError(self, "all")

    async def clear(self) -> None:
        """Delete this store's sessions (corrupt records included), and nothing else in a
        shared backend.
        """
        raise UnsupportedOperationError(self, "clear")

    async def length(self) -> int:
        """The number of live sessions: as many as :meth:`all` returns (corrupt records and
        expired sessions are not counted).
        """
        raise UnsupportedOperationError(self, "length")

    def ids(self) -> AsyncIterator[str]:
        """Stream the ids of live sessions, in bounded memory. An id may be reported once only.

        A corrupt record is skipped and logged, never raised.
        """
        raise UnsupportedOperationError(self, "ids")

    def items(self) -> AsyncIterator[tuple[str, SessionData]]:
        """Stream ``(sid, session)`` for live sessions, in bounded memory; a corrupt record is
        skipped and logged, never raised.
        """
        raise UnsupportedOperationError(self, "items")

    async def get_versioned(self, sid: str) -> Versioned | None:
        """``get(sid)`` with the version of the record it read, or None when missing or expired.

        Raises as ``get`` does. The version is a function of the stored record: any write
        that changes the record changes it (see the module documentation).
        """
        raise UnsupportedOperationError(self, "get_versioned")

    async def set_if(self, sid: str, session: SessionData, version: str) -> str | None:
        """Store ``session`` under ``sid`` only if the live record there still has ``version``.

        Atomic: no write by anyone can fall between the comparison and the write. Returns the
        version of the record written, or None when the record changed, was destroyed or
        expired since ``version`` was read (nothing is written then: a destroyed session is
        never brought back). An expiry already past deletes the matching record and returns
        :data:`NO_VERSION`. Raises as ``set`` does, before anything is written.
        """
        raise UnsupportedOperationError(self, "set_if")

    async def create(self, sid: str, session: SessionData) -> str | None:
        """Store ``session`` under ``sid`` only if no live session is stored there.

        Atomic (of two concurrent creates of one sid, exactly one succeeds); an expired
        record counts as absent and a corrupt one as present. Returns the version of the
        record written, or None when a session exists. A session whose expiry is already past
        is not written: :data:`NO_VERSION` when no live session is there, else None. Raises as
        ``set`` does.
        """
        raise UnsupportedOperationError(self, "create")

    async def close(self) -> None:
        """Release connections, worker threads and background tasks. Safe to call more than once.

        The store stays usable: the next call opens what it needs again (data in a persistent
        backend is unchanged), and a later ``close()`` releases it again. A client the user
        passed in is never closed.
        """
        return None

    async def __aenter__(self: _S) -> _S:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


def check_sid(sid: object) -> str:
    """``sid`` itself when it is a ``str``; else :class:`TypeError` ("a session id is a str,
    not int"). Every store method that takes a sid calls it first, before any I/O.
    """
    if not isinstance(sid, str):
        raise TypeError(f"a session id is a str, not {type(sid).__name__}")
    return sid


def capabilities(store: object) -> frozenset[str]:
    """The optional capabilities ``store`` declares (empty for an object that is no Store)."""
    declared: frozenset[str] = getattr(store, "capabilities", frozenset())
    return frozenset(declared) & CAPABILITIES


def supports(store: object, capability: str) -> bool:
    """Whether ``store`` declares ``capability`` (``"touch"``, ``"all"``, ``"ids"``...)."""
    if capability not in CAPABILITIES:
        raise ValueError(f"unknown capability {capability!r}; known: {sorted(CAPABILITIES)}")
    return capability in capabilities(store)
