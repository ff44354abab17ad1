"""Django integration: sessions in any connectstore store, in express-session's shape.

Two ways to use it, both configured by the ``CONNECTSTORE`` setting:

1. **Session engine** (``SESSION_ENGINE = "connectstore.integrations.django"``), with
   Django's own ``SessionMiddleware``: :class:`SessionStore` keeps each session in the
   store as ``{"cookie": {...}, **data}`` with the expiry of ``get_expiry_age()``, so an
   Express app reading the same store sees a normal session. Django keeps its own cookie
   (``sessionid``, whose value is the bare session key): the data is shared, the cookie
   is not.
2. **express-session middleware** (replace Django's ``SessionMiddleware`` by
   :class:`ConnectSessionMiddleware`): the request's session comes from
   :class:`~connectstore.SessionEngine`, with the ``connect.sid`` signed cookie and
   express-session's rules, so a Django service and an Express app share one session
   (a login included) through one cookie. ``request.session`` keeps Django's API
   (``django.contrib.auth``, messages and CSRF work); ``cycle_key()`` and ``flush()``
   become express's ``regenerate()``.

Settings::

    CONNECTSTORE = {
        "store": "redis://127.0.0.1:6379/0",  # a store URL (connectstore.open_store), the dotted
                                              # path of a factory, a factory, a Store or a BlockingStore
        "store_options": {},   # keyword arguments for open_store() or the factory
        "timeout": 30.0,       # seconds any store call may take (the sync bridge's bound)
        # ConnectSessionMiddleware only:
        "secret": None,        # default: [SECRET_KEY, *SECRET_KEY_FALLBACKS]
        "session": {},         # SessionEngine options: name, resave, save_uninitialized, rolling,
                               # genid, cookie, trust_proxy, store_timeout, on_store_error
    }

The store lives on the loop of one process-wide :class:`~connectstore.BlockingStore`
(made on first use, closed by :func:`close_bridge` or when the setting changes); a
factory is called on that loop. A ``BlockingStore`` given as ``"store"`` is used as is and
never closed here. The async methods (``aload``, ``asave``... of Django >= 5.1) await the
bridge's loop without blocking the caller's.

Limits: there is no atomic "create if absent" in the store contract, so
``save(must_create=True)`` checks then writes (a collision of two fresh 192-bit ids is
what it guards against); ``clear_expired()`` does nothing (stores expire sessions
themselves).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Coroutine, Mapping
from http.cookies import Morsel
from types import MappingProxyType
from typing import Any, TypeVar, cast

from django.conf import settings  # type: ignore[import-untyped]
from django.contrib.sessions.backends.base import (  # type: ignore[import-untyped]
    CreateError,
    SessionBase,
    UpdateError,
)
from django.core.signals import setting_changed  # type: ignore[import-untyped]
from django.http import HttpRequest, HttpResponse  # type: ignore[import-untyped]
from django.utils.cache import patch_vary_headers  # type: ignore[import-untyped]
from django.utils.module_loading import import_string  # type: ignore[import-untyped]

from connectstore.blocking import BlockingStore
from connectstore.cookie import Cookie
from connectstore.engine import RequestInfo, RequestSessions, SessionEngine
from connectstore.errors import SessionDecodeError
from connectstore.serializer import SessionData
from connectstore.session import Session
from connectstore.signing import decode_uri_component, generate_sid
from connectstore.store import Store
from connectstore.timeouts import within
from connectstore.urls import open_store

__all__ = [
    "ConnectSessionMiddleware",
    "CreateError",
    "EngineSession",
    "ExpressCookie",
    "SessionStore",
    "UpdateError",
    "close_bridge",
    "get_bridge",
    "get_engine",
]

logger = logging.getLogger("connectstore")
T = TypeVar("T")

_lock = threading.Lock()
_bridge: BlockingStore | None = None
_owns_bridge = False
_engine: SessionEngine | None = None


def _config() -> Mapping[str, Any]:
    config = getattr(settings, "CONNECTSTORE", None)
    if not isinstance(config, Mapping) or "store" not in config:
        raise RuntimeError('settings.CONNECTSTORE must be a dict with a "store" entry')
    return config


def get_bridge() -> BlockingStore:
    """The process's :class:`~connectstore.BlockingStore`, made from ``CONNECTSTORE`` on first use."""
    global _bridge, _owns_bridge
    with _lock:
        if _bridge is None:
            config = _config()
            source = config["store"]
            options = dict(config.get("store_options") or {})
            if isinstance(source, BlockingStore):
                _bridge, _owns_bridge = source, False
            else:
                if isinstance(source, str):
                    url_or_path = source
                    if "://" in url_or_path:
                        source = lambda: open_store(url_or_path, **options)  # noqa: E731
                    else:
                        factory = import_string(url_or_path)
                        source = lambda: factory(**options)  # noqa: E731
                elif not isinstance(source, Store) and options:
                    made_by = source
                    source = lambda: made_by(**options)  # noqa: E731
                _bridge, _owns_bridge = BlockingStore(source, timeout=config.get("timeout", 30.0)), True
        return _bridge


