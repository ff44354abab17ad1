"""``ConnectSessionMiddleware``: express-session's ``connect.sid`` cookie and rules in Django,
and ``request.session`` (:class:`EngineSession`) keeping Django's session API over them.
"""

from __future__ import annotations

from http.cookies import Morsel
from types import MappingProxyType
from typing import Any, cast

from django.contrib.sessions.middleware import SessionMiddleware  # type: ignore[import-untyped]
from django.http import HttpRequest, HttpResponse  # type: ignore[import-untyped]
from django.utils.cache import patch_vary_headers  # type: ignore[import-untyped]
from django.utils.deprecation import MiddlewareMixin  # type: ignore[import-untyped]

from connectstore.blocking import BlockingStore
from connectstore.cookie import Cookie
from connectstore.engine import RequestInfo
from connectstore.integrations.django.backend import SessionStore
from connectstore.integrations.django.bridge import get_bridge, get_engine, on_loop
from connectstore.request_session import RequestSession
from connectstore.session import Session
from connectstore.signing import decode_uri_component
from connectstore.store import Store

__all__ = ["ConnectSessionMiddleware", "EngineSession", "ExpressCookie"]

_REQUEST_ATTRIBUTE = "_connectstore_session"


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

    def __init__(self, sessions: RequestSession, bridge: BlockingStore) -> None:
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
    def request_session(self) -> RequestSession:
        """The engine's state for this request (committed by the middleware at the end)."""
        return self._sessions

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
        await on_loop(self.bridge, self.engine_session.save())

    def cycle_key(self) -> None:
        """A new id for the same data (express's ``regenerate()``, data kept)."""
        self.bridge.run(self._regenerate(self.engine_session, keep_data=True))

    async def acycle_key(self) -> None:
        """See :meth:`cycle_key`."""
        await on_loop(self.bridge, self._regenerate(self.engine_session, keep_data=True))

    def flush(self) -> None:
        """Destroy the session and continue with a new, empty one (express's ``regenerate()``)."""
        self.bridge.run(self._regenerate(self.engine_session, keep_data=False))
        self.accessed = self.modified = True

    async def aflush(self) -> None:
        """See :meth:`flush`."""
        await on_loop(self.bridge, self._regenerate(self.engine_session, keep_data=False))
        self.accessed = self.modified = True

    async def _regenerate(self, session: Session, *, keep_data: bool) -> None:
        """express's ``regenerate()`` on the bridge's loop, the data kept or not."""
        data = dict(session.data) if keep_data else {}
        await session.regenerate()
        session.data.update(data)
        self._session_cache = session.data

    async def _create(self, store: Store) -> None:
        """What ``create()`` and ``acreate()`` do here: store the session now (the engine owns
        its key).
        """
        await self.engine_session.save()
        self.modified = True


class ConnectSessionMiddleware(SessionMiddleware):  # type: ignore[misc]
    """Replaces ``django.contrib.sessions.middleware.SessionMiddleware``: express-session's
    ``connect.sid`` cookie and rules, over the ``CONNECTSTORE`` store and options.

    It is a subclass of Django's ``SessionMiddleware``, so everything that requires that
    middleware (the admin's check ``admin.E410``, ``isinstance`` checks) accepts it; none
    of Django's cookie handling is inherited. ``process_request`` opens the request's
    session (``request.session``, an :class:`EngineSession`), ``process_response`` commits
    it with express-session's rules and adds its ``Set-Cookie``.

    A store error while loading propagates (Django answers 500) unless
    ``"on_store_error": "continue"``; then ``request.session`` is empty, and writing to it
    raises :class:`TypeError`. A sync middleware (Django adapts it under ASGI).
    """

    sync_capable = True
    async_capable = False

    def __init__(self, get_response: Any) -> None:
        # not SessionMiddleware.__init__: it loads settings.SESSION_ENGINE, unused here
        MiddlewareMixin.__init__(self, get_response)

    def process_request(self, request: HttpRequest) -> None:
        """Load or start the request's session (``request.session``)."""
        engine, bridge = get_engine(), get_bridge()
        info = RequestInfo(
            cookie_header=request.META.get("HTTP_COOKIE"),
            path=request.path,
            secure=request.is_secure(),
            forwarded_proto=request.META.get("HTTP_X_FORWARDED_PROTO"),
            request=request if engine.uses_request else None,
        )
        session = EngineSession(bridge.run(engine.open(info)), bridge)
        setattr(request, _REQUEST_ATTRIBUTE, session)
        request.session = session

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        """Store, touch or destroy the session as express-session's rules say; add its cookie."""
        session: EngineSession | None = getattr(request, _REQUEST_ATTRIBUTE, None)
        if session is None:  # process_request did not run
            return response
        if getattr(request.session, "accessed", False):
            patch_vary_headers(response, ("Cookie",))
        for header in session.bridge.run(session.request_session.commit()):
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
