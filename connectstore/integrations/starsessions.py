"""A starsessions store backed by any connectstore store.

starsessions users keep their ``SessionMiddleware`` and get connectstore's stores::

    app.add_middleware(SessionAutoloadMiddleware)
    app.add_middleware(SessionMiddleware, store=ConnectSessionStore(RedisStore.from_url(url)), lifetime=3600)

Each session is stored in express-session's shape, ``{"cookie": {...}, **data}``, so an
Express app (connect-redis, connect-sqlite3...) reading the same store sees a normal
session. The mapping:

* ``read(id, lifetime)`` is ``get(id)``: the data without ``cookie``, plus starsessions'
  ``__metadata__`` rebuilt from the cookie (``lifetime = originalMaxAge / 1000``,
  ``created = expires - lifetime``). A missing, expired or corrupt session reads as empty.
* ``write(id, data, lifetime, ttl)`` is ``set``: ``__metadata__`` is not stored; the cookie
  gets ``originalMaxAge`` = the session's lifetime (its metadata's, else ``lifetime``; in
  ms) and ``expires = now + ttl`` (to the millisecond when the metadata gives it), so the
  store expires the session when starsessions would. ``lifetime=0`` (starsessions' browser-session
  cookie) stores ``expires: null``: the store's default TTL then bounds the session
  (RedisStore: 86400 s), as for an express-session browser-session cookie.
* ``remove(id)`` is ``destroy(id)``; ``exists(id)`` is ``get(id) is not None``.

Beyond starsessions' own stores: an id read from the client's cookie that the store does
not know is never adopted (``write`` answers with a fresh id instead), and after
``regenerate_session_id()`` the record under the old id is destroyed.

Limits: starsessions keeps its own unsigned cookie (``session=<id>`` by default), not
express-session's signed ``connect.sid``, so a browser cannot carry one session between a
starsessions app and an Express app; they share the *store* and its data shape. Unlike
express-session with ``resave=False``, starsessions writes every non-empty session on every
request. The metadata's ``created`` is rebuilt from ``expires``: exact without
``rolling``; with ``rolling`` it moves with the last write. Session data must be
JSON-compatible for a Node reader (the store raises ``SerializationError`` otherwise), and
the key ``cookie`` is reserved.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Mapping
from typing import Any, TypeGuard, TypeVar

import starsessions

from connectstore.cookie import Cookie
from connectstore.engine import CookieOptions
from connectstore.errors import SessionDecodeError
from connectstore.store import Store
from connectstore.timeouts import within

__all__ = ["ConnectSessionStore"]

logger = logging.getLogger("connectstore")
T = TypeVar("T")

_METADATA = "__metadata__"
_LOADED_AS = "connectstore_id"
"""Metadata key carrying the id a session was read under, back to ``write``."""


class ConnectSessionStore(starsessions.SessionStore):
    """``starsessions.SessionStore`` over a connectstore :class:`~connectstore.Store`.

    * ``store``: any connectstore store (its life is the application's to manage).
    * ``serializer``: the same ``starsessions.Serializer`` the middleware uses (default
      ``JsonSerializer()``); it turns starsessions' bytes into the dict that is stored.
    * ``cookie``: :class:`~connectstore.CookieOptions` (or a mapping of its fields)
      describing starsessions' cookie in the stored ``cookie`` object, for Express readers
      (default: ``httpOnly: true, path: "/"``). ``max_age`` and ``expires`` must stay unset:
      starsessions' ``lifetime`` decides them.
    * ``timeout`` (seconds, default 10; ``None`` for none): a store call that takes longer
      raises :class:`~connectstore.StoreUnavailableError` (the app answers 500).
    """

    def __init__(
        self,
        store: Store,
        *,
        serializer: starsessions.Serializer | None = None,
        cookie: CookieOptions | Mapping[str, Any] | None = None,
        timeout: float | None = 10.0,
    ) -> None:
        if not isinstance(store, Store):
            raise TypeError(f"store must be a connectstore.Store, not {type(store).__name__}")
        options = CookieOptions(**cookie) if isinstance(cookie, Mapping) else cookie or CookieOptions()
        if options.max_age is not None or options.expires is not None:
            raise ValueError("cookie max_age and expires come from starsessions' lifetime: leave them unset")
        if options.secure == "auto" or options.same_site == "auto":
            raise ValueError('"auto" cookie options need a request; give starsessions\' actual setting')
        self.store = store
        self.serializer = serializer or starsessions.JsonSerializer()
        self.cookie = options
        self.timeout = timeout

    async def read(self, session_id: str, lifetime: int) -> bytes:
        """The session's data and metadata as starsessions' bytes; ``b""`` if there is none."""
        try:
            stored = await self._call(self.store.get(session_id))
        except SessionDecodeError as exc:
            logger.warning("session %r in the store is corrupt; starting a new session: %s", session_id, exc)
            return b""
        if stored is None:
            return b""
        data = {key: value for key, value in stored.items() if key != "cookie"}
        metadata: dict[str, Any] = {_LOADED_AS: session_id}
        cookie_json = stored.get("cookie")
        cookie = Cookie.from_json(cookie_json) if isinstance(cookie_json, Mapping) else None
        if cookie is not None and cookie.expires_ms is not None and _is_number(cookie.original_max_age):
            metadata["lifetime"] = int(cookie.original_max_age // 1000)
            metadata["created"] = (cookie.expires_ms - cookie.original_max_age) / 1000
        data[_METADATA] = metadata
        return self.serializer.serialize(data)

    async def write(self, session_id: str, data: bytes, lifetime: int, ttl: int) -> str:
        """Store the session in express-session's shape; returns the id it is stored under."""
        payload = self.serializer.deserialize(data)
        metadata = payload.pop(_METADATA, None)
        metadata = metadata if isinstance(metadata, Mapping) else {}
        if "cookie" in payload:
            raise ValueError('"cookie" is reserved in a connectstore session: use another key')
        loaded_as = metadata.get(_LOADED_AS)
        if loaded_as != session_id:
            # A new session: the id may be an unknown one from the client's cookie, which
            # must never be adopted; or the session was regenerated: the old record goes.
            if isinstance(loaded_as, str):
                await self._call(self.store.destroy(loaded_as))
            session_id = starsessions.generate_session_id()
        cookie = self._cookie(lifetime, ttl, metadata)
        await self._call(self.store.set(session_id, {"cookie": cookie.to_json(), **payload}))
        return session_id

    async def remove(self, session_id: str) -> None:
        """Delete the session from the store (a missing one is no error)."""
        await self._call(self.store.destroy(session_id))

    async def exists(self, session_id: str) -> bool:
        """Whether the store holds a live session under ``session_id``."""
        return await self._call(self.store.get(session_id)) is not None

    def _cookie(self, lifetime: int, ttl: int, metadata: Mapping[str, Any]) -> Cookie:
        options = self.cookie
        fields: dict[str, Any] = {
            "secure": options.secure or None,
            "http_only": options.http_only,
            "domain": options.domain,
            "path": options.path,
            "same_site": options.same_site,
            "partitioned": options.partitioned,
            "priority": options.priority,
        }
        if lifetime <= 0:
            return Cookie.create(**fields)
        created, total = metadata.get("created"), metadata.get("lifetime")
        if not _is_number(total) or total <= 0:
            total = lifetime  # starsessions keeps a session's own lifetime, as we do
        expires_ms = round((time.time() + ttl) * 1000)
        if _is_number(created):
            # starsessions truncates the time left to whole seconds: when its metadata
            # gives the exact expiry behind ``ttl``, use that, so that expiry never drifts.
            exact = round((created + total) * 1000)
            if abs(exact - expires_ms) < 1000:
                expires_ms = exact
        max_age_ms = round(total * 1000)
        return Cookie.create(max_age_ms=max_age_ms, now=expires_ms - max_age_ms, **fields)

    async def _call(self, operation: Awaitable[T]) -> T:
        return await within(self.timeout, operation, type(self.store).__name__)


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