def get_engine() -> SessionEngine:
    """The :class:`~connectstore.SessionEngine` of :class:`ConnectSessionMiddleware`."""
    global _engine
    bridge = get_bridge()
    with _lock:
        if _engine is None:
            config = _config()
            secret = config.get("secret") or [
                settings.SECRET_KEY,
                *getattr(settings, "SECRET_KEY_FALLBACKS", ()),
            ]
            _engine = SessionEngine(bridge.store, secret=secret, **dict(config.get("session") or {}))
        return _engine


def close_bridge() -> None:
    """Forget the bridge and the engine; close the bridge (and its store) if made here."""
    global _bridge, _owns_bridge, _engine
    with _lock:
        bridge, owned = _bridge, _owns_bridge
        _bridge, _owns_bridge, _engine = None, False, None
    if bridge is not None and owned:
        bridge.close()


def _on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    if setting in ("CONNECTSTORE", "SECRET_KEY", "SECRET_KEY_FALLBACKS"):
        close_bridge()


setting_changed.connect(_on_setting_changed, dispatch_uid="connectstore.integrations.django")


async def _on_loop(bridge: BlockingStore, coro: Coroutine[Any, Any, T]) -> T:
    """Await ``coro`` run on the bridge's loop, from another loop (Django's async methods)."""
    future = asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, bridge.loop))
    return await within(bridge.timeout, future, type(bridge.store).__name__)


async def _read(store: Store, key: str) -> dict[str, Any] | None:
    """The session's data without its cookie, or None if missing, expired or corrupt."""
    try:
        stored = await store.get(key)
    except SessionDecodeError as exc:
        logger.warning("session %r in the store is corrupt; starting a new session: %s", key, exc)
        return None
    return None if stored is None else {k: v for k, v in stored.items() if k != "cookie"}


async def _write(store: Store, key: str, record: SessionData, must_create: bool) -> None:
    exists = await store.get(key) is not None
    if must_create and exists:
        raise CreateError
    if not must_create and not exists:
        raise UpdateError  # the session was deleted meanwhile: never resurrect it
    await store.set(key, record)


def _record(data: Mapping[str, Any], expiry_age: int) -> SessionData:
    """The express-session value for ``data``: a cookie from Django's cookie settings,
    expiring ``expiry_age`` seconds from now, then the data.
    """
    same_site = settings.SESSION_COOKIE_SAMESITE
    cookie = Cookie.create(
        max_age_ms=expiry_age * 1000,
        secure=settings.SESSION_COOKIE_SECURE or None,
        http_only=settings.SESSION_COOKIE_HTTPONLY,
        domain=settings.SESSION_COOKIE_DOMAIN,
        path=settings.SESSION_COOKIE_PATH,
        same_site=same_site.lower() if isinstance(same_site, str) else None,
    )
    return {"cookie": cookie.to_json(), **data}


