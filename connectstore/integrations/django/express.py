"""``SESSION_ENGINE = "connectstore.integrations.django.express"``: the session engine to set
next to :class:`~connectstore.integrations.django.ConnectSessionMiddleware`.

Django itself reaches sessions outside the middleware through ``settings.SESSION_ENGINE``
and ``settings.SESSION_COOKIE_NAME``: the test ``Client`` (``login()``, ``force_login()``,
``logout()``, ``client.session``) builds a ``SessionStore`` from the value of the cookie
named ``SESSION_COOKIE_NAME``, saves it, and sends ``session_key`` back as that cookie.
This engine makes that route reach the middleware's sessions: its session key *is* the
``connect.sid`` cookie value (``s:<sid>.<signature>``, URL-encoded as express-session sends
it), it stores under the sid in the middleware's store, and a new session gets the cookie
the middleware's options give (``"session"`` of ``CONNECTSTORE``). Set both::

    SESSION_ENGINE = "connectstore.integrations.django.express"
    SESSION_COOKIE_NAME = "connect.sid"  # the middleware's cookie name ("session": {"name": ...})
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.conf import settings  # type: ignore[import-untyped]
from django.contrib.sessions.backends.base import SessionBase  # type: ignore[import-untyped]
from django.core.exceptions import ImproperlyConfigured  # type: ignore[import-untyped]

from connectstore.cookie import Cookie
from connectstore.engine import RequestInfo, SessionEngine
from connectstore.errors import SerializationError
from connectstore.integrations.django.backend import SessionStore as StoreBackedSession
from connectstore.integrations.django.bridge import get_engine
from connectstore.serializer import SessionData
from connectstore.signing import decode_uri_component, encode_uri_component, sign_cookie, unsign_cookie

__all__ = ["ExpressSessionStore", "SessionStore"]


class ExpressSessionStore(StoreBackedSession):
    """A Django session whose key is the signed ``connect.sid`` cookie value of
    :class:`~connectstore.integrations.django.ConnectSessionMiddleware`'s engine.

    * ``SessionStore(cookie_value)``: the value as the cookie carries it (URL-encoded or
      not); an unsigned or tampered value is no key (a new session), as in express-session.
      ``exists()`` and ``delete()`` take cookie values too.
    * ``session_key``: the URL-encoded ``s:<sid>.<signature>`` signed with the first secret
      (a value signed with an older secret is re-signed); :attr:`sid` is the store's id.
    * A new session gets its id from the engine's ``genid`` and its stored cookie from the
      engine's cookie options (a callable ``genid`` or ``cookie`` receives ``None``: there
      is no request); a loaded session keeps its stored cookie, its life restarted on save
      (express's ``touch()``). As for ``request.session`` under the middleware,
      ``set_expiry()`` does not change it.

    :class:`~django.core.exceptions.ImproperlyConfigured` if ``SESSION_COOKIE_NAME`` is
    not the engine's cookie name (the test client would send a cookie nobody reads).
    """

    def __init__(self, session_key: str | None = None) -> None:
        engine = get_engine()
        if engine.name != settings.SESSION_COOKIE_NAME:
            raise ImproperlyConfigured(
                f"SESSION_COOKIE_NAME is {settings.SESSION_COOKIE_NAME!r} but ConnectSessionMiddleware's "
                f"cookie is {engine.name!r}: set SESSION_COOKIE_NAME = {engine.name!r} for "
                f"SESSION_ENGINE = {__name__!r}"
            )
        self._engine: SessionEngine = engine
        super().__init__(session_key)

    @property
    def sid(self) -> str | None:
        """The session id in the store (``req.sessionID``), or None."""
        return self._store_id(self._session_key)

    def _set_session_key(self, value: str | None) -> None:
        sid = self._store_id(value)
        SessionBase._set_session_key(self, None if sid is None else self._cookie_value(sid))

    _session_key = property(SessionBase._get_session_key, _set_session_key)

    def _cookie_value(self, sid: str) -> str:
        return encode_uri_component(sign_cookie(sid, self._engine.secrets))

    def _store_id(self, key: str | None) -> str | None:
        """The sid a cookie value carries, or None if it is unsigned or tampered with."""
        if not isinstance(key, str) or not key:
            return None
        return unsign_cookie(decode_uri_component(key), self._engine.secrets)

    def _get_new_session_key(self) -> str:
        return self._cookie_value(self._engine.new_sid(None))

    def _new_record(self, data: Mapping[str, Any], expiry_age: int, must_create: bool) -> SessionData:
        """The engine's cookie for a new session; a loaded one keeps its own, restarted."""
        cookie = None if must_create else self._restarted_cookie()
        if cookie is None:
            cookie = self._engine.new_cookie(RequestInfo(cookie_header=None))
        return {"cookie": cookie.to_json(), **data}

    def _restarted_cookie(self) -> Cookie | None:
        if self._stored_cookie is None:
            return None
        try:
            cookie = Cookie.from_json(self._stored_cookie)
        except SerializationError:
            return None
        cookie.reset_max_age()
        return cookie


SessionStore = ExpressSessionStore
"""What ``SESSION_ENGINE`` names."""
