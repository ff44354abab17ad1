"""``SESSION_ENGINE = "connectstore.integrations.django"``: Django's session backend over the
configured connectstore store, each session kept in express-session's shape.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import Mapping
from typing import Any

from django.conf import settings  # type: ignore[import-untyped]
from django.contrib.sessions.backends.base import (  # type: ignore[import-untyped]
    CreateError,
    SessionBase,
    UpdateError,
)

from connectstore.blocking import BlockingStore
from connectstore.conflicts import CONDITIONAL_WRITES, backoff_seconds, conditional_writes_match
from connectstore.cookie import Cookie
from connectstore.errors import SessionConflictError, SessionDecodeError
from connectstore.integrations.django.bridge import get_bridge, on_loop
from connectstore.request_session import log_corrupt_session
from connectstore.serializer import SessionData
from connectstore.signing import generate_sid
from connectstore.store import Store, supports

__all__ = ["CreateError", "SessionStore", "UpdateError"]


async def _read(store: Store, sid: str) -> SessionData | None:
    """The stored session, or None if missing, expired or corrupt (logged)."""
    try:
        return await store.get(sid)
    except SessionDecodeError as exc:
        log_corrupt_session(sid, exc)
        return None


MAX_REPLACE_ATTEMPTS = 50
"""How many times ``save()`` reads the session again when writes by other processes keep
landing between its read and its conditional write (each lost attempt is another writer's
success; the engine's ``conflict_retries`` has the same default), pausing in between."""

_SAVING: weakref.WeakValueDictionary[tuple[asyncio.AbstractEventLoop, str], asyncio.Lock] = (
    weakref.WeakValueDictionary()
)


def _saving(sid: str) -> asyncio.Lock:
    """The lock under which this process's saves of ``sid`` take turns, on the bridge's loop:
    their conditional writes then never conflict with one another, only with other writers.
    """
    key = (asyncio.get_running_loop(), sid)
    lock = _SAVING.get(key)
    if lock is None:
        lock = _SAVING[key] = asyncio.Lock()
    return lock


_CONDITIONAL: weakref.WeakKeyDictionary[Store, bool] = weakref.WeakKeyDictionary()


def _conditional(store: Store) -> bool:
    """Whether to save through ``store``'s conditional writes: it has them, and they are its
    own (not inherited past a subclass that changed ``get`` or ``set``), as the engine decides,
    and as it does, once per store (the checks cost about 5 µs, a save's every time).
    """
    try:
        return _CONDITIONAL[store]
    except (KeyError, TypeError):  # TypeError: a store that cannot be a weak key is checked each time
        pass
    conditional = all(supports(store, name) for name in CONDITIONAL_WRITES) and conditional_writes_match(
        store
    )
    with contextlib.suppress(TypeError):
        _CONDITIONAL[store] = conditional
    return conditional


async def _write(store: Store, sid: str, record: SessionData, must_create: bool) -> None:
    """Store ``record`` under ``sid``: :class:`CreateError` if ``must_create`` and a session is
    there, :class:`UpdateError` if not ``must_create`` and none is. Atomic on a store with the
    conditional writes (``create``, ``set_if``); a check then a write on the others.
    """
    conditional = _conditional(store)
    if must_create:
        if conditional:
            if await store.create(sid, record) is None:
                raise CreateError
            return
        if await store.get(sid) is not None:
            raise CreateError
    elif conditional:
        await _replace(store, sid, record)
        return
    elif await store.get(sid) is None:
        raise UpdateError  # the session was deleted meanwhile: never resurrect it
    await store.set(sid, record)


async def _replace(store: Store, sid: str, record: SessionData) -> None:
    """Replace the live session under ``sid`` by ``record`` (Django's last write wins), never
    bringing back one destroyed meanwhile: the write is conditional on the version just read,
    so a destroy between the read and the write makes it write nothing, and the read that
    follows raises :class:`UpdateError`. This process's saves of one session take turns;
    :class:`~connectstore.SessionConflictError` if other writers won every one of
    :data:`MAX_REPLACE_ATTEMPTS` attempts.
    """
    async with _saving(sid):
        for attempt in range(MAX_REPLACE_ATTEMPTS):
            if attempt:
                await asyncio.sleep(backoff_seconds(attempt))
            current = await store.get_versioned(sid)
            if current is None:
                raise UpdateError  # the session was deleted meanwhile: never resurrect it
            if await store.set_if(sid, record, current.version) is not None:
                return
    raise SessionConflictError(sid, "other writes to the session won every attempt to save it")


async def _create_new(store: Store, sid: str, record: SessionData) -> bool:
    """Store ``record`` under the fresh ``sid`` unless a session is there (False then)."""
    if _conditional(store):
        return await store.create(sid, record) is not None
    if await store.get(sid) is not None:
        return False
    await store.set(sid, record)
    return True


def _django_cookie(expiry_age: int) -> Cookie:
    """The express cookie for Django's cookie settings, expiring ``expiry_age`` seconds from now."""
    same_site = settings.SESSION_COOKIE_SAMESITE
    return Cookie.create(
        max_age_ms=expiry_age * 1000,
        secure=settings.SESSION_COOKIE_SECURE or None,
        http_only=settings.SESSION_COOKIE_HTTPONLY,
        domain=settings.SESSION_COOKIE_DOMAIN,
        path=settings.SESSION_COOKIE_PATH,
        same_site=same_site.lower() if isinstance(same_site, str) else None,
    )


class SessionStore(SessionBase):  # type: ignore[misc]
    """Django's session backend over the configured connectstore store.

    The session key is the store's session id (express-session's format); the stored value
    is ``{"cookie": {...}, **data}`` with the cookie from ``get_expiry_age()`` and the
    ``SESSION_COOKIE_*`` settings. ``save(must_create=True)`` raises :class:`CreateError`
    if the key exists; ``save()`` raises :class:`UpdateError` if the session was deleted
    meanwhile (it is never resurrected). On a store with the conditional writes (``create``,
    ``set_if``: the bundled ones) both are atomic: of concurrent ``save(must_create=True)``
    of one key exactly one succeeds, and a ``delete()`` landing while ``save()`` runs is
    never undone. Other stores check, then write.
    """

    _session_key: str | None
    _session_cache: dict[str, Any]
    _stored_cookie: Mapping[str, Any] | None = None
    """The cookie of the stored session as last loaded or saved (None: not known)."""

    @property
    def bridge(self) -> BlockingStore:
        """The bridge the store runs behind."""
        return get_bridge()

    # --- what subclasses change ----------------------------------------------------------

    def _store_id(self, key: str | None) -> str | None:
        """The store's id of the session named ``key`` (here the key itself)."""
        return key or None

    def _new_record(self, data: Mapping[str, Any], expiry_age: int, must_create: bool) -> SessionData:
        """The value to store for ``data``: a cookie from Django's settings, then the data."""
        return {"cookie": _django_cookie(expiry_age).to_json(), **data}

    def _get_new_session_key(self) -> str:
        return generate_sid()  # express-session's id: 24 random bytes, URL-safe base64

    async def _aget_new_session_key(self) -> str:
        return self._get_new_session_key()

    # --- shared by the sync and async paths ----------------------------------------------

    def _loaded(self, stored: SessionData | None) -> dict[str, Any]:
        """The data of ``stored``; a missing session forgets its key (never created here)."""
        if stored is None:
            self._session_key = None
            self._stored_cookie = None
            return {}
        cookie = stored.get("cookie")
        self._stored_cookie = cookie if isinstance(cookie, Mapping) else None
        return {k: v for k, v in stored.items() if k != "cookie"}

    def _target(self) -> str:
        """The store id to write to; :class:`UpdateError` if loading found the session gone."""
        sid = self._store_id(self._session_key)
        if sid is None:
            raise UpdateError
        return sid

    async def _create(self, store: Store) -> None:
        """What :meth:`create` and :meth:`acreate` do, on the bridge's loop: a fresh key (another
        one on a collision), then the new, empty session stored under it.
        """
        record = self._new_record(self._get_session(no_load=True), self.get_expiry_age(), True)
        while True:
            key = self._get_new_session_key()
            sid = self._store_id(key)
            if sid is not None and await _create_new(store, sid, record):
                break
        self._session_key = key
        self._stored_cookie = record["cookie"]
        self.modified = True

    @classmethod
    def clear_expired(cls) -> None:
        """Nothing to do: stores expire sessions themselves."""

    @classmethod
    async def aclear_expired(cls) -> None:
        """Nothing to do: stores expire sessions themselves."""

    # --- sync --------------------------------------------------------------------------

    def load(self) -> dict[str, Any]:
        """The session's data; a missing or expired session forgets its key (never created here)."""
        sid = self._store_id(self._session_key)
        return self._loaded(self.bridge.run(_read(self.bridge.store, sid)) if sid else None)

    def exists(self, session_key: str | None) -> bool:
        """Whether the store holds a live session under ``session_key``."""
        sid = self._store_id(session_key)
        return sid is not None and self.bridge.get(sid) is not None

    def create(self) -> None:
        """Store a new, empty session under a fresh key."""
        bridge = self.bridge
        bridge.run(self._create(bridge.store))

    def save(self, must_create: bool = False) -> None:
        """Store the session; :class:`CreateError` if ``must_create`` and the key exists,
        :class:`UpdateError` if not ``must_create`` and the session is gone.
        """
        if self._session_key is None:
            self.create()
            return
        data = self._get_session(no_load=must_create)
        record = self._new_record(data, self.get_expiry_age(), must_create)
        self.bridge.run(_write(self.bridge.store, self._target(), record, must_create))
        self._stored_cookie = record["cookie"]

    def delete(self, session_key: str | None = None) -> None:
        """Delete ``session_key`` (default: this session) from the store."""
        sid = self._store_id(session_key if session_key is not None else self._session_key)
        if sid is not None:
            self.bridge.destroy(sid)

    # --- async (Django >= 5.1) ---------------------------------------------------------

    async def aload(self) -> dict[str, Any]:
        """See :meth:`load`."""
        bridge = self.bridge
        sid = self._store_id(self._session_key)
        return self._loaded(await on_loop(bridge, _read(bridge.store, sid)) if sid else None)

    async def aexists(self, session_key: str | None) -> bool:
        """See :meth:`exists`."""
        sid = self._store_id(session_key)
        if sid is None:
            return False
        bridge = self.bridge
        return await on_loop(bridge, bridge.store.get(sid)) is not None

    async def acreate(self) -> None:
        """See :meth:`create`."""
        bridge = self.bridge
        await on_loop(bridge, self._create(bridge.store))

    async def asave(self, must_create: bool = False) -> None:
        """See :meth:`save`."""
        if self._session_key is None:
            await self.acreate()
            return
        data = await self._aget_session(no_load=must_create)
        record = self._new_record(data, await self.aget_expiry_age(), must_create)
        bridge = self.bridge
        await on_loop(bridge, _write(bridge.store, self._target(), record, must_create))
        self._stored_cookie = record["cookie"]

    async def adelete(self, session_key: str | None = None) -> None:
        """See :meth:`delete`."""
        sid = self._store_id(session_key if session_key is not None else self._session_key)
        if sid is not None:
            bridge = self.bridge
            await on_loop(bridge, bridge.store.destroy(sid))