class SessionStore(SessionBase):  # type: ignore[misc]
    """Django's session backend over the configured connectstore store."""

    _session_key: str | None
    _session_cache: dict[str, Any]

    @property
    def bridge(self) -> BlockingStore:
        """The bridge the store runs behind."""
        return get_bridge()

    def _get_new_session_key(self) -> str:
        return generate_sid()  # express-session's id: 24 random bytes, URL-safe base64

    async def _aget_new_session_key(self) -> str:
        return generate_sid()

    @classmethod
    def clear_expired(cls) -> None:
        """Nothing to do: stores expire sessions themselves."""

    @classmethod
    async def aclear_expired(cls) -> None:
        """Nothing to do: stores expire sessions themselves."""

    # --- sync --------------------------------------------------------------------------

    def load(self) -> dict[str, Any]:
        """The session's data; a missing or expired session forgets its key (never created here)."""
        data = self.bridge.run(_read(self.bridge.store, self.session_key)) if self.session_key else None
        if data is None:
            self._session_key = None
            return {}
        return data

    def exists(self, session_key: str | None) -> bool:
        """Whether the store holds a live session under ``session_key``."""
        return bool(session_key) and self.bridge.get(session_key) is not None  # type: ignore[arg-type]

    def create(self) -> None:
        """Store a new, empty session under a fresh key."""
        while True:
            self._session_key = self._get_new_session_key()
            try:
                self.save(must_create=True)
            except CreateError:
                continue
            self.modified = True
            return

    def save(self, must_create: bool = False) -> None:
        """Store the session; :class:`CreateError` if ``must_create`` and the key exists,
        :class:`UpdateError` if not ``must_create`` and the session is gone.
        """
        if self.session_key is None:
            self.create()
            return
        record = _record(self._get_session(no_load=must_create), self.get_expiry_age())
        self.bridge.run(_write(self.bridge.store, self.session_key, record, must_create))

    def delete(self, session_key: str | None = None) -> None:
        """Delete ``session_key`` (default: this session) from the store."""
        key = session_key if session_key is not None else self.session_key
        if key is not None:
            self.bridge.destroy(key)

    # --- async (Django >= 5.1) ---------------------------------------------------------

    async def aload(self) -> dict[str, Any]:
        """See :meth:`load`."""
        bridge = self.bridge
        data = await _on_loop(bridge, _read(bridge.store, self.session_key)) if self.session_key else None
        if data is None:
            self._session_key = None
            return {}
        return data

    async def aexists(self, session_key: str | None) -> bool:
        """See :meth:`exists`."""
        if not session_key:
            return False
        bridge = self.bridge
        return await _on_loop(bridge, bridge.store.get(session_key)) is not None

    async def acreate(self) -> None:
        """See :meth:`create`."""
        while True:
            self._session_key = await self._aget_new_session_key()
            try:
                await self.asave(must_create=True)
            except CreateError:
                continue
            self.modified = True
            return

    async def asave(self, must_create: bool = False) -> None:
        """See :meth:`save`."""
        if self.session_key is None:
            await self.acreate()
            return
        data = await self._aget_session(no_load=must_create)
        record = _record(data, await self.aget_expiry_age())
        bridge = self.bridge
        await _on_loop(bridge, _write(bridge.store, self.session_key, record, must_create))

    async def adelete(self, session_key: str | None = None) -> None:
        """See :meth:`delete`."""
        key = session_key if session_key is not None else self.session_key
        if key is not None:
            bridge = self.bridge
            await _on_loop(bridge, bridge.store.destroy(key))


