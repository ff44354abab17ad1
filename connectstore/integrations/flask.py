"""Flask integration: express-session for Flask, over any connectstore store.

``ConnectSession(app, store, **options)`` installs a :class:`flask.sessions.SessionInterface`
backed by :class:`~connectstore.SessionEngine`: ``flask.session`` is then the request's
express-style session (a :class:`FlaskSession`), the cookie is ``connect.sid`` signed as
express-session signs it, and the store is read and written by express-session's rules.
A Flask service and an Express app can thus share one store, one secret and one cookie.

Flask is synchronous and the stores are async: the store and the engine live on the event
loop of a :class:`~connectstore.BlockingStore` (one background thread), and every engine
call is run there and waited for. The session's methods (``regenerate``, ``destroy``,
``save``, ``reload``) are therefore plain blocking calls in view functions, async views
included (never await the engine's coroutines on another loop).

Flask's own session flags map as follows:

* ``session.modified`` is computed, not tracked: express-session compares a hash of the
  data, so changes inside nested lists and dicts are seen without help. Setting
  ``modified = True`` does nothing; to store right away call :meth:`FlaskSession.save`.
* ``session.permanent`` is "the cookie has an expiry". Setting it to ``True`` gives the
  cookie ``app.permanent_session_lifetime`` as its max age, ``False`` makes it a
  browser-session cookie (express's ``req.session.cookie.maxAge = ...``). As in express,
  a cookie change alone is not a modification: it reaches the store and the browser with
  the next save (data change, ``resave``, ``rolling``, or :meth:`FlaskSession.save`).
* ``session.new`` is true when the session was not loaded from the store in this request.
* ``session.accessed`` (set by Flask) adds ``Vary: Cookie`` to the response.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

from flask import Flask, Request, Response
from flask import session as flask_session
from flask.sessions import SessionInterface, SessionMixin

from connectstore.blocking import BlockingStore
from connectstore.cookie import Cookie
from connectstore.engine import RequestInfo, SessionEngine, check_secrets
from connectstore.integrations.store_source import StoreSource, open_bridge
from connectstore.request_session import RequestSession
from connectstore.session import Session
from connectstore.signing import Secrets

__all__ = ["ConnectSession", "ConnectSessionInterface", "FlaskSession", "current_session"]


class FlaskSession(SessionMixin):
    """``flask.session`` under :class:`ConnectSession`: the request's express-style session.

    A mutable mapping of the session data with the engine :class:`~connectstore.Session`'s
    ``id`` and ``cookie``, and its methods as blocking calls. When sessions do not apply to
    the request (path outside the cookie path, the store failed with
    ``on_store_error="continue"``, or the session was destroyed), :attr:`available` is
    false, the mapping reads as empty and writing to it raises :class:`RuntimeError`.
    """

    accessed = False

    def __init__(self, sessions: RequestSession, bridge: BlockingStore, permanent_lifetime: float) -> None:
        self._sessions = sessions
        self._bridge = bridge
        self._permanent_lifetime = permanent_lifetime
        self._committed = False

    # --- the engine's session ------------------------------------------------------------

    @property
    def available(self) -> bool:
        """Whether the request has a session (express: ``req.session`` is defined)."""
        return self._sessions.session is not None

    @property
    def engine_session(self) -> Session:
        """The engine's :class:`~connectstore.Session`; :class:`RuntimeError` if unavailable.
        Its coroutine methods belong to the bridge's loop: use this object's methods instead.
        """
        session = self._sessions.session
        if session is None:
            raise RuntimeError(
                "this request has no session (destroyed, outside the cookie path, or the store failed)"
            )
        return session

    @property
    def id(self) -> str | None:
        """The session id (``req.sessionID``), or None without a session."""
        session = self._sessions.session
        return None if session is None else session.id

    @property
    def cookie(self) -> Cookie:
        """The session's cookie (express's ``req.session.cookie``): change ``expires`` etc. here."""
        return self.engine_session.cookie

    def regenerate(self) -> None:
        """Destroy the session in the store and continue with a new id and empty data (do it
        on login: it defeats session fixation).
        """
        self._run(self.engine_session.regenerate())

    def destroy(self) -> None:
        """Delete the session from the store; the request then has no session and no cookie
        is sent (do it on logout).
        """
        self._run(self.engine_session.destroy())

    def save(self) -> None:
        """Store the session now (e.g. before a redirect); not repeated at the end of the
        request unless the session is modified again.
        """
        self._run(self.engine_session.save())

    def reload(self) -> None:
        """Replace the data with what the store holds;
        :class:`~connectstore.SessionNotFoundError` if it is gone.
        """
        self._run(self.engine_session.reload())

    def touch(self) -> None:
        """Restart the cookie's life (no store call)."""
        self.engine_session.touch()

    def remove(self) -> None:
        """Drop the request's session (express's ``req.session = null``): with
        ``unset="destroy"`` it is deleted from the store at the end of the request, with
        ``"keep"`` the store is left as it is and no cookie is sent.
        """
        self._sessions.remove()

    # --- Flask's flags ---------------------------------------------------------------------

    @property
    def modified(self) -> bool:
        """Whether the id or the data changed in this request (express-session's rule)."""
        return self._sessions.is_modified

    @modified.setter
    def modified(self, value: bool) -> None:
        """Accepted and ignored: the engine's hash sees every change (nested ones too)."""

    @property
    def new(self) -> bool:
        """Whether the session was made in this request rather than loaded from the store."""
        return self._sessions.is_new

    @new.setter
    def new(self, value: bool) -> None:
        """Accepted and ignored: the engine knows whether the session was loaded."""

    @property
    def permanent(self) -> bool:
        """Whether the cookie has an expiry; see the module documentation for the setter."""
        session = self._sessions.session
        return session is not None and session.cookie.expires is not None

    @permanent.setter
    def permanent(self, value: bool) -> None:
        cookie = self.engine_session.cookie
        if value:
            cookie.original_max_age = round(self._permanent_lifetime * 1000)
            cookie.reset_max_age()
        else:
            cookie.original_max_age = None
            cookie.expires = None

    # --- the mapping -----------------------------------------------------------------------

    def __getitem__(self, key: str) -> Any:
        session = self._sessions.session
        if session is None:
            raise KeyError(key)
        return session[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.engine_session[key] = value

    def __delitem__(self, key: str) -> None:
        session = self._sessions.session
        if session is None:
            raise KeyError(key)
        del session[key]

    def __iter__(self) -> Iterator[str]:
        session = self._sessions.session
        return iter(() if session is None else session)

    def __len__(self) -> int:
        session = self._sessions.session
        return 0 if session is None else len(session)

    def __repr__(self) -> str:
        return f"FlaskSession(id={self.id!r}, data={dict(self)!r})"

    def _run(self, coro: Any) -> None:
        self._bridge.run(coro)


class ConnectSessionInterface(SessionInterface):
    """The :class:`~flask.sessions.SessionInterface` behind :class:`ConnectSession`.

    ``store`` is a :class:`~connectstore.BlockingStore`, a store, a store URL
    (``"redis://..."``, see :func:`~connectstore.open_store`), a factory returning a
    store (sync or async; called on the bridge's loop, the right choice for clients that
    bind to a loop) or its dotted path (``"myapp.sessions.make_store"``; see
    :mod:`connectstore.integrations.store_source`). A bridge given here is the caller's to
    close; one made here is closed by :meth:`close`. Behind a pre-fork server (``gunicorn
    --preload``) give a URL or a factory: each worker then builds its own store (and
    engine) on its first request.
    ``secret`` defaults to Flask's ``SECRET_KEY`` followed by ``SECRET_KEY_FALLBACKS``
    (the first signs, any verifies); an empty one raises :class:`ValueError` (an explicit
    ``secret`` at once, the settings on the first request). ``bridge_timeout`` bounds
    each blocking call (seconds). Every other keyword is a
    :class:`~connectstore.SessionEngine` option (``name``, ``resave``,
    ``save_uninitialized``, ``rolling``, ``unset``, ``genid``, ``cookie``,
    ``trust_proxy``, ``store_timeout``, ``on_store_error``, ``max_session_bytes``);
    Flask's ``SESSION_COOKIE_*``
    settings are not used: the cookie comes from ``cookie=``. ``genid`` and a callable
    ``cookie`` receive the :class:`flask.Request`.
    """

    pickle_based = False

    def __init__(
        self,
        store: StoreSource,
        *,
        secret: Secrets | None = None,
        bridge_timeout: float | None = 30.0,
        **options: Any,
    ) -> None:
        self.bridge, self._owns_bridge = open_bridge(store, timeout=bridge_timeout)
        if secret is not None:
            check_secrets(secret)  # refuse an empty secret now, not on the first request
        self._secret = secret
        self._options = options
        self._engine: SessionEngine | None = None
        self._lock = threading.Lock()

    def engine(self, app: Flask) -> SessionEngine:
        """The session engine, made on first use from the options and the app's secret (and
        made again for the new store in a process forked after first use).
        """
        store = self.bridge.store
        with self._lock:
            if self._engine is None or self._engine.store is not store:
                secret = self._secret
                if secret is None:
                    if not app.secret_key:
                        raise RuntimeError("ConnectSession needs a secret: set SECRET_KEY or pass secret=")
                    secret = [app.secret_key, *(app.config.get("SECRET_KEY_FALLBACKS") or ())]
                self._engine = SessionEngine(store, secret=secret, **self._options)
            return self._engine

    def open_session(self, app: Flask, request: Request) -> FlaskSession:
        """Read the cookie and load (or make) the request's session."""
        engine = self.engine(app)
        info = RequestInfo(
            cookie_header=request.headers.getlist("Cookie"),
            path=(request.root_path or "") + request.path,
            secure=request.is_secure,
            forwarded_proto=request.headers.get("X-Forwarded-Proto"),
            request=request if engine.uses_request else None,
        )
        sessions = self.bridge.run(engine.open(info))
        return FlaskSession(sessions, self.bridge, app.permanent_session_lifetime.total_seconds())

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        """Let the engine destroy, save or touch the session, and add its ``Set-Cookie``."""
        if not isinstance(session, FlaskSession) or session._committed:
            return  # the session failed to open, or an error handler's second pass
        session._committed = True
        if session.accessed:
            response.vary.add("Cookie")
        for value in self.bridge.run(session._sessions.commit()):
            response.headers.add("Set-Cookie", value)

    def close(self) -> None:
        """Close the bridge (and the store) if this interface made it."""
        if self._owns_bridge:
            self.bridge.close()


class ConnectSession(ConnectSessionInterface):
    """One-line setup: ``ConnectSession(app, store, **options)`` (or ``ConnectSession(None,
    store, ...)`` then :meth:`init_app`). The options are :class:`ConnectSessionInterface`'s.
    """

    def __init__(self, app: Flask | None, store: StoreSource, **options: Any) -> None:
        super().__init__(store, **options)
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        """Make this the app's session interface (the engine is made on the first request)."""
        app.session_interface = self
        app.extensions["connectstore"] = self


def current_session() -> FlaskSession:
    """``flask.session`` typed as :class:`FlaskSession` (for type checkers), in a request
    served by :class:`ConnectSession`.
    """
    session = flask_session._get_current_object()  # type: ignore[attr-defined]
    if not isinstance(session, FlaskSession):
        raise RuntimeError("flask.session is not a connectstore session: install ConnectSession first")
    return session
