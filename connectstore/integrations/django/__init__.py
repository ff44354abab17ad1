"""Django integration: sessions in any connectstore store, in express-session's shape.

Two ways to use it, both configured by the ``CONNECTSTORE`` setting:

1. **Session engine** (``SESSION_ENGINE = "connectstore.integrations.django"``), with
   Django's own ``SessionMiddleware``: :class:`SessionStore` keeps each session in the
   store as ``{"cookie": {...}, **data}`` with the expiry of ``get_expiry_age()``, so an
   Express app reading the same store sees a normal session. Django keeps its own cookie
   (``sessionid``, whose value is the bare session key): the data is shared, the cookie
   is not.
2. **express-session middleware** (replace Django's ``SessionMiddleware`` by
   :class:`ConnectSessionMiddleware`, a subclass of it): the request's session comes from
   :class:`~connectstore.SessionEngine`, with the ``connect.sid`` signed cookie and
   express-session's rules, so a Django service and an Express app share one session
   (a login included) through one cookie. ``request.session`` keeps Django's API
   (``django.contrib.auth``, the admin, messages and CSRF work); ``cycle_key()`` and
   ``flush()`` become express's ``regenerate()``. Set
   ``SESSION_ENGINE = "connectstore.integrations.django.express"`` and
   ``SESSION_COOKIE_NAME = "connect.sid"`` too, so that what Django does outside the
   middleware (its test ``Client``'s ``login()``, ``force_login()`` and ``session``)
   reaches the same sessions through the signed cookie (:class:`ExpressSessionStore`).

Settings::

    CONNECTSTORE = {
        "store": "redis://127.0.0.1:6379/0",  # a store URL (connectstore.open_store), the dotted
                                              # path of a factory, a factory, a Store or a BlockingStore
                                              # (connectstore.integrations.store_source)
        "store_options": {},   # keyword arguments for open_store() or the factory
        "timeout": 30.0,       # seconds any store call may take (the sync bridge's bound)
        # ConnectSessionMiddleware only:
        "secret": None,        # default: [SECRET_KEY, *SECRET_KEY_FALLBACKS]
        "session": {},         # SessionEngine options: name, resave, save_uninitialized, rolling,
                               # genid, cookie, trust_proxy, store_timeout, on_store_error,
                               # on_conflict
    }

The store lives on the loop of one process-wide :class:`~connectstore.BlockingStore`
(made on first use, closed by :func:`close_bridge` or when the setting changes); a
factory is called on that loop. A ``BlockingStore`` given as ``"store"`` is used as is and
never closed here. The async methods (``aload``, ``asave``... of Django >= 5.1) await the
bridge's loop without blocking the caller's.

Concurrency: on a store with the conditional writes (``create``, ``get_versioned``,
``set_if``; every bundled store has them) ``save(must_create=True)`` is an atomic "create if
absent" (of concurrent saves of one key exactly one succeeds, the others raise
:class:`CreateError`) and ``save()`` writes only over the session it has just read, so a
logout landing meanwhile is never undone (:class:`UpdateError`); on a store without them
both check, then write. Under ``ConnectSessionMiddleware`` the engine's ``on_conflict``
(``"session"`` options) decides what concurrent requests of one session keep.
``clear_expired()`` does nothing (stores expire sessions themselves).

Modules: ``bridge`` (the process's store and engine), ``backend`` (:class:`SessionStore`),
``middleware`` (:class:`ConnectSessionMiddleware`, :class:`EngineSession`), ``express``
(the express-mode ``SESSION_ENGINE``, :class:`ExpressSessionStore`).
"""

from __future__ import annotations

from connectstore.integrations.django.backend import CreateError, SessionStore, UpdateError
from connectstore.integrations.django.bridge import close_bridge, get_bridge, get_engine
from connectstore.integrations.django.express import ExpressSessionStore
from connectstore.integrations.django.middleware import ConnectSessionMiddleware, EngineSession, ExpressCookie

__all__ = [
    "ConnectSessionMiddleware",
    "CreateError",
    "EngineSession",
    "ExpressCookie",
    "ExpressSessionStore",
    "SessionStore",
    "UpdateError",
    "close_bridge",
    "get_bridge",
    "get_engine",
]
