"""A starsessions store backed by any connectstore store.

starsessions users keep their ``SessionMiddleware`` and get connectstore's stores::

    app.add_middleware(SessionAutoloadMiddleware)
    app.add_middleware(SessionMiddleware, store=ConnectSessionStore(RedisStore.from_url(url)), lifetime=3600)

Each session is stored in express-session's shape, ``{"cookie": {...}, **data}``, so an
Express app (connect-redis, connect-sqlite3...) reading the same store sees a normal
session. The mapping:

* ``read(id, lifetime)`` is ``get(id)``: the data without ``cookie``, plus starsessions'
  ``__metadata__`` (see below). A missing, expired or corrupt session reads as empty.
* ``write(id, data, lifetime, ttl)`` is ``set``: the cookie gets ``originalMaxAge`` = the
  session's lifetime (its metadata's, else ``lifetime``; in ms) and ``expires`` = the
  expiry starsessions means: ``created + lifetime`` to the millisecond when it counts
  down a fixed lifetime, ``now + ttl`` when it rolls. ``lifetime=0`` (starsessions'
  default, a browser-session cookie) stores ``expires: null``: the store's default TTL
  then bounds the session (RedisStore: 86400 s), as for an express-session
  browser-session cookie.
* ``remove(id)`` is ``destroy(id)``; ``exists(id)`` is ``get(id) is not None``.

The metadata (``get_session_metadata()``) holds starsessions' own keys and nothing else:
``lifetime`` (seconds: ``originalMaxAge / 1000``, or the middleware's ``lifetime`` when the
cookie has no expiry), ``created`` (epoch seconds when the session was made) and
``last_access`` (this request, set by starsessions). ``created`` is rebuilt from the cookie
(``expires - originalMaxAge``) when they agree; when the cookie cannot say it (no expiry:
``lifetime=0``; or ``rolling``, which moves ``expires``) the record also keeps
``"__metadata__": {"created": <epoch seconds>}``, which an Express reader sees as one
more session key. A session Express wrote without an expiry gets ``created`` = its first
read here.

Beyond starsessions' own stores: an id read from the client's cookie that the store does
not know is never adopted (``write`` answers with a fresh id instead), and after
``regenerate_session_id()`` the record under the old id is destroyed. How: ``read`` notes
(in a context variable of the request's task) which id it loaded and the ``created`` it
gave; ``write`` in the same request recognises its metadata. When the session was loaded
in another task (a ``BaseHTTPMiddleware`` between starsessions' two middlewares, say),
``write`` asks the store instead: a live id is kept, any other is replaced, and the record
left behind by ``regenerate_session_id()`` then expires by itself rather than at once.

Limits: starsessions keeps its own unsigned cookie (``session=<id>`` by default), not
express-session's signed ``connect.sid``, so a browser cannot carry one session between a
starsessions app and an Express app; they share the *store* and its data shape. Unlike
express-session with ``resave=False``, starsessions writes every non-empty session on every
request. Session data must be JSON-compatible for a Node reader (the store raises
``SerializationError`` otherwise), and the keys ``cookie`` and ``__metadata__`` are
reserved.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, TypeGuard, TypeVar

import starsessions

from connectstore.cookie import Cookie
from connectstore.engine import CookieOptions, check_session_bytes
from connectstore.errors import SessionDecodeError, SessionTooLargeError
from connectstore.request_session import log_corrupt_session
from connectstore.serializer import JSONSerializer, SessionData
from connectstore.store import Store
from connectstore.timeouts import within

__all__ = ["ConnectSessionStore"]

T = TypeVar("T")

_METADATA = "__metadata__"
_JSON = JSONSerializer()


@dataclass(frozen=True)
class _Loaded:
    """What ``read`` loaded in this request: by which store, under which id, with which
    ``created`` (the token ``write`` recognises in the metadata coming back).
    """

    store: ConnectSessionStore
    session_id: str
    created: float


_LOADED: ContextVar[_Loaded | None] = ContextVar("connectstore_starsessions_loaded", default=None)


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
    * ``max_session_bytes`` (default ``None``: no limit): the largest stored form of a
      session (its JSON, UTF-8 bytes); a larger one raises
      :class:`~connectstore.SessionTooLargeError` before anything is written (the app
      answers 500 and the store keeps what it had).
    """

    def __init__(
        self,
        store: Store,
        *,
        serializer: starsessions.Serializer | None = None,
        cookie: CookieOptions | Mapping[str, Any] | None = None,
        timeout: float | None = 10.0,
        max_session_bytes: int | None = None,
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
        self.max_session_bytes = check_session_bytes(max_session_bytes)

    async def read(self, session_id: str, lifetime: int) -> bytes:
        """The session's data and metadata as starsessions' bytes; ``b""`` if there is none."""
        _LOADED.set(None)
        try:
            stored = await self._call(self.store.get(session_id))
            cookie = _stored_cookie(session_id, stored) if stored is not None else None
        except SessionDecodeError as exc:
            # starsessions' cookie carries the bare id: it is a credential and never logged.
            log_corrupt_session(session_id, exc, show_sid=False)
            return b""
        if stored is None:
            return b""
        data = {key: value for key, value in stored.items() if key not in ("cookie", _METADATA)}
        metadata: dict[str, Any] = {}
        created: float | None = None
        if cookie is not None and cookie.expires_ms is not None and _is_number(cookie.original_max_age):
            metadata["lifetime"] = int(cookie.original_max_age // 1000)
            created = (cookie.expires_ms - cookie.original_max_age) / 1000
        kept = stored.get(_METADATA)
        if isinstance(kept, Mapping) and _is_number(kept.get("created")):
            created = kept["created"]  # the cookie cannot say it (no expiry, or rolling)
        if created is None:
            created = time.time()  # an Express session without expiry: made, for us, now
        metadata["created"] = created
        _LOADED.set(_Loaded(self, session_id, created))
        data[_METADATA] = metadata
        return self.serializer.serialize(data)

    async def write(self, session_id: str, data: bytes, lifetime: int, ttl: int) -> str:
        """Store the session in express-session's shape; returns the id it is stored under."""
        payload = self.serializer.deserialize(data)
        metadata = payload.pop(_METADATA, None)
        metadata = metadata if isinstance(metadata, Mapping) else {}
        if "cookie" in payload:
            raise ValueError('"cookie" is reserved in a connectstore session: use another key')
        cookie, kept_created = self._cookie(lifetime, ttl, metadata)
        record: SessionData = {"cookie": cookie.to_json(), **payload}
        if kept_created is not None:
            record[_METADATA] = {"created": kept_created}
        if self.max_session_bytes is not None:
            size = len(_JSON.dumps(record).encode("utf-8"))
            if size > self.max_session_bytes:
                raise SessionTooLargeError(size, self.max_session_bytes)
        session_id = await self._stored_id(session_id, metadata)
        await self._call(self.store.set(session_id, record))
        return session_id

    async def remove(self, session_id: str) -> None:
        """Delete the session from the store (a missing one is no error)."""
        await self._call(self.store.destroy(session_id))

    async def exists(self, session_id: str) -> bool:
        """Whether the store holds a live session under ``session_id``."""
        return await self._call(self.store.get(session_id)) is not None

    async def _stored_id(self, session_id: str, metadata: Mapping[str, Any]) -> str:
        """The id to store the session under: ``session_id`` when it is the session this
        request loaded, else a fresh one (never an id the client chose); after
        ``regenerate_session_id()`` the record under the loaded id is destroyed.
        """
        loaded = _LOADED.get()
        if loaded is not None and loaded.store is self and metadata.get("created") == loaded.created:
            if loaded.session_id == session_id:
                return session_id
            await self._call(self.store.destroy(loaded.session_id))  # regenerated
            return starsessions.generate_session_id()
        # Not loaded by this request's task: a new session, an id the store does not know
        # (from the client, or made by regenerate_session_id()), or a session that a
        # middleware loaded in another task. The store tells them apart.
        try:
            if await self._call(self.store.get(session_id)) is not None:
                return session_id
        except SessionDecodeError:
            pass  # a corrupt record under that id: the session starts afresh under a new one
        return starsessions.generate_session_id()

    def _cookie(self, lifetime: int, ttl: int, metadata: Mapping[str, Any]) -> tuple[Cookie, float | None]:
        """The stored cookie, and the ``created`` to keep beside it when it cannot say it."""
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
        created = metadata.get("created")
        if not _is_number(created):
            created = None
        if lifetime <= 0:
            return Cookie.create(**fields), created
        total = metadata.get("lifetime")
        if not _is_number(total) or total <= 0:
            total = lifetime  # starsessions keeps a session's own lifetime, as we do
        max_age_ms = round(total * 1000)
        now = time.time()
        if created is not None and _counts_down(created + total, ttl, now, metadata.get("last_access")):
            expires_ms = round(created * 1000) + max_age_ms  # exact: never drifts across writes
        else:
            expires_ms = round((now + ttl) * 1000)  # rolling: a new lifetime from now
        cookie = Cookie.create(max_age_ms=max_age_ms, now=expires_ms - max_age_ms, **fields)
        if created is None or round(created * 1000) == expires_ms - max_age_ms:
            return cookie, None
        return cookie, created

    async def _call(self, operation: Awaitable[T]) -> T:
        return await within(self.timeout, operation, type(self.store).__name__)


def _counts_down(expiry: float, ttl: int, now: float, started: object) -> bool:
    """Whether ``ttl`` is what starsessions' fixed-lifetime strategy computed for ``expiry``:
    ``int(expiry - t)`` at some moment ``t`` of this request (between its load,
    ``last_access``, and now). Otherwise starsessions is rolling the session.
    """
    start = started if _is_number(started) and started <= now else now
    return int(expiry - now) <= ttl <= int(expiry - start)


def _stored_cookie(session_id: str, stored: SessionData) -> Cookie | None:
    """The stored session's cookie (None without one); an unreadable one is corrupt."""
    cookie_json = stored.get("cookie")
    if not isinstance(cookie_json, Mapping):
        return None
    try:
        return Cookie.from_json(cookie_json)
    except ValueError as exc:
        raise SessionDecodeError(f"the stored cookie is invalid: {exc}", sid=session_id) from exc


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