class EngineSession(SessionStore):
    """``request.session`` under :class:`ConnectSessionMiddleware`: Django's session API over
    the engine's session. The data dict is the engine session's own, the key is its id, and
    the store is written by the engine at the end of the request (express-session's rules),
    so Django's ``modified`` flag and ``SESSION_SAVE_EVERY_REQUEST`` are not used.

    * ``cycle_key()`` (Django's login): ``regenerate()``, keeping the data;
    * ``flush()`` (Django's logout): ``regenerate()``: the old session is destroyed and the
      request continues with a new, empty one;
    * ``save()``: store now (express's ``req.session.save()``);
    * ``set_expiry()`` keeps Django's meaning (a ``_session_expiry`` key in the data) and
      does not change the express cookie; use :attr:`cookie` for that.
    """

    def __init__(self, sessions: RequestSessions, bridge: BlockingStore) -> None:
        super().__init__()
        self._sessions = sessions
        self._engine_bridge = bridge
        # without a session, a read-only empty mapping: writing raises TypeError
        self._session_cache = (
            sessions.session.data
            if sessions.session is not None
            else cast(dict[str, Any], MappingProxyType({}))
        )

    @property
    def bridge(self) -> BlockingStore:
        """The bridge of the middleware's engine."""
        return self._engine_bridge

    @property
    def engine_session(self) -> Session:
        """The engine's :class:`~connectstore.Session` (its coroutines belong to the bridge's loop)."""
        session = self._sessions.session
        if session is None:
            raise RuntimeError("this request has no session (outside the cookie path, or the store failed)")
        return session

    @property
    def cookie(self) -> Cookie:
        """The express cookie of the session (``req.session.cookie``)."""
        return self.engine_session.cookie

    def _get_session_key(self) -> str | None:
        session = self._sessions.session
        return None if session is None else session.id

    def _set_session_key(self, value: str | None) -> None:
        """Django assigns keys in ``create()`` and ``flush()``; the engine owns them here."""

    session_key = property(_get_session_key)
    _session_key = property(_get_session_key, _set_session_key)

    def load(self) -> dict[str, Any]:
        """The engine session's data (loaded with the request)."""
        return self._session_cache

    async def aload(self) -> dict[str, Any]:
        """See :meth:`load`."""
        return self.load()

    def clear(self) -> None:
        """Empty the data (the same dict the engine hashes)."""
        self._session_cache.clear()
        self.accessed = self.modified = True

    def save(self, must_create: bool = False) -> None:
        """Store the session now."""
        self.bridge.run(self.engine_session.save())

    async def asave(self, must_create: bool = False) -> None:
        """See :meth:`save`."""
        await _on_loop(self.bridge, self.engine_session.save())

    def cycle_key(self) -> None:
        """A new id for the same data (express's ``regenerate()``, data kept)."""
        session = self.engine_session
        data = dict(session.data)
        self.bridge.run(session.regenerate())
        session.data.update(data)
        self._session_cache = session.data

    async def acycle_key(self) -> None:
        """See :meth:`cycle_key`."""
        session = self.engine_session
        data = dict(session.data)
        await _on_loop(self.bridge, session.regenerate())
        session.data.update(data)
        self._session_cache = session.data

    def flush(self) -> None:
        """Destroy the session and continue with a new, empty one (express's ``regenerate()``)."""
        self.bridge.run(self.engine_session.regenerate())
        self._session_cache = self.engine_session.data
        self.accessed = self.modified = True

    async def aflush(self) -> None:
        """See :meth:`flush`."""
        await _on_loop(self.bridge, self.engine_session.regenerate())
        self._session_cache = self.engine_session.data
        self.accessed = self.modified = True


class ConnectSessionMiddleware:
    """Replaces ``django.contrib.sessions.middleware.SessionMiddleware``: express-session's
    ``connect.sid`` cookie and rules, over the ``CONNECTSTORE`` store and options.

    A store error while loading propagates (Django answers 500) unless
    ``"on_store_error": "continue"``; then ``request.session`` is empty, and writing to it
    raises :class:`TypeError`. A sync middleware (Django adapts it under ASGI).
    """

    sync_capable = True
    async_capable = False

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        engine, bridge = get_engine(), get_bridge()
        info = RequestInfo(
            cookie_header=request.META.get("HTTP_COOKIE"),
            path=request.path,
            secure=request.is_secure(),
            forwarded_proto=request.META.get("HTTP_X_FORWARDED_PROTO"),
            request=request,
        )
        sessions = bridge.run(engine.open(info))
        request.session = EngineSession(sessions, bridge)
        response: HttpResponse = self.get_response(request)
        if request.session.accessed:
            patch_vary_headers(response, ("Cookie",))
        for header in bridge.run(sessions.commit()):
            morsel = ExpressCookie(header)
            response.cookies[morsel.key] = morsel
        return response


class ExpressCookie(Morsel[str]):
    """A cookie in ``response.cookies`` whose ``Set-Cookie`` line is exactly the one
    express-session sends (so Django's handlers and test client carry it like any cookie).
    """

    def __init__(self, header: str) -> None:
        super().__init__()
        name, _, coded = header.split(";", 1)[0].partition("=")
        self.set(name, decode_uri_component(coded), coded)
        self.header = header

    def OutputString(self, attrs: Any = None) -> str:
        """The header value, attributes included, as the engine rendered it."""
        return self.header
